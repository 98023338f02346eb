"""Operations: the organisation's list (filters, pages), detail with live progress and the agent's
trace (each model request: what it saw, what it chose, what happened), cancel."""

import asyncio
import json
from typing import Any

from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts.roles import role_required
from dashboard.audit.log import audit
from dashboard.bctrl import operations as api
from dashboard.bctrl.errors import BctrlError
from dashboard.bctrl.workspaces import Workspace, get_workspace, list_workspaces
from dashboard.pages import HtmxHttpRequest, chosen, error_status, failure, render_page, settle, with_toast

PAGE_SIZE = 25


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def operation_list(request: HtmxHttpRequest) -> HttpResponse:
    status = chosen(request, "status", api.STATUSES)
    workspace_id = request.GET.get("workspace", "").strip()
    cursor = request.GET.get("cursor") or None
    operations, workspaces = await asyncio.gather(
        settle(api.list_operations(workspace_id or None, status or None, cursor, PAGE_SIZE)),
        settle(list_workspaces(limit=200)),
    )
    # The workspace filter falls back to a text box when the workspace list cannot be loaded.
    known = [] if isinstance(workspaces, BctrlError) else workspaces.items
    context: dict[str, Any] = {
        "status": status,
        "workspace_id": workspace_id,
        "cursor": cursor,
        "statuses": api.STATUSES,
        "workspaces": known,
    }
    if isinstance(operations, BctrlError):
        context["error"] = operations
    else:
        names = {w.id: w.name for w in known}
        context["page"] = operations
        context["rows"] = [(o, names.get(o.workspace_id, "")) for o in operations.items]
    return render_page(request, "front/operations/list.html", context, region="operation_table")


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def operation_detail(request: HtmxHttpRequest, operation_id: str) -> HttpResponse:
    operation, trace = await asyncio.gather(
        settle(api.get_operation(str(operation_id))), settle(api.get_operation_trace(str(operation_id)))
    )
    if isinstance(operation, BctrlError):
        context = {"error": operation, "operation_id": operation_id}
        return render_page(
            request, "front/operations/detail.html", context, region="status", status=error_status(operation)
        )
    context = _context(operation, trace)
    if not request.htmx:  # the page head names the workspace; the 2 s status refresh does not need it
        workspace = await settle(get_workspace(operation.workspace_id))
        context["workspace"] = workspace if isinstance(workspace, Workspace) else None
    return render_page(request, "front/operations/detail.html", context, region="status")


@require_POST
@role_required("operator")
async def operation_cancel(request: HtmxHttpRequest, operation_id: str) -> HttpResponse:
    htmx = request.htmx
    try:
        operation = await api.cancel_operation(str(operation_id))
    except BctrlError as error:
        await audit(request, "operation.cancel", str(operation_id), error=error)
        if not htmx:
            return redirect("operation_detail", operation_id)
        current: Any
        try:
            current = _context(
                await api.get_operation(str(operation_id)),
                await settle(api.get_operation_trace(str(operation_id))),
            )
        except BctrlError:
            current = {"operation_id": operation_id}
        context = {**current, "cancel_error": error}
        response = render_page(
            request, "front/operations/detail.html", context, region="status", status=error_status(error)
        )
        return await with_toast(response, request, f"Could not cancel: {error.user_message}", "error")
    else:
        await audit(request, "operation.cancel", operation.id, message=operation.status)
        if not htmx:
            return redirect("operation_detail", operation_id)
        trace = await settle(api.get_operation_trace(str(operation_id)))
        response = render_page(
            request, "front/operations/detail.html", _context(operation, trace), region="status"
        )
        return await with_toast(
            response,
            request,
            f"Cancelling operation {operation.call}."
            if not operation.finished
            else f"Operation {operation.status}.",
        )


def _context(
    operation: api.Operation, trace: list[api.TraceEntry] | BctrlError | None = None
) -> dict[str, Any]:
    def pretty(value: Any) -> str:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str) if value is not None else ""

    return {
        "operation": operation,
        # A trace that cannot be loaded is a state of its own panel; the operation still shows.
        "trace": None if isinstance(trace, BctrlError) or trace is None else [(e, _calls(e)) for e in trace],
        "trace_error": failure(trace),
        "operation_id": operation.id,
        "result_json": pretty(operation.result),
        "error_details_json": pretty(operation.error.details)
        if operation.error and operation.error.details
        else "",
    }


def _calls(entry: api.TraceEntry) -> str:
    """The model's decision as one line: `click(element="e7")`."""
    return "; ".join(
        f"{call.get('name')}("
        + ", ".join(
            f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in (call.get("arguments") or {}).items()
        )
        + ")"
        for call in entry.tool_calls
    )


urlpatterns = [
    path("operations/", operation_list, name="operations"),
    path("operations/<uuid:operation_id>/", operation_detail, name="operation_detail"),
    path("operations/<uuid:operation_id>/cancel/", operation_cancel, name="operation_cancel"),
]
