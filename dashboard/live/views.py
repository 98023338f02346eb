"""Live pages and regions: the updates feed, and the runtime page's live view, control and inspector.

The runtime page (front/runtimes) includes `live/runtime.html`, whose regions load from here
lazily, so the page itself renders as fast as before and a live part that fails fails alone.
"""

import json
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts.roles import has_role, role_of, role_required
from dashboard.audit.log import record
from dashboard.bctrl import embeds as embeds_api
from dashboard.bctrl import events as events_api
from dashboard.bctrl import runtimes as runtimes_api
from dashboard.bctrl import updates as updates_api
from dashboard.bctrl.errors import BctrlError
from dashboard.bctrl.workspaces import Workspace, get_workspace
from dashboard.live import fragments, har, relay
from dashboard.live.inspector import Requests, control_group
from dashboard.pages import HtmxHttpRequest, error_status, render_page, settle, with_toast

FEED_SIZE = 50
INSPECTOR_ROWS = 500  # the newest events the inspector opens with
INSPECTOR_PAGES = 20  # of 500: how far back the inspector reads to find the newest events
REFRESH_SHARE = 0.8  # a live view's token is renewed once this share of its life has passed
CONTROL_TTL_SECONDS = 8 * 3600


# --- the updates feed -----------------------------------------------------------------------


@vary_on_headers("HX-Request")
@require_GET
@role_required("viewer")
async def live_feed(request: HtmxHttpRequest) -> HttpResponse:
    """The organisation's updates as they happen: the newest first, type filters and pause."""
    context: dict[str, Any] = {"relay": relay.current_state(), "families": FAMILIES}
    if request.GET.get("region") == "relay":
        return render_page(request, "live/feed.html", context, region="relay_state")
    newest = relay.last_relayed_id()
    try:
        if newest is None:
            newest = await updates_api.newest_update_id()
        recent, _ = await updates_api.list_updates(max(0, newest - FEED_SIZE), limit=FEED_SIZE)
    except BctrlError as error:
        context["error"] = error
    else:
        role = await _role(await request.auser())
        context["recent"] = [
            {"update": u, "family": u.family} for u in reversed(recent) if fragments.visible(u, role)
        ]
    return render_page(request, "live/feed.html", context)


# the families the feed filters by, in the operator's words
FAMILIES = (
    ("runtime", "Runtimes"),
    ("operation", "Operations"),
    ("workspace", "Workspaces"),
    ("browser_profile", "Profiles"),
    ("browser_extension", "Extensions"),
    ("vault", "Vault"),
    ("ai_credential", "AI credentials"),
    ("storage", "Storage"),
    ("artifact", "Artifacts"),
)


# --- live view, recording and control -------------------------------------------------------


def _control_key(workspace_id: str, alias: str) -> str:
    return f"live.control.{workspace_id}.{alias}"


@require_GET
@role_required("viewer")
async def runtime_live(request: HtmxHttpRequest, workspace_id: str, alias: str) -> HttpResponse:
    """The live view region: a view-only iframe, an interactive one for whoever holds control, or
    the recording once the runtime has ended. Each viewer gets a token of their own."""
    return await _live_region(request, str(workspace_id), alias, request.GET.get("control") == "1")


async def _live_region(request: HtmxHttpRequest, ws: str, alias: str, wants_control: bool) -> HttpResponse:
    user = await request.auser()
    holder = await cache.aget(_control_key(ws, alias))
    interactive = (
        wants_control and await _can_operate(user) and bool(holder) and holder.get("user_id") == user.pk  # type: ignore[union-attr]
    )
    context: dict[str, Any] = {
        "workspace_id": ws,
        "alias": alias,
        "holder": holder,
        "interactive": interactive,
    }
    runtime = await settle(runtimes_api.get_runtime(ws, alias))
    if isinstance(runtime, BctrlError):
        context["error"] = runtime
        return render_page(
            request, "live/runtime.html", context, region="live_view", status=error_status(runtime)
        )
    context["runtime"] = runtime
    if runtime.active:
        embed = await settle(embeds_api.live_view(ws, alias, interactive=interactive))
    else:
        embed = await settle(embeds_api.recording(ws, alias))
    if isinstance(embed, BctrlError):
        context["embed_error"] = embed
    else:
        context["embed"] = embed
        context["refresh_seconds"] = _refresh_seconds(embed)
    return render_page(request, "live/runtime.html", context, region="live_view")


def _refresh_seconds(embed: embeds_api.Embed) -> int:
    """When to mint a new token: well before this one expires (never more often than every 30 s)."""
    if embed.expires_at is None:
        return 600
    left = (embed.expires_at - datetime.now(UTC)).total_seconds()
    return max(30, int(left * REFRESH_SHARE))


async def _can_operate(user: Any) -> bool:
    return bool(await sync_to_async(has_role)(user, "operator"))


async def _role(user: Any) -> str:
    return await sync_to_async(role_of)(user) or "viewer"


