"""The live inspector's event pollers: one `events/wait` loop per runtime per console process,
shared by every socket watching that runtime, stopped when the last one leaves.

Each round waits upstream for an event after the poller's position, then drains every newer
event with the list call (a wait answers one event; a page load raises dozens) and sends the
batch, rendered once, to this process's group of that runtime's sockets.

Invariants, and why:
- **Positions are the API's, opaque.** The poller keeps the `cursor` the wait answered, the
  list's `nextCursor`, or (this engine's) the last event's sequence, as strings; it never
  assumes a number or a `sequence` (the public events have neither).
- **Each event once.** Rows are keyed by event id: the poller skips ids it already sent (an API
  whose last list page gives no cursor makes the next round read some of them again), and each
  socket skips ids it already has (its own catch-up may overlap the live batches).
- **Never a spin.** A round that brings nothing new (a wait answered at once with no event, or
  with events already sent: an ended runtime, an API that does not block) backs off, growing
  to BACKOFF_MAX_SECONDS; rounds that bring events are at least ROUND_SECONDS apart, so a busy
  page costs about two calls a second, not two per event.
- **Watching is not using.** The wait says `keepAlive: false`; an API that refuses it (any 400)
  gets plain waits from then on, whatever its message says.
"""

import asyncio
import contextlib
import logging
import random
import weakref
from collections import deque

from channels.layers import BaseChannelLayer
from django.template.loader import render_to_string

from dashboard.bctrl import events as events_api
from dashboard.bctrl.errors import BctrlError
from dashboard.live.relay import PROCESS_ID, per_loop
from dashboard.live.timeline import Requests, entry_of

logger = logging.getLogger("dashboard.live")

WAIT_MS = 25_000
PAGE = 500
DRAIN_PAGES = 10  # pages of PAGE one round reads at most; the next round goes on
ROUND_SECONDS = 1.0  # rounds that brought events are at least this far apart (events come in batches)
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
SEEN_KEPT = 5_000  # event ids remembered, by the poller and by each socket, to send none twice
TEMPLATE = "live/inspector.html#entry_rows"


def runtime_group(workspace_id: str, alias: str) -> str:
    """This process's sockets watching one runtime's events."""
    return f"live.events.{PROCESS_ID}.{workspace_id}.{alias}"


def control_group(workspace_id: str, alias: str) -> str:
    """Every socket on one runtime's page, in every process: told who has control of its browser."""
    return f"live.control.{workspace_id}.{alias}"


def render_events(events: list[events_api.Event], requests: Requests) -> list[tuple[str, str]]:
    """Each event's timeline row (a network event: its request's row, drawn again), by event id."""
    return [(event.id, render_to_string(TEMPLATE, {"entry": entry_of(event, requests)})) for event in events]


class SeenIds:
    """The ids of the last `size` events sent, to send none twice."""

    def __init__(self, size: int = SEEN_KEPT) -> None:
        self._order: deque[str] = deque(maxlen=size)
        self._ids: set[str] = set()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        if event_id in self._ids:
            return
        if len(self._order) == self._order.maxlen:
            self._ids.discard(self._order[0])
        self._order.append(event_id)
        self._ids.add(event_id)


class EventsPoller:
    def __init__(self, layer: BaseChannelLayer, workspace_id: str, alias: str, after: str | None) -> None:
        self.layer = layer
        self.workspace_id = workspace_id
        self.alias = alias
        self.position = after  # the API's opaque position: events after it are not sent yet
        self.sockets = 0
        self.requests = Requests()
        self.sent = SeenIds()
        self.polls = 0  # upstream calls made, waits and lists (tests and the bench read it)
        self.keep_alive = False
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        idle = 0  # rounds in a row that brought nothing new
        failures = 0
        while True:
            try:
                delivered = await self._round()
                failures = 0
            except BctrlError as error:
                if error.status == 400 and not self.keep_alive:
                    self.keep_alive = True  # an API without the option: wait as any client would
                    continue
                failures += 1
                logger.info("Events of %s/%s: %s; retrying", self.workspace_id, self.alias, error.code)
                await asyncio.sleep(_backoff(failures))
                continue
            if delivered is None:  # the long poll ran its course: nothing happened, ask again
                idle = 0
                continue
            idle = 0 if delivered else idle + 1
            await asyncio.sleep(ROUND_SECONDS if delivered else _backoff(idle))

    async def _round(self) -> int | None:
        """One wait and its drain: how many new events were sent (None: the wait timed out)."""
        self.polls += 1
        waited = await events_api.wait_event(
            self.workspace_id, self.alias, self.position, WAIT_MS, keep_alive=self.keep_alive
        )
        if waited.event is None:
            self.position = waited.cursor or self.position
            return None if waited.timed_out else 0
        fresh = [waited.event] if waited.event.id not in self.sent else []
        self.position = waited.cursor or self.position
        if waited.cursor is None and waited.event.sequence is not None:
            self.position = str(waited.event.sequence)
        return await self._send(fresh) + await self._drain()

    async def _drain(self) -> int:
        sent = 0
        for _ in range(DRAIN_PAGES):
            self.polls += 1
            page = await events_api.list_events(
                self.workspace_id, self.alias, cursor=self.position, limit=PAGE
            )
            sent += await self._send(page.items)
            after = events_api.position_after(page, self.position)
            if after is None or after == self.position or not page.next_cursor:
                self.position = after or self.position
                return sent
            self.position = after
        return sent

    async def _send(self, events: list[events_api.Event]) -> int:
        fresh = [event for event in events if event.id not in self.sent]
        if not fresh:
            return 0
        for event in fresh:
            self.sent.add(event.id)
        rows = render_events(fresh, self.requests)
        await self.layer.group_send(
            runtime_group(self.workspace_id, self.alias), {"type": "live.events", "rows": rows}
        )
        return len(fresh)


def _backoff(times: int) -> float:
    """Growing, capped, jittered."""
    return min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (times - 1)) * random.uniform(0.5, 1.0)


class Pollers:
    """Every runtime's poller in this process (one event loop)."""

    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.pollers: dict[tuple[str, str], EventsPoller] = {}

    def subscribe(self, workspace_id: str, alias: str, after: str | None) -> EventsPoller:
        key = (workspace_id, alias)
        poller = self.pollers.get(key)
        if poller is None:
            poller = self.pollers[key] = EventsPoller(self.layer, workspace_id, alias, after)
            poller.task = asyncio.get_running_loop().create_task(poller._run(), name=f"events-{alias}")
        poller.sockets += 1
        return poller

    async def unsubscribe(self, workspace_id: str, alias: str) -> None:
        poller = self.pollers.get((workspace_id, alias))
        if poller is None:
            return
        poller.sockets -= 1
        if poller.sockets <= 0:
            del self.pollers[(workspace_id, alias)]
            if poller.task is not None:
                poller.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller.task


_pollers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Pollers]" = weakref.WeakKeyDictionary()


def get_pollers() -> Pollers:
    return per_loop(_pollers, Pollers)
