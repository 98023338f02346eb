"""Live pages and regions: the updates feed, and the runtime page's live view, control and inspector.

The runtime page (front/runtimes) includes `live/runtime.html`, whose regions load from here
lazily, so the live parts never slow the page itself, and a live part that fails fails alone.
"""

from datetime import UTC, datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpResponse
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts.roles import has_role, role_of, role_required
from dashboard.audit.log import record
from dashboard.bctrl import embeds as embeds_api
from dashboard.bctrl import runtimes as runtimes_api
from dashboard.bctrl import updates as updates_api
from dashboard.bctrl.errors import BctrlError
from dashboard.bctrl.workspaces import Workspace, get_workspace
from dashboard.live import control, fragments, relay
from dashboard.pages import HtmxHttpRequest, error_status, render_page, settle, with_toast

FEED_SIZE = 50
INSPECTOR_ROWS = 500  # the newest events the inspector opens with
INSPECTOR_PAGES = 20  # of 500: how far back the inspector reads to find the newest events
REFRESH_SHARE = 0.8  # a live view's token is renewed once this share of its life has passed


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


@require_GET
@role_required("viewer")
async def runtime_live(request: HtmxHttpRequest, workspace_id: str, alias: str) -> HttpResponse:
    """The live view region: a view-only iframe, an interactive one for whoever holds control, or
    the recording once the runtime has ended. Each viewer gets a token of their own."""
    return await _live_region(request, str(workspace_id), alias, request.GET.get("control") == "1")


async def _live_region(
    request: HtmxHttpRequest,
    ws: str,
    alias: str,
    wants_control: bool,
    embed: embeds_api.Embed | BctrlError | None = None,
    take_over_from: str = "",
) -> HttpResponse:
    """The region; `embed`: one minted already (taking control mints the holder's own)."""
    user = await request.auser()
    holder = await control.holder(ws, alias)
    interactive = (
        wants_control and await _can_operate(user) and bool(holder) and holder.get("user_id") == user.pk  # type: ignore[union-attr]
    )
    context: dict[str, Any] = {
        "workspace_id": ws,
        "alias": alias,
        "take_over_from": take_over_from,
        "live_url": reverse("runtime_live", args=[ws, alias]),
    }
    runtime = await settle(runtimes_api.get_runtime(ws, alias))
    if isinstance(runtime, BctrlError):
        context["error"] = runtime
        return render_page(
            request, "live/runtime.html", context, region="live_view", status=error_status(runtime)
        )
    context["runtime"] = runtime
    if runtime.active:
        if embed is None:
            embed = await settle(
                embeds_api.live_view(ws, alias, interactive=interactive, holder=user.get_username())
            )
        if isinstance(embed, BctrlError) and embed.code == "runtime.control_taken":
            # Taken in the engine meanwhile (an API client, or an admin elsewhere): view-only now.
            await control.drop(ws, alias)
            holder = {
                "username": embed.details.get("holder") or "someone",
                "since": embed.details.get("since"),
            }
            interactive = False
            embed = await settle(embeds_api.live_view(ws, alias))
    else:
        embed = await settle(embeds_api.recording(ws, alias))
    context.update(holder=holder, interactive=interactive)
    if isinstance(embed, BctrlError):
        context["embed_error"] = embed
    else:
        context["embed"] = embed
        context["refresh_seconds"] = refresh_seconds(embed)
    return render_page(request, "live/runtime.html", context, region="live_view")


def refresh_seconds(embed: embeds_api.Embed) -> int:
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
    """Take or release control of a runtime's browser: audited, and shown to everyone on its page.

    Taking it from someone asks first ("oscar has control: take over?"); the engine enforces it
    (their input ends at once when the take-over is confirmed)."""
    ws, action = str(workspace_id), request.POST.get("action", "")
    if action == "take":
        return await _take(request, ws, alias, confirmed=request.POST.get("takeover") == "1")
    if action != "release":
        return HttpResponse("Say action=take or action=release.", status=400)
    user = await request.auser()
    holder = await control.holder(ws, alias)
    if holder and holder.get("user_id") != user.pk and await _role(user) != "admin":
        response = await _live_region(request, ws, alias, wants_control=False)
        return await with_toast(response, request, f"{holder['username']} has control, not you.", "error")
    try:
        await control.release(ws, alias)
    except BctrlError as error:
        response = await _live_region(request, ws, alias, wants_control=False)
        return await with_toast(response, request, error.user_message, "error")
    name = await _runtime_name(ws, alias)
    entry = await record(
        request,
        "runtime.control.release",
        "runtime",
        f"{ws}/{alias}",
        target_name=name,
        message="released control",
    )
    await control.tell_the_page(ws, alias, None, entry)
    response = await _live_region(request, ws, alias, wants_control=False)
    return await with_toast(
        response, request, f"You released control of {alias}: the view is view-only again."
    )


async def _take(request: HtmxHttpRequest, ws: str, alias: str, confirmed: bool) -> HttpResponse:
    user = await request.auser()
    holder = await control.holder(ws, alias)
    taken_from = holder.get("username", "") if holder and holder.get("user_id") != user.pk else ""
    if taken_from and not confirmed:
        return await _live_region(request, ws, alias, wants_control=False, take_over_from=taken_from)
    embed = await settle(
        embeds_api.live_view(ws, alias, interactive=True, holder=user.get_username(), take_over=confirmed)
    )
    if isinstance(embed, BctrlError) and embed.code == "runtime.control_taken" and not confirmed:
        # held outside this console (an API client): the engine named them; ask the same way
        taken_from = str(embed.details.get("holder") or "someone")
        return await _live_region(request, ws, alias, wants_control=False, take_over_from=taken_from)
    if isinstance(embed, BctrlError):
        response = await _live_region(request, ws, alias, wants_control=False)
        return await with_toast(response, request, embed.user_message, "error")
    note = f"took control from {taken_from}" if taken_from else "took control"
    name = await _runtime_name(ws, alias)
    entry = await record(
        request, "runtime.control.take", "runtime", f"{ws}/{alias}", target_name=name, message=note
    )
    await control.hold(ws, alias, user, entry)
    response = await _live_region(request, ws, alias, wants_control=True, embed=embed)
    return await with_toast(
        response, request, f"You have control of {alias}: your mouse and keyboard reach its browser."
    )


urlpatterns = [
    path("live/", live_feed, name="live_feed"),
    path("workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/live/", runtime_live, name="runtime_live"),
    path(
        "workspaces/<uuid:workspace_id>/runtimes/<slug:alias>/control/",
        runtime_control,
        name="runtime_control",
    ),
]
