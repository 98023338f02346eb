"""Runtimes: a workspace's list, launch (and relaunch), one run's page, stop, and its events.

Every run has its own page, by id (`run_detail`): its summary, why it stopped, its config,
events and artifacts. The alias page (`runtime_detail`) shows the alias's newest run (what the
API's alias routes mean) and links to the older ones. Both render one template whose regions
have ids (`runtime-summary`, `runtime-runs`, `runtime-bindings`, `step-runner`, `events-panel`),
so other regions (the live view) can sit beside them. The step runner lives in `steps.py`.

By-id calls are this engine's own routes: against an API without them a run page says so, and
the alias page still shows the newest run (and its events) through the public alias routes.
"""

import asyncio
import json
import uuid
from typing import Any, TypeVar

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts.roles import has_role_async, role_required
from dashboard.audit.log import record
from dashboard.bctrl import events as events_api
from dashboard.bctrl import execute as execute_api
from dashboard.bctrl import profiles as profiles_api
from dashboard.bctrl import runtimes as api
from dashboard.bctrl.errors import BctrlError, Unavailable
from dashboard.bctrl.workspaces import Workspace, get_workspace
from dashboard.front.forms.runtimes import (
    RuntimeLaunchForm,
    StepRow,
    StepsJsonForm,
    fresh_key,
    launch_initial,
)
from dashboard.front.models import StepRecipe
from dashboard.pages import (
    HtmxHttpRequest,
    error_status,
    redirect_after_form,
    render_page,
    settle,
    with_toast,
)

PAGE_SIZE = 25
EVENT_PAGE_SIZE = 50
OTHER_RUNS = 10
T = TypeVar("T")

# Why a run ended, in words (the API's stopReason and failure codes are for machines).
STOP_REASONS = {
    "requested": "Stopped on request (a stop, or its workspace deleted).",
    "idle": "Stopped because it was idle longer than its idle timeout.",
    "engine_shutdown": "Stopped when the engine shut down.",
}


def ended_because(runtime: api.Runtime) -> str:
    if runtime.active:
        return ""
    if runtime.failure:
        return f"Failed: {runtime.failure.message}"
    return STOP_REASONS.get(runtime.stop_reason or "", "Stopped.")


def _ok(value: T | BctrlError) -> T | None:
    return None if isinstance(value, BctrlError) else value


def _err(value: object) -> BctrlError | None:
    return value if isinstance(value, BctrlError) else None


# --- list -------------------------------------------------------------------------------------


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def runtime_list(request: HtmxHttpRequest, workspace_id: str) -> HttpResponse:
    status = request.GET.get("status", "")
    status = status if status in api.STATUSES else ""
    cursor = request.GET.get("cursor") or None
    page, workspace = await asyncio.gather(
        settle(api.list_runtimes(str(workspace_id), status=status or None, cursor=cursor, limit=PAGE_SIZE)),
        settle(get_workspace(str(workspace_id))),
    )
    context: dict[str, Any] = {
        "workspace_id": workspace_id,
        "workspace": _ok(workspace),
        "status": status,
        "cursor": cursor,
        "statuses": api.STATUSES,
        "page": _ok(page),
        "error": _err(page),
    }
    if isinstance(page, api.Page):
        # Newest first: the first row of an alias is its newest run (the alias page); any later
        # row is an older run of a reused alias, reached by its id.
        seen: set[str] = set()
        rows = []
        for runtime in page.items:
            newest = runtime.alias not in seen and not cursor
            seen.add(runtime.alias)
            rows.append((runtime, newest))
        context["rows"] = rows
    return render_page(request, "front/runtimes/list.html", context, region="runtime_table")


