"""Who holds control of a runtime's browser, as the console shows it, and telling the engine.

The engine enforces control: one holder per runtime, named when the holder's interactive live view
is minted (the console names each user by their username), and a take-over ends the previous
holder's input at once. The console keeps who holds what in the shared cache (so every console
process, and everyone on a runtime's page, shows the same), asks before taking control from
someone ("oscar has control: take over?"), and tells the engine when a user may no longer hold
control: their role dropped below operator, or they were deactivated or deleted
(`release_user`, called by the user admin views).
"""

import logging
from typing import Any

from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils import timezone

from dashboard.audit.models import AuditEntry
from dashboard.bctrl import embeds as embeds_api
from dashboard.bctrl.errors import BctrlError
from dashboard.live import timeline
from dashboard.live.inspector import control_group

logger = logging.getLogger("dashboard.live")

CONTROL_TTL_SECONDS = 8 * 3600


def _runtime_key(workspace_id: str, alias: str) -> str:
    return f"live.control.{workspace_id}.{alias}"


def _user_key(user_id: object) -> str:
    """The runtimes a user holds control of (so a role change can release them all)."""
    return f"live.control.user.{user_id}"


async def holder(workspace_id: str, alias: str) -> dict[str, Any] | None:
    held: dict[str, Any] | None = await cache.aget(_runtime_key(workspace_id, alias))
    return held


async def hold(workspace_id: str, alias: str, user: Any, entry: AuditEntry | None = None) -> dict[str, Any]:
    """Record `user` as the holder (the engine has already given them control); `entry`: the
    audit entry of the hand-off, shown on the run's timeline."""
    held = {"user_id": user.pk, "username": user.get_username(), "since": timezone.now().isoformat()}
    await cache.aset(_runtime_key(workspace_id, alias), held, CONTROL_TTL_SECONDS)
    runtimes = set(await cache.aget(_user_key(user.pk)) or ())
    runtimes.add((workspace_id, alias))
    await cache.aset(_user_key(user.pk), runtimes, CONTROL_TTL_SECONDS)
    await tell_the_page(workspace_id, alias, held, entry)
    return held


async def drop(workspace_id: str, alias: str) -> None:
    """Nobody holds it (released, or taken from the console's holder by someone else)."""
    await cache.adelete(_runtime_key(workspace_id, alias))
    await tell_the_page(workspace_id, alias, None)


async def release(workspace_id: str, alias: str) -> None:
    """Release control in the engine (the Release button), then here (the caller tells the page)."""
    try:
        await embeds_api.release_control(workspace_id, alias)
    except BctrlError as error:
        if not (error.not_offered or error.code == "runtime.not_active"):
            raise
    await cache.adelete(_runtime_key(workspace_id, alias))


async def release_user(user_id: object, username: str) -> str | None:
    """A user may no longer hold control: end it in the engine (every runtime at once) and here.

    Returns a sentence for the admin when the engine could not be told (their input may still
    reach a browser until it is), None when done.
    """
    problem = None
    try:
        await embeds_api.release_holder(username)
    except BctrlError as error:
        if not error.not_offered:
            logger.warning("Could not release %s's live control in the engine: %s", username, error.code)
            problem = f"The API did not release {username}'s control of live views ({error.message})."
    for workspace_id, alias in await cache.aget(_user_key(user_id)) or ():
        held = await holder(workspace_id, alias)
        if held is not None and held.get("user_id") == user_id:
            await drop(workspace_id, alias)
    await cache.adelete(_user_key(user_id))
    return problem


async def tell_the_page(
    workspace_id: str, alias: str, held: dict[str, Any] | None, entry: AuditEntry | None = None
) -> None:
    """Everyone watching this runtime, in every console process, sees who has control now, and
    the hand-off (its audit `entry`) as an entry of the run's timeline."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    html: str = render_to_string("live/runtime.html#control_state", {"holder": held, "live": True})
    if entry is not None:
        change = timeline.ControlChange(
            entry.pk, entry.username, entry.action.endswith("take"), entry.created_at, entry.message
        )
        row = render_to_string("live/inspector.html#entry_rows", {"entry": timeline.control_entry(change)})
        html = f"{html}<!--live-part-->{row}"
    await layer.group_send(control_group(workspace_id, alias), {"type": "live.control", "html": html})
