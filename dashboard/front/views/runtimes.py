"""Runtimes: a workspace's list, launch, detail (summary, bindings, stop), the step runner and events."""

import asyncio
import base64
import json
from dataclasses import dataclass
from typing import Any, TypeVar

from django import forms
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts.roles import role_required
from dashboard.audit.log import record
from dashboard.bctrl import events as events_api
from dashboard.bctrl import execute as execute_api
from dashboard.bctrl import runtimes as api
from dashboard.bctrl.artifacts import Artifact
from dashboard.bctrl.errors import BctrlError
from dashboard.bctrl.workspaces import get_workspace
from dashboard.front.forms.runtimes import (
    RuntimeLaunchForm,
    StepRow,
    StepsJsonForm,
    fresh_key,
    step_rows,
    steps_from_rows,
)
from dashboard.pages import HtmxHttpRequest, error_status, render_page, settle, with_toast

PAGE_SIZE = 25
EVENT_PAGE_SIZE = 50
T = TypeVar("T")


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
    context: dict[str, Any] = {
        "workspace_id": workspace_id,
        "status": status,
        "cursor": cursor,
        "statuses": api.STATUSES,
    }
    try:
        context["page"] = await api.list_runtimes(
            workspace_id, status=status or None, cursor=cursor, limit=PAGE_SIZE
        )
    except BctrlError as error:
        context["error"] = error
    return render_page(request, "front/runtimes/list.html", context, region="runtime_table")


# --- launch -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@role_required("operator")
async def runtime_launch(request: HtmxHttpRequest, workspace_id: str) -> HttpResponse:
    workspace, profiles, extensions = await asyncio.gather(
        settle(get_workspace(str(workspace_id))),
        settle(api.profile_choices()),
        settle(api.extension_choices()),
    )
    if isinstance(workspace, BctrlError):
        return render_page(
            request, "front/runtimes/launch.html", {"error": workspace}, status=error_status(workspace)
        )
    form = RuntimeLaunchForm(request.POST or None, profiles=_ok(profiles), extensions=_ok(extensions))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            runtime = await api.launch_runtime(
                str(workspace_id),
                alias=data["alias"],
                driver=data["driver"],
                launch=data["launch"],
                mounts=data["mounts_json"],
                idempotency_key=data["idempotency_key"],
            )
        except BctrlError as error:
            await record(request, "runtime.launch", "runtime", f"{workspace_id}/{data['alias']}", error=error)
            form.add_upstream_error(error)
        else:
            await record(
                request, "runtime.launch", "runtime", f"{workspace_id}/{runtime.alias}", message=runtime.id
            )
            url = reverse("runtime_detail", args=[workspace_id, runtime.alias])
            if request.htmx:
                response = HttpResponse(status=204)
                response["HX-Redirect"] = url
                return response
            return redirect(url)
    context = {
        "workspace": workspace,
        "form": form,
        "profiles_error": _err(profiles),
        "extensions_error": _err(extensions),
    }
    return render_page(
        request,
        "front/runtimes/launch.html",
        context,
        region="launch_form",
        status=422 if form.errors else 200,
    )


# --- detail -----------------------------------------------------------------------------------


@require_GET
@role_required("viewer")
async def runtime_detail(request: HtmxHttpRequest, workspace_id: str, alias: str) -> HttpResponse:
    ws = str(workspace_id)
    runtime, state, workspace, catalogue, events = await asyncio.gather(
        settle(api.get_runtime(ws, alias)),
        settle(api.get_state(ws)),
        settle(get_workspace(ws)),
        settle(execute_api.get_help(ws, runtime=alias)),
        settle(_event_page(ws, alias, request)),
    )
    if isinstance(runtime, BctrlError):
        context = {"error": runtime, "workspace_id": workspace_id, "alias": alias}
        return render_page(request, "front/runtimes/detail.html", context, status=error_status(runtime))
    state_runtime = _ok(state) and state.runtime(alias)
    rows_wanted = _int(request.GET.get("rows"), 1, 1, 20)
    help_ = _ok(catalogue)
    context = {
        "workspace_id": workspace_id,
        "alias": alias,
        **_summary(runtime),
        "workspace": _ok(workspace),
        "bindings": state_runtime.bindings if state_runtime and state_runtime.active else [],
        "state_error": _err(state),
        "help": help_,
        "help_error": _err(catalogue),
        "rows": [StepRow(i, None, []) for i in range(rows_wanted)],
        "next_row": rows_wanted,
        "builder_key": fresh_key(),
        "json_form": StepsJsonForm(),
        **_event_context(request, events),
    }
    return render_page(request, "front/runtimes/detail.html", context)