# --- launch -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@role_required("operator")
async def runtime_launch(request: HtmxHttpRequest, workspace_id: str) -> HttpResponse:
    """Launch a browser. `?from=<runtime id>` relaunches a run's config; `?profile=<id>` a profile."""
    ws = str(workspace_id)
    source_id, profile_id = request.GET.get("from", ""), request.GET.get("profile", "")
    workspace, profiles, extensions, source = await asyncio.gather(
        settle(get_workspace(ws)),
        settle(api.profile_choices()),
        settle(api.extension_choices()),
        settle(api.get_run(source_id)) if _is_uuid(source_id) else _none(),
    )
    if isinstance(workspace, BctrlError) and workspace.status == 404:
        context = {"error": workspace, "workspace_id": workspace_id}
        return render_page(request, "front/runtimes/launch.html", context, status=404)
    initial: dict[str, Any] = {}
    alias_base = "browser"
    if isinstance(source, api.Runtime):
        initial = launch_initial(source)
    elif profile_id:
        initial = {"launch_mode": "profile", "profile_id": profile_id}
        chosen = next((p for p in _ok(profiles) or [] if p.id == profile_id), None)
        alias_base = chosen.name if chosen else alias_base
    form = RuntimeLaunchForm(
        request.POST or None,
        initial=initial,
        profiles=_ok(profiles),
        extensions=_ok(extensions),
        alias_base=alias_base,
    )
    # The form is drawn (with what was typed) whatever failed around it: an unreachable API is a
    # message inside the form region, never a page in its place.
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        workspace_name = workspace.name if isinstance(workspace, Workspace) else ""
        try:
            runtime = await api.launch_runtime(
                ws,
                alias=data["alias"],
                driver=data["driver"],
                launch=data["launch"],
                mounts=data["mounts_json"],
                idempotency_key=data["idempotency_key"],
            )
        except BctrlError as error:
            await record(
                request,
                "runtime.launch",
                "runtime",
                f"{workspace_id}/{data['alias']}",
                target_name=_runtime_name(workspace_name, data["alias"]),
                error=error,
            )
            form.add_upstream_error(error)
        else:
            await record(
                request,
                "runtime.launch",
                "runtime",
                runtime.id,
                target_name=_runtime_name(workspace_name, runtime.alias),
            )
            messages.success(request, f"Runtime {runtime.alias} is running.")
            return redirect_after_form(request, reverse("runtime_detail", args=[workspace_id, runtime.alias]))
    # An API that cannot be reached fails every call the same way: say it once, at the top.
    down = isinstance(workspace, Unavailable)
    context = {
        "workspace_id": workspace_id,
        "workspace": _ok(workspace),
        "workspace_error": None if form.upstream_error else _err(workspace),
        "form": form,
        "relaunch": _ok(source) if isinstance(source, api.Runtime) else None,
        "profiles_error": None if down else _err(profiles),
        "extensions_error": None if down else _err(extensions),
    }
    return render_page(
        request,
        "front/runtimes/launch.html",
        context,
        region="launch_form",
        status=422 if form.errors else 200,
    )


async def _none() -> None:
    return None


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _runtime_name(workspace_name: str, alias: str) -> str:
    return f"{workspace_name} / {alias}" if workspace_name else alias


# --- one run ----------------------------------------------------------------------------------


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def runtime_detail(request: HtmxHttpRequest, workspace_id: str, alias: str) -> HttpResponse:
    """The alias's newest run (what the API's alias routes act on), with links to the others."""
    ws = str(workspace_id)
    runtime, events = await asyncio.gather(
        settle(api.get_runtime(ws, alias)), settle(_event_page(request, ws, alias=alias))
    )
    if isinstance(runtime, BctrlError):
        context = {"error": runtime, "workspace_id": workspace_id, "alias": alias}
        workspace = await settle(get_workspace(ws))
        context["workspace"] = _ok(workspace)
        return render_page(request, "front/runtimes/detail.html", context, status=error_status(runtime))
    events_url = reverse("runtime_events", args=[workspace_id, alias])
    return await _run_page(request, runtime, events, events_url, newest=True)


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def run_detail(request: HtmxHttpRequest, runtime_id: str) -> HttpResponse:
    """One run by id: an older run of a reused alias keeps its own events, config and end."""
    runtime, events = await asyncio.gather(
        settle(api.get_run(str(runtime_id))), settle(_event_page(request, run_id=str(runtime_id)))
    )
    if isinstance(runtime, BctrlError):
        context = {"error": runtime, "runtime_id": runtime_id}
        return render_page(request, "front/runtimes/detail.html", context, status=error_status(runtime))
    events_url = reverse("run_events", args=[runtime_id])
    return await _run_page(request, runtime, events, events_url, newest=False)


