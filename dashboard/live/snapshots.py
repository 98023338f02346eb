"""Answers a page keeps while the updates relay is connected, each dropped by the first update that
could change it: how the overview is served without an upstream call when nothing has changed.

Invariants, and why:
- **Only while the relay reads the stream.** A kept answer is served only if the relay has been
  connected without a break since the answer was fetched (`epoch` counts connections); a relay
  that is down, or was down meanwhile, could have missed the update that made it wrong, so the
  page asks the API again.
- **Dropped by its families' updates.** Each answer names the update families it depends on
  (`workspace`, `runtime`...); an update of one of them drops it. An update of a family this
  module does not know (an API with other update types) drops every answer.
- **Never kept if stale on arrival.** A ticket taken before the fetch records the families'
  versions; an update delivered while the fetch was under way makes `keep` refuse the answer.
- **Bounded in age** (`MAX_AGE_SECONDS`): a safety net for a change an API might not announce.
"""

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

# The update families of the contract (docs/api.md, `Update` types).
KNOWN_FAMILIES = frozenset(
    {
        "workspace",
        "runtime",
        "operation",
        "browser_profile",
        "browser_extension",
        "vault",
        "ai_credential",
        "storage",
        "artifact",
    }
)
MAX_AGE_SECONDS = 60.0


@dataclass(frozen=True)
class Ticket:
    """Taken before a fetch: where the stream stood, to tell whether the answer is still current."""

    epoch: int
    versions: dict[str, int]


@dataclass(frozen=True)
class _Kept:
    families: frozenset[str]
    value: Any
    epoch: int
    kept_at: float


class Snapshots:
    def __init__(self) -> None:
        self.connected = False
        self.epoch = 0
        self._versions: Counter[str] = Counter()
        self._kept: dict[str, _Kept] = {}

    # ---- the relay's side ---------------------------------------------------------------------

    def connection_changed(self, connected: bool) -> None:
        """The relay connected or dropped: nothing kept before holds across it."""
        self.connected = connected
        self.epoch += 1
        self._kept.clear()

    def changed(self, family: str) -> None:
        """An update of `family` was delivered: drop what it may have changed."""
        if family not in KNOWN_FAMILIES:
            self._versions.update(KNOWN_FAMILIES)
            self._kept.clear()
            return
        self._versions[family] += 1
        self._kept = {name: kept for name, kept in self._kept.items() if family not in kept.families}

    # ---- the pages' side ----------------------------------------------------------------------

    def get(self, name: str) -> Any | None:
        """The kept answer called `name`, or None when the page must ask the API."""
        kept = self._kept.get(name)
        if kept is None or not self.connected or kept.epoch != self.epoch:
            return None
        if time.monotonic() - kept.kept_at > MAX_AGE_SECONDS:
            del self._kept[name]
            return None
        return kept.value

    def ticket(self) -> Ticket | None:
        """Take before fetching what may be kept (None: the relay is not connected, keep nothing)."""
        return Ticket(self.epoch, dict(self._versions)) if self.connected else None

    def keep(self, name: str, families: frozenset[str], ticket: Ticket | None, value: Any) -> bool:
        """Keep `value` unless an update of `families` (or a reconnect) came since `ticket`."""
        if ticket is None or not self.connected or ticket.epoch != self.epoch:
            return False
        if any(self._versions[family] != ticket.versions.get(family, 0) for family in families):
            return False
        self._kept[name] = _Kept(families, value, self.epoch, time.monotonic())
        return True
