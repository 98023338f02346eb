"""Embeds: the iframe URL (and token) of a runtime's live view or of its recording.

Minted with the console's own key, per viewer, server-side: the token reaches the browser only
inside the iframe URL, never in a page's script or a log line.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboard.bctrl.client import get_client
from dashboard.bctrl.errors import UnexpectedAnswer
from dashboard.bctrl.pages import parse_time


@dataclass(frozen=True)
class Embed:
    iframe_url: str
    expires_at: datetime | None
    status: str = ""  # recordings: encoding, ready or expired
    duration_ms: int | None = None

    @classmethod
    def from_api(cls, body: Any) -> "Embed":
        if not isinstance(body, dict) or not isinstance(body.get("iframeUrl"), str):
            raise UnexpectedAnswer(
                502, "api.unexpected_answer", "The API answered an embed without its iframeUrl."
            )
        return cls(
            iframe_url=body["iframeUrl"],
            expires_at=parse_time(body.get("expiresAt")),
            status=body.get("status") or "",
            duration_ms=body.get("durationMs"),
        )


async def live_view(
    workspace_id: str,
    alias: str,
    *,
    interactive: bool = False,
    show_controls: bool = True,
    thumbnail: bool = False,
    ttl_seconds: int | None = None,
    holder: str | None = None,
    take_over: bool = False,
) -> Embed:
    """A live view of an active runtime; `thumbnail` asks for a low-rate picture only (this engine's).

    An interactive one takes control of the browser for `holder` (this engine's: one holder at a
    time); someone else holding it is BctrlError `runtime.control_taken` (`details.holder`)
    unless `take_over`.
    """
    payload: dict[str, Any] = {"interactive": interactive, "showControls": show_controls}
    if thumbnail:
        payload["thumbnail"] = True
    if interactive and holder:
        payload["holder"] = holder
    if interactive and take_over:
        payload["takeOver"] = True
    if ttl_seconds:
        payload["ttlSeconds"] = ttl_seconds
    body = await get_client().post(f"workspaces/{workspace_id}/runtimes/{alias}/embed/live", json=payload)
    return Embed.from_api(body)


async def recording(workspace_id: str, alias: str) -> Embed:
    body = await get_client().post(f"workspaces/{workspace_id}/runtimes/{alias}/embed/recording")
    return Embed.from_api(body)


async def release_control(workspace_id: str, alias: str) -> None:
    """Nobody controls the runtime's browser any more (whoever held it)."""
    await get_client().delete(f"workspaces/{workspace_id}/runtimes/{alias}/control")


async def release_holder(holder: str) -> int:
    """Every runtime `holder` controls goes view-only; how many there were."""
    body = await get_client().post("live-control/release", json={"holder": holder})
    return int(body.get("released", 0)) if isinstance(body, dict) else 0
