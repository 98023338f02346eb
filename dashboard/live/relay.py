"""The updates relay: one reader of the API's updates stream per console process, shared by every
websocket of that process.

Invariants, and why:
- **One upstream connection per process**, whatever the number of sockets: the first socket
  starts the reader, the last one leaving stops it (after a grace period, so a page reload does
  not reconnect upstream). `connections` counts the upstream streams it opened.
- **Nothing skipped, nothing twice, in order.** The reader resumes after any drop (a restarted
  engine, a cut network, a read that waited past the keep-alive) with `Last-Event-ID` = the last
  update it delivered, after a jittered, growing delay. Each update goes to this process's role
  groups once, in stream order; each consumer also skips ids it already sent (a browser's
  catch-up can overlap the live stream).
- **An API without ids cannot be resumed, and is not hammered.** The public stream sends no
  `id:` lines (and the public API has no update log to start from): the relay reads it all the
  same, says in its state that a drop cannot be resumed (`resumable` False: what happens while
  it is away is not shown), and opens it again at most once per NO_RESUME_REOPEN_SECONDS, since
  a quick reconnect gains nothing. Any stream that keeps ending soon after it opened is reopened
  after a growing delay: the delay starts afresh only after a connection that lasted.
- **Per process, not per cluster.** The groups carry this process's id: with a shared channel
  layer (Redis), each console process delivers its own reader's updates to its own sockets only,
  so a socket never gets an update once per process.
- **Rendered once per role**, not per socket: each update becomes one HTML message per role that
  may see it (fragments.py), sent to that role's group; consumers only forward it.
- **Every page hears when it is down** (`announce`): the first failure after being connected
  (or before ever connecting) tells every socket of this process "down since T, because R", and
  the next connection tells them "up". The page shows a banner and stops trusting its live
  statuses meanwhile (static/js/live.js); a socket that opens while it is down is told at once.
- **Pages' kept answers follow it** (`snapshots`): an update drops what it may change before any
  socket hears of it, and a drop or a reconnect drops everything (snapshots.py says why). Each
  also fences the API client's shared reads (client.py `get`): a page read after an update never
  joins a read that started before it.
"""

import asyncio
import contextlib
import logging
import random
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from channels.layers import BaseChannelLayer, get_channel_layer

from dashboard.accounts.roles import ROLES
from dashboard.bctrl import updates as updates_api
from dashboard.bctrl.client import get_client
from dashboard.bctrl.errors import BctrlError
from dashboard.live import fragments, metrics
from dashboard.live.snapshots import Snapshots

logger = logging.getLogger("dashboard.live")

PROCESS_ID = uuid.uuid4().hex[:12]
BACKOFF_FIRST_SECONDS = 0.25
BACKOFF_MAX_SECONDS = 10.0
IDLE_STOP_SECONDS = 30.0
STABLE_SECONDS = 30.0  # a connection that lasted this long resets the reconnect delay
NO_RESUME_REOPEN_SECONDS = 15.0  # at most four opens a minute of a stream that cannot be resumed


def role_group(role: str) -> str:
    """This process's group of the sockets of users holding `role`."""
    return f"live.updates.{PROCESS_ID}.{role}"


def user_group(user_id: int) -> str:
    """Every socket of one user, in every process: told to close when the user signs out or is deactivated."""
    return f"live.user.{user_id}"


@dataclass(frozen=True)
class RelayState:
    """What admins see of the relay (the feed page): is it reading, where, how far behind."""

    process: str
    running: bool
    connected: bool
    last_id: int | None
    lag_ms: int | None  # from the update's creation upstream to its delivery here
    connections: int
    sockets: int
    last_error: str
    resumable: bool | None  # False: the API's updates carry no ids; None: not known yet
    down_since: float | None = None  # epoch seconds of the first failure of the current outage


