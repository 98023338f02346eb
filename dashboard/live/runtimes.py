"""Runtimes across the organisation: every run of every workspace, kept current by the relay, with
bulk stop; and the wall, the active ones as live thumbnails.

Both use the engine's own `GET /v1/runtimes`; an API without it gets "not offered" in place.
"""

import asyncio
from typing import Any

from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import path
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts.roles import role_required
from dashboard.audit.log import record
from dashboard.bctrl import embeds as embeds_api
from dashboard.bctrl import runtimes as api
from dashboard.bctrl.errors import BctrlError
from dashboard.bctrl.workspaces import list_workspaces
from dashboard.front.views.runtimes import metadata_filter
from dashboard.live.fragments import Row
from dashboard.pages import HtmxHttpRequest, chosen, render_page, settle, with_toast

PAGE_SIZE = 50
WALL_SIZE = 48  # active runtimes a wall shows at most
BULK_STOP_MAX = 100


async def _nothing() -> None:
    return None


async def _workspace_names() -> dict[str, str]:
    result = await settle(list_workspaces(limit=500))
    return {} if isinstance(result, BctrlError) else {w.id: w.name for w in result.items}


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def runtimes_all(request: HtmxHttpRequest) -> HttpResponse:
    return await _list(request)


async def _list(request: HtmxHttpRequest) -> HttpResponse:
    """The list (its filters in the query string), whole or as its region."""
    status = chosen(request, "status", api.STATUSES)
    workspace_id = request.GET.get("workspace", "").strip()
    cursor = request.GET.get("cursor") or None
    labels, label_error = metadata_filter(request)
    page, names = await asyncio.gather(
        # a filter that is not one lists nothing: the page says why instead
        _nothing()
        if label_error
        else settle(
            api.list_every_runtime(
                workspace_id=workspace_id or None,
                status=status or None,
                cursor=cursor,
                limit=PAGE_SIZE,
                metadata=labels,
            )
        ),
        _workspace_names(),
    )
    context: dict[str, Any] = {
        "status": status,
        "statuses": api.STATUSES,
        "workspace_id": workspace_id,
        "workspaces": sorted(names.items(), key=lambda item: item[1].casefold()),
        "cursor": cursor,
        "metadata": request.GET.get("metadata", ""),
        "metadata_error": label_error,
    }
    if page is None:
        context["rows"] = []
    elif isinstance(page, BctrlError):
        context["error"] = page
    else:
        context["page"] = page
        context["rows"] = [Row(r, names.get(r.workspace_id, "")) for r in page.items]
    return render_page(request, "live/runtimes.html", context, region="table")


@require_POST
@role_required("operator")
async def runtimes_stop(request: HtmxHttpRequest) -> HttpResponse:
    """Stop the chosen runtimes (`runtime` = workspaceId/alias, repeated), each audited."""
    chosen = [
        value.split("/", 1) for value in request.POST.getlist("runtime")[:BULK_STOP_MAX] if "/" in value
    ]

    async def stop(workspace_id: str, alias: str) -> BctrlError | None:
        target = f"{workspace_id}/{alias}"
        try:
            runtime = await api.stop_runtime(workspace_id, alias)
        except BctrlError as error:
            await record(request, "runtime.stop", "runtime", target, error=error)
            return error
        await record(request, "runtime.stop", "runtime", target, message=f"{runtime.id} (bulk)")
        return None

    results = await asyncio.gather(*(stop(w, a) for w, a in chosen))
    failed = [f"{a}: {e.user_message}" for (_, a), e in zip(chosen, results, strict=True) if e]
    if not request.htmx:
        return redirect("runtimes_all")
    response = await _list(request)
    if not chosen:
        return await with_toast(response, request, "Choose the runtimes to stop first.", "error")
    if failed:
        return await with_toast(
            response,
            request,
            f"{len(chosen) - len(failed)} stopped; not stopped: {'; '.join(failed)}",
            "error",
        )
    return await with_toast(response, request, f"{len(chosen)} runtime(s) stopped.")


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def runtimes_wall(request: HtmxHttpRequest) -> HttpResponse:
    """The active runtimes as thumbnails: view-only, low frame rate, loaded when seen (static/js/live.js)."""
    page, names = await asyncio.gather(
        settle(api.list_every_runtime(status="active", limit=WALL_SIZE)), _workspace_names()
    )
    context: dict[str, Any] = {}
    if isinstance(page, BctrlError):
        context["error"] = page
        return render_page(request, "live/wall.html", context, region="wall")
    embeds = await asyncio.gather(
        *(
            settle(embeds_api.live_view(r.workspace_id, r.alias, thumbnail=True, show_controls=False))
            for r in page.items
        )
    )
    context["tiles"] = [
        {
            "row": Row(runtime, names.get(runtime.workspace_id, "")),
            "embed": embed if not isinstance(embed, BctrlError) else None,
            "error": embed if isinstance(embed, BctrlError) else None,
        }
        for runtime, embed in zip(page.items, embeds, strict=True)
    ]
    context["more"] = page.next_cursor is not None
    return render_page(request, "live/wall.html", context, region="wall")


urlpatterns = [
    path("runtimes/", runtimes_all, name="runtimes_all"),
    path("runtimes/stop/", runtimes_stop, name="runtimes_stop"),
    path("runtimes/wall/", runtimes_wall, name="runtimes_wall"),
]
