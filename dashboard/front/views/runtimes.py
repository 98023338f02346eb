"""Runtimes: a workspace's list, launch (and relaunch), one run's page, stop.

Every run has its own page, by id (`run_detail`), an inspector whether the run is active or
ended: the live view or the recording beside the run's timeline (dashboard/live/runs.py loads
them after the page), the step runner while it is active (`steps.py`), its summary, config and
other runs folded below. The alias page (`runtime_detail`) is its newest run's page (what the
API's alias routes mean) and links to the older ones.

By-id calls are this engine's own routes: against an API without them a run page says so, and
the alias page still shows the newest run (its timeline, live view or recording) through the
public alias routes.
"""

import asyncio
import json
import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts.roles import has_role_async, role_required
from dashboard.audit.log import audit
from dashboard.bctrl import execute as execute_api
from dashboard.bctrl import profiles as profiles_api
from dashboard.bctrl import runtimes as api
from dashboard.bctrl.errors import BctrlError, Unavailable
from dashboard.bctrl.workspaces import Workspace, get_workspace
from dashboard.front.forms.runtimes import (
    RuntimeLaunchForm,
    fresh_key,
    launch_initial,
    parse_metadata,
)
from dashboard.front.forms.steps import StepRow, StepsJsonForm
from dashboard.front.models import StepRecipe
from dashboard.pages import (
    HtmxHttpRequest,
    chosen,
    error_status,
    failure,
    redirect_after_form,
    render_form,
    render_page,
    settle,
    settled,
    with_toast,
)

PAGE_SIZE = 25
OTHER_RUNS = 10

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


