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
) -> Embed:
    """A live view of an active runtime; `thumbnail` asks for a low-rate picture only (this engine's)."""
    payload: dict[str, Any] = {"interactive": interactive, "showControls": show_controls}
    if thumbnail:
        payload["thumbnail"] = True
    if ttl_seconds:
        payload["ttlSeconds"] = ttl_seconds
    body = await get_client().post(f"workspaces/{workspace_id}/runtimes/{alias}/embed/live", json=payload)
    return Embed.from_api(body)


async def recording(workspace_id: str, alias: str) -> Embed:
    body = await get_client().post(f"workspaces/{workspace_id}/runtimes/{alias}/embed/recording")
    return Embed.from_api(body)