class UpdatesRelay:
    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.connected = False
        self.last_id: int | None = None
        self.lag_ms: int | None = None
        self.connections = 0
        self.sockets = 0
        self.last_error = ""
        self.down_since: float | None = None
        self.delivered = 0
        self.resumable: bool | None = None
        # told of every update after the sockets are (the alert rules, dashboard/alerts/watch.py);
        # each must return at once (queue the work), a slow one would hold the stream up
        self.listeners: list[Callable[[updates_api.Update], None]] = []
        self.disconnected_at: float | None = time.monotonic()  # None while connected
        self._task: asyncio.Task[None] | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._positioned = asyncio.Event()
        self.snapshots = Snapshots()

    def state(self) -> RelayState:
        return RelayState(
            process=PROCESS_ID,
            running=self._task is not None and not self._task.done(),
            connected=self.connected,
            last_id=self.last_id,
            lag_ms=self.lag_ms,
            connections=self.connections,
            sockets=self.sockets,
            last_error=self.last_error,
            resumable=self.resumable,
            down_since=self.down_since,
        )

    # ---- who needs it -------------------------------------------------------------------------

    def subscribe(self) -> None:
        self.sockets += 1
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._task is None or self._task.done():
            self.disconnected_at = time.monotonic()  # trying from now on (readiness counts from here)
            self._task = asyncio.get_running_loop().create_task(self._run(), name="updates-relay")

    def unsubscribe(self) -> None:
        self.sockets = max(0, self.sockets - 1)
        if self.sockets == 0 and self._idle is None:
            self._idle = asyncio.get_running_loop().call_later(IDLE_STOP_SECONDS, self._stop_if_idle)

    def _stop_if_idle(self) -> None:
        self._idle = None
        if self.sockets == 0 and self._task is not None:
            self._task.cancel()
            self._task = None
            self._set_connected(False)

    async def stop(self) -> None:
        """Stop reading now (tests, and the process's end)."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._set_connected(False)

    def _set_connected(self, connected: bool) -> None:
        if connected != self.connected:
            get_client().fence()  # an update may have been missed: reads start afresh
            self.snapshots.connection_changed(connected)
            self.disconnected_at = None if connected else time.monotonic()
        self.connected = connected

    async def _went(self, up: bool) -> None:
        """Tell every socket of this process when the stream comes up or goes down (once each way)."""
        if up == (self.down_since is None):
            return
        self.down_since = None if up else time.time()
        await self.announce()

    async def announce(self, channel: str | None = None) -> None:
        """Send the connection state to every role group, or to one socket (`channel`)."""
        message = {"type": "live.connection", "text": fragments.connection(self.down_since, self.last_error)}
        if channel is not None:
            await self.layer.send(channel, message)
            return
        for role in ROLES:
            await self.layer.group_send(role_group(role), message)

    def reconnecting_for(self) -> float:
        """Seconds the reader has been trying to reconnect (0: connected, or not running)."""
        running = self._task is not None and not self._task.done()
        if not running or self.connected or self.disconnected_at is None:
            return 0.0
        return time.monotonic() - self.disconnected_at

    async def position(self, timeout: float = 10.0) -> int | None:
        """The id of the last update delivered (where a new socket starts), once the reader knows it."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._positioned.wait(), timeout)
        return self.last_id

    # ---- the reader ---------------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while True:
            opened = None
            try:
                if self.last_id is None and self.resumable is not False:
                    await self._find_position()
                self._positioned.set()
                async with updates_api.open_stream(self.last_id) as stream:
                    opened = time.monotonic()
                    self.connections += 1
                    metrics.RELAY_CONNECTIONS.inc()
                    self._set_connected(True)
                    self.last_error = ""
                    await self._went(up=True)
                    async for update in stream:
                        await self._deliver(update)
                # The API ended the stream (a restart under way): resume soon.
            except BctrlError as error:
                self.last_error = error.user_message
                logger.info("The updates stream dropped (%s); resuming after %s", error.code, self.last_id)
            except asyncio.CancelledError:
                self._set_connected(False)
                raise
            except Exception:  # a bug must not end live updates for the whole process
                logger.exception("The updates relay failed; resuming after %s", self.last_id)
                self.last_error = "The relay failed; see the console's log."
            self._set_connected(False)
            if self.last_error:  # a stream the API ended on purpose is resumed, unannounced
                await self._went(up=False)
            lasted = opened is not None and time.monotonic() - opened >= STABLE_SECONDS
            failures = 1 if lasted else failures + 1
            delay = _backoff(failures)
            if self.resumable is False:
                delay = max(delay, NO_RESUME_REOPEN_SECONDS)
            await asyncio.sleep(delay)

    async def _find_position(self) -> None:
        """Start from now: what happened before a socket opened is its page's business."""
        try:
            self.last_id = await updates_api.newest_update_id()
        except BctrlError as error:
            if not error.not_offered:
                raise
            # No update log (the public API): the stream is read from now, and cannot be resumed.
            self.resumable = False
            return
        global _last_relayed
        _last_relayed = self.last_id

    async def _deliver(self, update: updates_api.Update) -> None:
        # before any page is told to reload: what it reads next is read after this update
        get_client().fence()
        self.snapshots.changed(update.family)
        enriched = await fragments.enrich([update])
        for role in ROLES:
            if not fragments.visible(update, role):
                continue
            message = fragments.render(update, role, enriched)
            await self.layer.group_send(
                role_group(role), {"type": "live.update", "id": update.id, "text": message.text()}
            )
        for listener in self.listeners:
            try:
                listener(update)
            except Exception:  # a listener's bug must not end live updates
                logger.exception("A listener of the updates relay failed on %s", update.id)
        self.delivered += 1
        if update.id is None:
            self.resumable = False  # nothing to resume from after a drop
        else:
            self.last_id = update.id
            self.resumable = True
            global _last_relayed
            _last_relayed = update.id
        if update.created_at is not None:
            self.lag_ms = max(0, round((time.time() - update.created_at.timestamp()) * 1000))
            metrics.RELAY_LAG_SECONDS.set(self.lag_ms / 1000)


def _backoff(failures: int) -> float:
    """Growing, capped, jittered: many console processes do not all reconnect in the same instant."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (failures - 1))
    return ceiling * random.uniform(0.5, 1.0)


_last_relayed: int | None = None  # read from page renders, which run in threads


def last_relayed_id() -> int | None:
    """The id of the last update this process's relay delivered (None before the first)."""
    return _last_relayed


T = TypeVar("T")


def per_loop(
    made: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T]", make: Callable[[BaseChannelLayer], T]
) -> T:
    """The one `make(layer)` of the running event loop. daphne runs one loop per process, so this
    is one per process (the test client's short-lived loops each get their own, like the API client)."""
    loop = asyncio.get_running_loop()
    found = made.get(loop)
    if found is None:
        layer = get_channel_layer()
        assert layer is not None, "CHANNEL_LAYERS is configured in settings"
        found = made[loop] = make(layer)
    return found


_relays: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, UpdatesRelay]" = weakref.WeakKeyDictionary()


def get_relay() -> UpdatesRelay:
    return per_loop(_relays, UpdatesRelay)


def running_relay() -> UpdatesRelay | None:
    """The calling loop's relay if a socket started one (pages read its state; they never start it)."""
    with contextlib.suppress(RuntimeError):
        return _relays.get(asyncio.get_running_loop())
    return None


def current_state() -> dict[str, Any] | None:
    """The relay state of the calling loop's process, if it has a relay."""
    with contextlib.suppress(RuntimeError):
        relay = _relays.get(asyncio.get_running_loop())
        return relay.state().__dict__ if relay else None
    return None