# --- list -------------------------------------------------------------------------------------


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def runtime_list(request: HtmxHttpRequest, workspace_id: str) -> HttpResponse:
    status = chosen(request, "status", api.STATUSES)
    cursor = request.GET.get("cursor") or None
    labels, label_error = metadata_filter(request)
    page, workspace = await asyncio.gather(
        settle(
            api.list_runtimes(
                str(workspace_id), status=status or None, cursor=cursor, limit=PAGE_SIZE, metadata=labels
            )
        )
        if not label_error
        else _none(),
        settle(get_workspace(str(workspace_id))),
    )
    context: dict[str, Any] = {
        "workspace_id": workspace_id,
        "workspace": settled(workspace),
        "status": status,
        "cursor": cursor,
        "statuses": api.STATUSES,
        "page": settled(page),
        "error": failure(page),
        "metadata": request.GET.get("metadata", ""),
        "metadata_error": label_error,
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
    initial, alias_base = _launch_start(source, profile_id, settled(profiles))
    form = RuntimeLaunchForm(
        request.POST or None,
        initial=initial,
        profiles=settled(profiles),
        extensions=settled(extensions),
        alias_base=alias_base,
    )
    # The form is drawn (with what was typed) whatever failed around it: an unreachable API is a
    # message inside the form region, never a page in its place.
    if request.method == "POST" and form.is_valid():
        workspace_name = workspace.name if isinstance(workspace, Workspace) else ""
        launched = await _launch(request, workspace_id, workspace_name, form)
        if launched is not None:
            return launched
    # An API that cannot be reached fails every call the same way: say it once, at the top.
    down = isinstance(workspace, Unavailable)
    context = {
        "workspace_id": workspace_id,
        "workspace": settled(workspace),
        "workspace_error": None if form.upstream_error else failure(workspace),
        "form": form,
        "relaunch": settled(source) if isinstance(source, api.Runtime) else None,
        "profiles_error": None if down else failure(profiles),
        "extensions_error": None if down else failure(extensions),
    }
    return render_form(request, "front/runtimes/launch.html", context, region="launch_form")


def _launch_start(
    source: api.Runtime | BctrlError | None, profile_id: str, profiles: list[Any] | None
) -> tuple[dict[str, Any], str]:
    """The launch form's initial values and alias stem: a run's config to relaunch, or a profile."""
    if isinstance(source, api.Runtime):
        return launch_initial(source), "browser"
    if profile_id:
        chosen = next((p for p in profiles or [] if p.id == profile_id), None)
        return {"launch_mode": "profile", "profile_id": profile_id}, chosen.name if chosen else "browser"
    return {}, "browser"


async def _launch(
    request: HtmxHttpRequest, workspace_id: str, workspace_name: str, form: RuntimeLaunchForm
) -> HttpResponse | None:
    """Launch what the valid form says and audit it; the runtime's page, or None with the
    refusal added to the form."""
    data = form.cleaned_data
    try:
        runtime = await api.launch_runtime(
            str(workspace_id),
            alias=data["alias"],
            driver=data["driver"],
            launch=data["launch"],
            mounts=data["mounts_json"],
            idempotency_key=data["idempotency_key"],
            metadata=data["metadata_text"],
        )
    except BctrlError as error:
        await audit(
            request,
            "runtime.launch",
            f"{workspace_id}/{data['alias']}",
            target_name=_runtime_name(workspace_name, data["alias"]),
            error=error,
        )
        form.add_upstream_error(error)
        return None
    await audit(
        request, "runtime.launch", runtime.id, target_name=_runtime_name(workspace_name, runtime.alias)
    )
    messages.success(request, f"Runtime {runtime.alias} is running.")
    return redirect_after_form(request, reverse("runtime_detail", args=[workspace_id, runtime.alias]))


async def _none() -> None:
    return None


def metadata_filter(request: HtmxHttpRequest) -> tuple[dict[str, str], str]:
    """The list's `metadata` filter (`team=payments env=prod`), or why it is not one."""
    try:
        return parse_metadata(request.GET.get("metadata", "")[:2000], separators=",\\s"), ""
    except forms.ValidationError as invalid:
        return {}, " ".join(invalid.messages)


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
    runtime = await settle(api.get_runtime(ws, alias))
    if isinstance(runtime, BctrlError):
        context = {"error": runtime, "workspace_id": workspace_id, "alias": alias}
        workspace = await settle(get_workspace(ws))
        context["workspace"] = settled(workspace)
        return render_page(request, "front/runtimes/detail.html", context, status=error_status(runtime))
    return await _run_page(request, runtime, newest=True)


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def run_detail(request: HtmxHttpRequest, runtime_id: str) -> HttpResponse:
    """One run by id: an older run of a reused alias keeps its own timeline, recording, config and end."""
    runtime = await settle(api.get_run(str(runtime_id)))
    if isinstance(runtime, BctrlError):
        context = {"error": runtime, "runtime_id": runtime_id}
        return render_page(request, "front/runtimes/detail.html", context, status=error_status(runtime))
    return await _run_page(request, runtime, newest=False)


async def _run_page(request: HtmxHttpRequest, runtime: api.Runtime, newest: bool) -> HttpResponse:
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
    is_newest = newest or newest_id == runtime.id
    state_runtime = settled(state) and state.runtime(runtime.alias)  # type: ignore[union-attr]
    rows_wanted = _int(request.GET.get("rows"), 1, 1, 20)
    recipe = _chosen_recipe(request, recipes)
    context = {
        "workspace_id": ws,
        "alias": runtime.alias,
        **summary_context(runtime),
        "workspace": settled(workspace),
        "profile": settled(profile),
        "is_newest": is_newest,
        "can_operate": can_operate,
        "newest_id": newest_id,
        "other_runs": other_runs,
        "runs_error": failure(runs),
        "bindings": state_runtime.bindings if state_runtime and state_runtime.active else [],
        "state_error": failure(state),
        "help": settled(catalogue),
        "help_error": failure(catalogue),
        "recipes": recipes or [],
        "rows": [StepRow(i, None, []) for i in range(rows_wanted)],
        "next_row": rows_wanted,
        "builder_key": fresh_key(),
        "json_form": StepsJsonForm(initial={"steps_json": recipe.steps_json} if recipe else None),
        "recipe": recipe,
        **_inspector_urls(runtime, by_alias=newest, live=runtime.active and is_newest),
    }
    return render_page(request, "front/runtimes/detail.html", context)


def _inspector_urls(runtime: api.Runtime, by_alias: bool, live: bool) -> dict[str, str]:
    """Where the page's inspector regions load from: the alias page by alias (the public routes
    reach an alias's newest run), a run page by id (this engine's routes reach every run). The live
    view of an active run is by alias either way (only the newest run of an alias can be active)."""
    alias_args, id_args = [runtime.workspace_id, runtime.alias], [runtime.id]
    if by_alias:
        urls = {
            "stage_url": reverse("runtime_live", args=alias_args),
            "timeline_url": reverse("runtime_events", args=alias_args),
            "har_url": reverse("runtime_har", args=alias_args),
        }
    else:
        urls = {
            "stage_url": reverse("run_recording", args=id_args),
            "timeline_url": reverse("run_events", args=id_args),
            "har_url": reverse("run_har", args=id_args),
        }
    if live:
        urls["stage_url"] = reverse("runtime_live", args=alias_args)
    return urls


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
        await audit(request, "runtime.stop", outcome.id, target_name=name)
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
    await audit(request, "runtime.stop", f"{workspace_id}/{alias}", target_name=name, error=error)
    if not request.htmx:
        messages.error(request, f"Could not stop {alias}: {error.user_message}")
        return redirect(page)
    now = settled(await settle(api.get_runtime(ws, alias)))
    context = {
        "workspace_id": workspace_id,
        "alias": alias,
        "stop_error": error,
        "can_operate": True,
        **summary_context(now),
        **(_inspector_urls(now, by_alias=True, live=now.active) if now else {}),
    }
    response = render_page(
        request, "front/runtimes/detail.html", context, region="run_actions", status=error_status(error)
    )
    return await with_toast(response, request, f"Could not stop {alias}: {error.user_message}", "error")


urlpatterns = [
    path("workspaces/<uuid:workspace_id>/runtimes/", runtime_list, name="runtime_list"),
    path("workspaces/<uuid:workspace_id>/launch/", runtime_launch, name="runtime_launch"),
    path("workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/", runtime_detail, name="runtime_detail"),
    path("workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/stop/", runtime_stop, name="runtime_stop"),
    path("runtimes/<uuid:runtime_id>/", run_detail, name="run_detail"),
]