async def _runtime_name(workspace_id: str, alias: str) -> str:
    """`Workspace name / alias` for the audit log (the alias alone when the name cannot be read)."""
    workspace = await settle(get_workspace(workspace_id))
    return f"{workspace.name} / {alias}" if isinstance(workspace, Workspace) else alias


@require_POST
@role_required("operator")
async def runtime_control(request: HtmxHttpRequest, workspace_id: str, alias: str) -> HttpResponse:
    """Take or release control of a runtime's browser: audited, and shown to everyone on its page."""
    ws, action = str(workspace_id), request.POST.get("action", "")
    user = await request.auser()
    key = _control_key(ws, alias)
    holder = await cache.aget(key)
    target = f"{ws}/{alias}"
    if action == "take":
        taken_from = holder.get("username") if holder and holder.get("user_id") != user.pk else ""
        holder = {"user_id": user.pk, "username": user.get_username(), "since": timezone.now().isoformat()}
        await cache.aset(key, holder, CONTROL_TTL_SECONDS)
        note = f"took control from {taken_from}" if taken_from else "took control"
        name = await _runtime_name(ws, alias)
        await record(request, "runtime.control.take", "runtime", target, target_name=name, message=note)
        text = f"You have control of {alias}: your mouse and keyboard reach its browser."
    elif action == "release":
        if holder and holder.get("user_id") != user.pk and await _role(user) != "admin":
            response = await _live_region(request, ws, alias, wants_control=False)
            return await with_toast(response, request, f"{holder['username']} has control, not you.", "error")
        await cache.adelete(key)
        name = await _runtime_name(ws, alias)
        message = "released control"
        await record(request, "runtime.control.release", "runtime", target, target_name=name, message=message)
        holder = None
        text = f"You released control of {alias}: the view is view-only again."
    else:
        return HttpResponse("Say action=take or action=release.", status=400)
    await _tell_the_page(ws, alias, holder)
    response = await _live_region(request, ws, alias, wants_control=action == "take")
    return await with_toast(response, request, text)


async def _tell_the_page(workspace_id: str, alias: str, holder: dict[str, Any] | None) -> None:
    """Everyone watching this runtime, in every console process, sees who has control now."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    html = render_to_string("live/runtime.html#control_state", {"holder": holder, "live": True})
    await layer.group_send(control_group(workspace_id, alias), {"type": "live.control", "html": html})


# --- the inspector --------------------------------------------------------------------------


@require_GET
@role_required("viewer")
async def runtime_inspector(request: HtmxHttpRequest, workspace_id: str, alias: str) -> HttpResponse:
    """The inspector's opening state: the newest events; its socket streams the rest."""
    ws = str(workspace_id)
    context: dict[str, Any] = {
        "workspace_id": ws,
        "alias": alias,
        "event_types": events_api.EVENT_TYPES,
        "after": 0,
    }
    try:
        events, older = await _newest_events(ws, alias)
    except BctrlError as error:
        context["events_error"] = error
    else:
        requests = Requests()
        network = [requests.merge(e) for e in events if e.family == "network"]
        unique = {r["request_id"]: r for r in network}
        context.update(
            events=events,
            older=older,
            requests=list(unique.values()),
            after=events[-1].sequence if events else 0,
        )
    return render_page(request, "live/inspector.html#panel", context)


async def _newest_events(workspace_id: str, alias: str) -> tuple[list[events_api.Event], bool]:
    """The newest INSPECTOR_ROWS events (the list call reads oldest first), and whether older ones exist."""
    events: list[events_api.Event] = []
    cursor: str | None = None
    for _ in range(INSPECTOR_PAGES):
        page = await events_api.list_events(workspace_id, alias, cursor=cursor, limit=500)
        events.extend(page.items)
        events = events[-INSPECTOR_ROWS:]
        cursor = page.next_cursor
        if cursor is None:
            break
    return events, bool(events and (events[0].sequence or 0) > 1)


@require_GET
@role_required("viewer")
async def runtime_har(request: HtmxHttpRequest, workspace_id: str, alias: str) -> HttpResponse:
    """The runtime's network events as a HAR 1.2 file (opens in Chrome DevTools' Network panel)."""
    ws = str(workspace_id)
    try:
        runtime = await runtimes_api.get_runtime(ws, alias)
        events: list[events_api.Event] = []
        cursor: str | None = None
        for _ in range(har.MAX_PAGES):
            page = await events_api.list_events(
                ws, alias, ["network.request", "network.response", "network.failed"], cursor=cursor, limit=500
            )
            events.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
    except BctrlError as error:
        return HttpResponse(error.user_message, status=error_status(error), content_type="text/plain")
    document = har.build(runtime, events)
    response = HttpResponse(json.dumps(document, indent=1), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{alias}-{runtime.id[:8]}.har"'
    return response


urlpatterns = [
    path("live/", live_feed, name="live_feed"),
    path("workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/live/", runtime_live, name="runtime_live"),
    path(
        "workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/control/",
        runtime_control,
        name="runtime_control",
    ),
    path(
        "workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/inspector/",
        runtime_inspector,
        name="runtime_inspector",
    ),
    path("workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/har/", runtime_har, name="runtime_har"),
]