def _int(raw: str | None, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(raw or default)))
    except ValueError:
        return default


# --- stop -------------------------------------------------------------------------------------


@require_POST
@role_required("operator")
async def runtime_stop(request: HtmxHttpRequest, workspace_id: str, alias: str) -> HttpResponse:
    target = f"{workspace_id}/{alias}"
    htmx = request.htmx
    try:
        runtime = await api.stop_runtime(str(workspace_id), alias)
    except BctrlError as error:
        await record(request, "runtime.stop", "runtime", target, error=error)
        if not htmx:
            return redirect("runtime_detail", workspace_id, alias)
        current = await settle(api.get_runtime(str(workspace_id), alias))
        context = {
            "workspace_id": workspace_id,
            "alias": alias,
            "stop_error": error,
            **_summary(_ok(current)),
        }
        response = render_page(
            request, "front/runtimes/detail.html", context, region="summary", status=error_status(error)
        )
        return await with_toast(response, request, f"Could not stop {alias}: {error.user_message}", "error")
    else:
        await record(request, "runtime.stop", "runtime", target, message=runtime.id)
        if not htmx:
            return redirect("runtime_detail", workspace_id, alias)
        context = {"workspace_id": workspace_id, "alias": alias, **_summary(runtime)}
        response = render_page(request, "front/runtimes/detail.html", context, region="summary")
        return await with_toast(response, request, f"Runtime {alias} stopped.")


def _summary(runtime: api.Runtime | None) -> dict[str, Any]:
    """The summary region's context; a proxy password is never shown, even if the API echoed one."""
    if runtime is None:
        return {"runtime": None, "config_json": ""}
    config = dict(runtime.config)
    if isinstance(config.get("proxy"), dict) and config["proxy"].get("password"):
        config["proxy"] = {**config["proxy"], "password": "••••••"}
    return {
        "runtime": runtime,
        "config_json": json.dumps(config, indent=2, ensure_ascii=False) if config else "",
    }


# --- step runner ------------------------------------------------------------------------------


@require_GET
@role_required("operator")
async def runtime_step_row(request: HtmxHttpRequest, workspace_id: str, alias: str) -> HttpResponse:
    """One builder row: blank (Add step), or with argument inputs once a call is chosen."""
    index = _int(request.GET.get("row"), 0, 0, 10_000)
    try:
        catalogue = await execute_api.get_help(str(workspace_id), runtime=alias)
    except BctrlError as error:
        context = {"workspace_id": workspace_id, "alias": alias, "help_error": error, "help": None}
        return render_page(request, "front/runtimes/detail.html", context, region="step_row_error")
    rows = step_rows(request.GET, {c.name: c for c in catalogue.calls})
    row = next((r for r in rows if r.index == index), StepRow(index, None, []))
    context = {
        "workspace_id": workspace_id,
        "alias": alias,
        "help": catalogue,
        "row": row,
        "next_row": index + 1,
        "adding": "add" in request.GET,
    }
    return render_page(request, "front/runtimes/detail.html", context, region="step_row")


