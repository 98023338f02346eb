"""The live inspector's event pollers: one `events/wait` loop per runtime per console process,
shared by every socket watching that runtime, stopped when the last one leaves.

Each loop waits upstream for an event newer than the last one it delivered, then drains every
newer event with the list call (a wait answers one event; a page load raises dozens) and sends
the batch, rendered once, to this process's group of that runtime's sockets. Consumers skip
sequences they already sent, so a socket's own catch-up may overlap the live batches.
"""

import asyncio
import contextlib
import logging
import random
import weakref

from channels.layers import BaseChannelLayer
from django.template.loader import render_to_string

from dashboard.bctrl import events as events_api
from dashboard.bctrl.errors import BctrlError
from dashboard.live.relay import PROCESS_ID, per_loop
from dashboard.live.timeline import Requests, entry_of

logger = logging.getLogger("dashboard.live")

WAIT_MS = 25_000
PAGE = 500
TEMPLATE = "live/inspector.html#entry_rows"


def runtime_group(workspace_id: str, alias: str) -> str:
    """This process's sockets watching one runtime's events."""
    return f"live.events.{PROCESS_ID}.{workspace_id}.{alias}"


def control_group(workspace_id: str, alias: str) -> str:
    """Every socket on one runtime's page, in every process: told who has control of its browser."""
    return f"live.control.{workspace_id}.{alias}"


def render_events(events: list[events_api.Event], requests: Requests) -> list[tuple[int, str]]:
    """Each event's timeline row (a network event: its request's row, drawn again), by sequence."""
    return [
        (event.sequence or 0, render_to_string(TEMPLATE, {"entry": entry_of(event, requests)}))
        for event in events
    ]


class EventsPoller:
    def __init__(self, layer: BaseChannelLayer, workspace_id: str, alias: str, after: int) -> None:
        self.layer = layer
        self.workspace_id = workspace_id
        self.alias = alias
        self.position = after
        self.sockets = 0
        self.requests = Requests()
        self.polls = 0  # upstream wait calls made (tests and the bench read it)
        self.keep_alive = False
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                self.polls += 1
                # watching is not using: a runtime left idle still stops while its page is open
                waited = await events_api.wait_event(
                    self.workspace_id, self.alias, self.position, WAIT_MS, keep_alive=self.keep_alive
                )
                if waited.event is not None:
                    await self._drain()
                failures = 0
            except BctrlError as error:
                if error.status == 400 and not self.keep_alive and "keepAlive" in str(error.details):
                    self.keep_alive = True  # an API without the option: wait as any client would
                    continue
                failures += 1
                logger.info("Events of %s/%s: %s; retrying", self.workspace_id, self.alias, error.code)
                await asyncio.sleep(min(10.0, 0.5 * 2 ** (failures - 1)) * random.uniform(0.5, 1.0))

    async def _drain(self) -> None:
        while True:
            page = await events_api.list_events(
                self.workspace_id, self.alias, after=self.position, limit=PAGE
            )
            if not page.items:
                return
            rows = render_events(page.items, self.requests)
            self.position = max(self.position, *(sequence for sequence, _ in rows))
            await self.layer.group_send(
                runtime_group(self.workspace_id, self.alias), {"type": "live.events", "rows": rows}
            )
            if page.next_cursor is None:
                return


class Pollers:
    """Every runtime's poller in this process (one event loop)."""

    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.pollers: dict[tuple[str, str], EventsPoller] = {}

    def subscribe(self, workspace_id: str, alias: str, after: int) -> EventsPoller:
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
