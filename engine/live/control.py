"""Who controls a runtime's browser through its live view: one holder at a time, enforced here.

An interactive embed token is minted by *taking control* (`POST .../embed/live` with
`interactive: true`): the token carries the holder (who, as the caller names them, under the
calling API key) and a grant id of that tenure. Only a viewer socket whose grant belongs to the
current tenure sends input, picks the shown tab or navigates; every other socket is view-only,
whatever its token says. So:

- **Take-over** (another holder, with `takeOver: true`; without it, 409 `runtime.control_taken`
  naming the holder) ends the previous holder's input at once: their sockets get a `control`
  message (`interactive: false`, who took it) and their input is dropped from then on.
- **The same holder** minting again (a token renewed, a second tab) adds a grant to its tenure.
- **A holder who leaves** (every socket of the tenure closed) releases control after
  RELEASE_AFTER_SECONDS (well within 5 s, long enough for a page reload to reconnect). The tenure
  is kept dormant: if nobody else takes control meanwhile, a socket of it that comes back
  resumes it; once someone else takes control, its tokens are view-only for good.
- **A release** (`DELETE .../control`, or `POST /v1/live-control/release` for every runtime a
  holder controls: the console calls it when a user's role drops) ends the tenure at once, its
  grants with it.
Each change is told to every viewer (`control` message) and recorded as `embed.control`
`{holder, reason: taken|released|left|resumed}`.
"""

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from django.utils import timezone

from engine.live.tokens import EmbedGrant

RELEASE_AFTER_SECONDS = 3.0


class ControlTaken(Exception):
    """Someone else holds control; taking it needs `takeOver`."""

    def __init__(self, name: str, since: datetime) -> None:
        super().__init__(f"{name} has control")
        self.name = name
        self.since = since


class ViewerLike(Protocol):
    grant: EmbedGrant

    def post(self, message: dict[str, Any]) -> None: ...


@dataclass
class Tenure:
    holder: str  # who, as identified: the API key's id and the holder's name under it
    name: str  # who, as shown: "oscar has control"
    since: datetime
    grants: set[str] = field(default_factory=set)


def new_grant() -> str:
    return secrets.token_urlsafe(12)


def holder_id(api_key_id: object, name: str) -> str:
    return f"{api_key_id}:{name}"


class LiveControl:
    """The control of one runtime (one per hub): its tenure, and the viewers it tells."""

    def __init__(self, viewers: "set[Any]", emit: Callable[[str, dict[str, Any]], None]) -> None:
        self.viewers = viewers
        self.emit = emit
        self.tenure: Tenure | None = None
        self.dormant: Tenure | None = None
        self._timer: asyncio.TimerHandle | None = None

    def holds(self, viewer: ViewerLike) -> bool:
        """Whether this viewer's input reaches the browser now."""
        grant = viewer.grant
        return grant.interactive and self.tenure is not None and grant.control in self.tenure.grants

    def take(self, holder: str, name: str, grant: str, take_over: bool) -> None:
        """Give `holder` control (a new grant of its tenure); ControlTaken if another holds it."""
        current = self.tenure
        if current is not None and current.holder == holder:
            current.grants.add(grant)
            self._watch()
            return
        if current is not None and not take_over:
            raise ControlTaken(current.name, current.since)
        grants = {grant}
        if self.dormant is not None and self.dormant.holder == holder:
            grants |= self.dormant.grants  # the holder's other sockets come back with them
        self.tenure, self.dormant = Tenure(holder, name, timezone.now(), grants), None
        self._announce("taken")
        self._watch()

    def release(self, holder: str | None = None) -> bool:
        """End the tenure (only `holder`'s, when given); whether there was one to end."""
        if self.dormant is not None and (holder is None or self.dormant.holder == holder):
            self.dormant = None
        if self.tenure is None or (holder is not None and self.tenure.holder != holder):
            return False
        self.tenure = None
        self._cancel()
        self._announce("released")
        return True

    def joined(self, viewer: ViewerLike) -> None:
        dormant = self.dormant
        if self.tenure is None and dormant is not None and viewer.grant.control in dormant.grants:
            self.tenure, self.dormant = dormant, None
            self._announce("resumed")
        else:
            viewer.post(self.message(viewer))
        self._watch()

    def left(self, viewer: ViewerLike) -> None:
        self._watch()

    def state(self) -> dict[str, Any]:
        tenure = self.tenure
        if tenure is None:
            return {"holder": None, "since": None, "connected": False}
        connected = any(self.holds(v) for v in self.viewers)
        return {"holder": tenure.name, "since": tenure.since, "connected": connected}

    def message(self, viewer: ViewerLike, reason: str | None = None) -> dict[str, Any]:
        """What one viewer is told: may it send input, and who has control."""
        return {
            "type": "control",
            "interactive": self.holds(viewer),
            "holder": self.tenure.name if self.tenure is not None else None,
            "reason": reason,
        }

    def close(self) -> None:
        self._cancel()

    def _announce(self, reason: str) -> None:
        for viewer in self.viewers:
            viewer.post(self.message(viewer, reason))
        self.emit("embed.control", {"holder": self.tenure.name if self.tenure else None, "reason": reason})

    def _watch(self) -> None:
        """Arm the release timer while the tenure has no socket open; disarm it when one opens."""
        if self.tenure is None or any(self.holds(v) for v in self.viewers):
            self._cancel()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(RELEASE_AFTER_SECONDS, self._absent)

    def _absent(self) -> None:
        self._timer = None
        if self.tenure is None or any(self.holds(v) for v in self.viewers):
            return
        self.dormant, self.tenure = self.tenure, None
        self._announce("left")

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