async def _run_page(
    request: HtmxHttpRequest, runtime: api.Runtime, events: Any, events_url: str, newest: bool
) -> HttpResponse:
    ws = runtime.workspace_id
    can_operate = await has_role_async(await request.auser(), "operator")
    runner = runtime.active and can_operate
    workspace, runs, state, catalogue, profile, recipes = await asyncio.gather(
        settle(get_workspace(ws)),
        settle(api.list_every_runtime(workspace_id=ws, alias=runtime.alias, limit=OTHER_RUNS + 1)),
        settle(api.get_state(ws)) if runtime.active else _none(),
        settle(execute_api.get_help(ws, runtime=runtime.alias)) if runner else _none(),
        settle(profiles_api.get_profile(runtime.summary.profile_id))
        if runtime.summary.profile_id
        else _none(),
        _recipes() if runner else _none(),
    )
    every_run = runs.items if isinstance(runs, api.Page) else []
    other_runs = [r for r in every_run if r.id != runtime.id][:OTHER_RUNS]
    newest_id = every_run[0].id if every_run else runtime.id
    state_runtime = _ok(state) and state.runtime(runtime.alias)  # type: ignore[union-attr]
    rows_wanted = _int(request.GET.get("rows"), 1, 1, 20)
    recipe = _chosen_recipe(request, recipes)
    context = {
        "workspace_id": ws,
        "alias": runtime.alias,
        **summary_context(runtime),
        "workspace": _ok(workspace),
        "profile": _ok(profile),
        "is_newest": newest or newest_id == runtime.id,
        "can_operate": can_operate,
        "newest_id": newest_id,
        "other_runs": other_runs,
        "runs_error": _err(runs),
        "bindings": state_runtime.bindings if state_runtime and state_runtime.active else [],
        "state_error": _err(state),
        "help": _ok(catalogue),
        "help_error": _err(catalogue),
        "recipes": recipes or [],
        "rows": [StepRow(i, None, []) for i in range(rows_wanted)],
        "next_row": rows_wanted,
        "builder_key": fresh_key(),
        "json_form": StepsJsonForm(initial={"steps_json": recipe.steps_json} if recipe else None),
        "recipe": recipe,
        "events_url": events_url,
        **_event_context(request, events),
    }
    return render_page(request, "front/runtimes/detail.html", context)


async def _recipes() -> list[StepRecipe]:
    return [recipe async for recipe in StepRecipe.objects.order_by("name")]


def _chosen_recipe(request: HtmxHttpRequest, recipes: list[StepRecipe] | None) -> StepRecipe | None:
    chosen = request.GET.get("recipe", "")
    return next((r for r in recipes or [] if str(r.id) == chosen), None)


def summary_context(runtime: api.Runtime | None) -> dict[str, Any]:
    """The summary region's context; a proxy password is never shown, even if the API echoed one."""
    if runtime is None:
        return {"runtime": None, "config_json": "", "ended_because": ""}
    config = dict(runtime.config)
    if isinstance(config.get("proxy"), dict) and config["proxy"].get("password"):
        config["proxy"] = {**config["proxy"], "password": "••••••"}
    return {
        "runtime": runtime,
        "config_json": json.dumps(config, indent=2, ensure_ascii=False) if config else "",
        "ended_because": ended_because(runtime),
    }


def _int(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(raw or default)))
    except ValueError:
        return default


# --- stop -------------------------------------------------------------------------------------


@require_POST
@role_required("operator")
async def runtime_stop(request: HtmxHttpRequest, workspace_id: str, alias: str) -> HttpResponse:
    ws = str(workspace_id)
    page = reverse("runtime_detail", args=[workspace_id, alias])
    outcome, workspace = await asyncio.gather(settle(api.stop_runtime(ws, alias)), settle(get_workspace(ws)))
    name = _runtime_name(workspace.name if isinstance(workspace, Workspace) else "", alias)
    if isinstance(outcome, api.Runtime):
        await record(request, "runtime.stop", "runtime", outcome.id, target_name=name)
        messages.success(request, f"Runtime {alias} stopped.")
        # The whole page again: a stopped runtime has no step runner, no Stop button, no bindings.
        return redirect_after_form(request, page)
    error = outcome
    if error.code == "runtime.not_active":
        # Already ended (idle, crashed, someone else): nothing to do, and nothing failed.
        current = await settle(api.get_runtime(ws, alias))
        why = ended_because(current) if isinstance(current, api.Runtime) else ""
        messages.info(request, f"Runtime {alias} had already stopped. {why}".strip())
        return redirect_after_form(request, page)
    await record(request, "runtime.stop", "runtime", f"{workspace_id}/{alias}", target_name=name, error=error)
    if not request.htmx:
        messages.error(request, f"Could not stop {alias}: {error.user_message}")
        return redirect(page)
    current = await settle(api.get_runtime(ws, alias))
    context = {
        "workspace_id": workspace_id,
        "alias": alias,
        "stop_error": error,
        **summary_context(_ok(current)),
    }
    response = render_page(
        request, "front/runtimes/detail.html", context, region="summary", status=error_status(error)
    )
    return await with_toast(response, request, f"Could not stop {alias}: {error.user_message}", "error")