@require_POST
@role_required("operator")
async def runtime_execute(request: HtmxHttpRequest, workspace_id: str, alias: str) -> HttpResponse:
    source = request.POST.get("source", "builder")
    context: dict[str, Any] = {"workspace_id": workspace_id, "alias": alias, "source": source}
    try:
        steps, key = await _steps_from_request(request, str(workspace_id), alias)
    except forms.ValidationError as invalid:
        context["invalid"] = invalid.messages
        return render_page(request, "front/runtimes/detail.html", context, region="step_results", status=422)
    except BctrlError as error:
        context["run_error"] = error
        return render_page(
            request, "front/runtimes/detail.html", context, region="step_results", status=error_status(error)
        )
    try:
        result = await execute_api.execute(str(workspace_id), alias, steps, idempotency_key=key)
    except BctrlError as error:
        await record(request, "runtime.execute", "runtime", f"{workspace_id}/{alias}", error=error)
        context.update(run_error=error, new_key=fresh_key())
        response = render_page(
            request, "front/runtimes/detail.html", context, region="step_results", status=error_status(error)
        )
        return await with_toast(response, request, "The steps were not run.", "error")
    else:
        calls = ", ".join(s["call"] for s in steps)[:300]
        await record(
            request,
            "runtime.execute",
            "runtime",
            f"{workspace_id}/{alias}",
            message=f"{result.status}: {calls}",
        )
        context.update(result=result, step_views=[_step_view(s) for s in result.steps], new_key=fresh_key())
        response = render_page(request, "front/runtimes/detail.html", context, region="step_results")
        if result.status == "succeeded":
            return await with_toast(response, request, f"{len(result.steps)} step(s) succeeded.")
        return await with_toast(response, request, "A step failed; the rest were not run.", "error")


async def _steps_from_request(
    request: HtmxHttpRequest, workspace_id: str, alias: str
) -> tuple[list[dict[str, Any]], str]:
    if request.POST.get("source") == "json":
        form = StepsJsonForm(request.POST)
        if not form.is_valid():
            raise forms.ValidationError([e for errors in form.errors.values() for e in errors])
        return form.cleaned_data["steps_json"], form.cleaned_data["idempotency_key"]
    # Builder rows carry their arg types with them, so the catalogue is not fetched again here.
    rows = step_rows(request.POST, {})
    return steps_from_rows(rows, request.POST), request.POST.get("idempotency_key") or fresh_key()


@dataclass(frozen=True)
class StepView:
    """A step result as the runner shows it: pretty JSON, and an image when it made one."""

    step: execute_api.StepResult
    pretty: str
    artifact: Artifact | None
    image_src: str | None


def _step_view(step: execute_api.StepResult) -> StepView:
    result = step.result
    artifact = Artifact.in_result(result)
    image_src = None
    if artifact and artifact.is_image:
        image_src = reverse("artifact_content", args=[artifact.id])
    elif isinstance(result, dict):
        image_src = _data_url(result)
    pretty = json.dumps(result, indent=2, ensure_ascii=False, default=str) if result is not None else ""
    if len(pretty) > 20_000:
        pretty = pretty[:20_000] + "\n… (cut: the result is longer than the console shows)"
    return StepView(step, pretty, artifact, image_src)


def _data_url(result: dict[str, Any]) -> str | None:
    """A base64 image in a result (some drivers return one instead of an artifact), as a data: URL."""
    data = result.get("base64") or result.get("data")
    content_type = result.get("contentType") or result.get("mimeType") or "image/png"
    if not isinstance(data, str) or not content_type.startswith("image/"):
        return None
    try:
        base64.b64decode(data, validate=True)
    except ValueError:
        return None
    return f"data:{content_type};base64,{data}"


# --- events -----------------------------------------------------------------------------------


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def runtime_events(request: HtmxHttpRequest, workspace_id: str, alias: str) -> HttpResponse:
    ws = str(workspace_id)
    runtime, events = await asyncio.gather(
        settle(api.get_runtime(ws, alias)), settle(_event_page(ws, alias, request))
    )
    context = {
        "workspace_id": workspace_id,
        "alias": alias,
        "runtime": _ok(runtime),
        **_event_context(request, events),
    }
    if not request.htmx:
        return redirect(
            f"{reverse('runtime_detail', args=[workspace_id, alias])}?{request.GET.urlencode()}#events"
        )
    return render_page(request, "front/runtimes/detail.html", context, region="events")


def _event_types(request: HtmxHttpRequest) -> list[str]:
    return [t for t in request.GET.getlist("type") if t in events_api.EVENT_TYPES]


async def _event_page(workspace_id: str, alias: str, request: HtmxHttpRequest) -> Any:
    return await events_api.list_events(
        workspace_id,
        alias,
        _event_types(request),
        cursor=request.GET.get("cursor") or None,
        limit=EVENT_PAGE_SIZE,
    )


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
        "workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/steps/row/",
        runtime_step_row,
        name="runtime_step_row",
    ),
    path(
        "workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/execute/",
        runtime_execute,
        name="runtime_execute",
    ),
    path(
        "workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/events/", runtime_events, name="runtime_events"
    ),
]
