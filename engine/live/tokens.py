"""Embed tokens: signed with the engine's secret key, bound to one runtime, to what they open
(its live view or its recording) and to `interactive`, and expiring. An interactive token also
carries the control grant it was minted with (engine/live/control.py): it sends input only while
that grant's tenure holds control.

A token carries everything the page needs (view options included), so an `iframeUrl` is just
the page plus `?token=`. Revocation: a live token opens nothing once its runtime has ended
(the hub that serves it is gone, and its sockets are closed), so every live token of a runtime
ends when the runtime stops or fails; a recording token lives until it expires or the recording
does.
"""

import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from django.conf import settings
from django.core import signing

Kind = Literal["live", "recording"]
ViewerMode = Literal["last_used", "automation"]
VIEWER_MODES: tuple[ViewerMode, ...] = ("last_used", "automation")


class TokenRefused(Exception):
    """A token that opens nothing: `expired`, or `invalid` (tampered, foreign, or of another kind)."""

    def __init__(self, reason: Literal["expired", "invalid"]) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class EmbedGrant:
    runtime_id: UUID
    kind: Kind
    interactive: bool
    show_controls: bool
    viewer_mode: ViewerMode
    expires_at: datetime
    thumbnail: bool = False  # a low-rate, view-only picture (a wall of runtimes)
    control: str = ""  # the control grant of an interactive token (engine/live/control.py)

    def seconds_left(self) -> float:
        return self.expires_at.timestamp() - time.time()


def _salt(kind: Kind) -> str:
    # One salt per kind: a recording token can never open a live view, nor the reverse.
    return f"engine.embed.{kind}"


def mint(
    runtime_id: UUID,
    kind: Kind,
    *,
    interactive: bool = False,
    show_controls: bool = True,
    viewer_mode: ViewerMode = "last_used",
    ttl_seconds: int | None = None,
    thumbnail: bool = False,
    control: str = "",
) -> tuple[str, datetime]:
    """A new token and when it expires (ttl: ENGINE_EMBED_TOKEN_TTL_SECONDS unless given)."""
    ttl = ttl_seconds or settings.EMBED_TOKEN_TTL_SECONDS
    expires_ms = int((time.time() + ttl) * 1000)
    payload = {
        "r": str(runtime_id),
        "i": interactive,
        "c": show_controls,
        "m": viewer_mode,
        "x": expires_ms,
    }
    if thumbnail:
        payload["t"] = True
    if interactive and control:
        payload["g"] = control
    token = signing.dumps(payload, salt=_salt(kind), compress=False)
    return token, datetime.fromtimestamp(expires_ms / 1000, tz=UTC)


def read(token: str | None, runtime_id: UUID | str, kind: Kind) -> EmbedGrant:
    """The grant a token carries for this runtime and kind, or TokenRefused."""
    if not token or len(token) > 1000:
        raise TokenRefused("invalid")
    try:
        payload = signing.loads(token, salt=_salt(kind))
        expires_ms = int(payload["x"])
        bound = UUID(payload["r"])
        grant = EmbedGrant(
            runtime_id=bound,
            kind=kind,
            # a thumbnail is a picture only: it never carries input
            interactive=bool(payload["i"]) and kind == "live" and not payload.get("t"),
            show_controls=bool(payload["c"]),
            viewer_mode=payload["m"] if payload["m"] in VIEWER_MODES else "last_used",
            expires_at=datetime.fromtimestamp(expires_ms / 1000, tz=UTC),
            thumbnail=bool(payload.get("t")) and kind == "live",
            control=str(payload.get("g") or ""),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise TokenRefused("invalid") from exc
    if str(bound) != str(runtime_id):
        raise TokenRefused("invalid")  # a token of another runtime
    if grant.seconds_left() <= 0:
        raise TokenRefused("expired")
    return grant


_TOKEN_IN_URL = re.compile(r"(token=)[^&\s\"']+")


class RedactTokens(logging.Filter):
    """Keeps embed tokens out of logs: the ASGI server logs each websocket's path with its query
    string (`?token=...`), and a token in a log is a live view anyone with the log can open."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(
                _TOKEN_IN_URL.sub(r"\1[redacted]", a) if isinstance(a, str) else a for a in args
            )
        if isinstance(record.msg, str) and "token=" in record.msg:
            record.msg = _TOKEN_IN_URL.sub(r"\1[redacted]", record.msg)
        return True