# --- events -----------------------------------------------------------------------------------


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def runtime_events(request: HtmxHttpRequest, workspace_id: str, alias: str) -> HttpResponse:
    ws = str(workspace_id)
    runtime, events = await asyncio.gather(
        settle(api.get_runtime(ws, alias)), settle(_event_page(request, ws, alias=alias))
    )
    page = reverse("runtime_detail", args=[workspace_id, alias])
    return _events_region(
        request, _ok(runtime), events, page, reverse("runtime_events", args=[workspace_id, alias])
    )


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def run_events(request: HtmxHttpRequest, runtime_id: str) -> HttpResponse:
    runtime, events = await asyncio.gather(
        settle(api.get_run(str(runtime_id))), settle(_event_page(request, run_id=str(runtime_id)))
    )
    page = reverse("run_detail", args=[runtime_id])
    return _events_region(request, _ok(runtime), events, page, reverse("run_events", args=[runtime_id]))


def _events_region(
    request: HtmxHttpRequest, runtime: api.Runtime | None, events: Any, page: str, events_url: str
) -> HttpResponse:
    if not request.htmx:
        return redirect(f"{page}?{request.GET.urlencode()}#events")
    if runtime and runtime.ended and request.GET.get("live") == "1":
        # The page polled while the runtime was active and it has ended since (idle, crashed,
        # stopped elsewhere): the whole page is drawn again, so it never offers to stop or drive
        # a browser that is gone, and says why it ended.
        messages.info(request, f"Runtime {runtime.alias} has ended. {ended_because(runtime)}")
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    context = {
        "workspace_id": runtime.workspace_id if runtime else "",
        "alias": runtime.alias if runtime else "",
        **summary_context(runtime),
        "events_url": events_url,
        **_event_context(request, events),
    }
    return render_page(request, "front/runtimes/detail.html", context, region="events")


def _event_types(request: HtmxHttpRequest) -> list[str]:
    return [t for t in request.GET.getlist("type") if t in events_api.EVENT_TYPES]


async def _event_page(
    request: HtmxHttpRequest, workspace_id: str = "", alias: str = "", run_id: str = ""
) -> Any:
    cursor = request.GET.get("cursor") or None
    if run_id:
        return await events_api.list_run_events(run_id, _event_types(request), cursor, EVENT_PAGE_SIZE)
    return await events_api.list_events(workspace_id, alias, _event_types(request), cursor, EVENT_PAGE_SIZE)


def _event_context(request: HtmxHttpRequest, events: Any) -> dict[str, Any]:
    selected = _event_types(request)
    return {
        "events": _ok(events),
        "events_error": _err(events),
        "event_types": events_api.EVENT_TYPES,
        "selected_types": selected,
        "cursor": request.GET.get("cursor", ""),
        "type_query": "&".join(f"type={t}" for t in selected),
    }


urlpatterns = [
    path("workspaces/<uuid:workspace_id>/runtimes/", runtime_list, name="runtime_list"),
    path("workspaces/<uuid:workspace_id>/launch/", runtime_launch, name="runtime_launch"),
    path("workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/", runtime_detail, name="runtime_detail"),
    path("workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/stop/", runtime_stop, name="runtime_stop"),
    path(
        "workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/events/", runtime_events, name="runtime_events"
    ),
    path("runtimes/<uuid:runtime_id>/", run_detail, name="run_detail"),
    path("runtimes/<uuid:runtime_id>/events/", run_events, name="run_events"),
]
