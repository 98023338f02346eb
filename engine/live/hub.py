"""One hub per live runtime: its one CDP screencast, the tab it shows, its viewers.

Invariants, and why:
- **One screencast per runtime** (`Page.startScreencast` on a CDP session of the shown tab),
  whatever the number of viewers: encoding frames costs the browser CPU, so it runs once and
  every viewer gets the same frames. `starts`/`stops` count the CDP calls (tests read them).
- It runs in one of two ways. `live` while anyone watches at full rate: every frame, acked at
  once. `sample` while only thumbnail viewers watch: after a frame the screencast is stopped and
  started again ENGINE_LIVE_THUMBNAIL_INTERVAL_MS later (a start always sends the current
  picture, so the last state of a page is never missed; a page that does not repaint sends
  nothing). `everyNthFrame` would lower the rate too, but it drops the frame that follows the
  last repaint, and the browser keeps painting every frame anyway (bench/live_view.py measures
  what each way costs). Nobody watching: no screencast. A wall of twenty thumbnails thus costs
  twenty sampled screencasts, not twenty full-rate ones; and a thumbnail viewer of a runtime that
  someone also watches live gets at most one frame per thumbnail interval (the newest).
  The recording has screencasts of its own, one per tab (engine/live/recorder.py).
- **No unbounded buffer.** A viewer holds at most one frame not yet sent (a newer one replaces
  it: slow viewers drop frames, fast ones get them all) and a short queue of messages whose
  newest version is all that matters (tabs, counts). A late viewer gets the last frame at once,
  which is also how a page that does not repaint still shows its picture.
- **One controller** (engine/live/control.py): only the sockets of whoever holds control send
  input, navigate or pick the shown tab; everyone else watches.
- **One shown tab**, shared by every viewer (there is one screencast): the controller picking a
  tab switches it for all; while any viewer follows the automation (`automation` mode, or its
  "follow the active tab" toggle on), or nobody watches, it follows the tab the automation last
  used (a step on it, or a page opening).
  The shown tab is brought to front, since a background tab may stop painting.
"""

import asyncio
import base64
import contextlib
import json
import logging
import struct
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any, Literal
from uuid import UUID

from django.conf import settings
from playwright.async_api import CDPSession, Page
from playwright.async_api import Error as PlaywrightError

from engine.egress.policy import scheme_refusal
from engine.live import input as viewer_input
from engine.live.control import LiveControl
from engine.live.tokens import EmbedGrant
from engine.runtimes.session import RuntimeSession

logger = logging.getLogger("engine.live")

HEADER_LENGTH = struct.Struct(">I")
MESSAGE_QUEUE = 32
INPUT_EVENT_EVERY_SECONDS = 2.0
TABS_SETTLE_SECONDS = 0.05
NAVIGATION_TIMEOUT_MS = 15_000
START_ATTEMPTS = 8


@dataclass
class Frame:
    """One screencast frame of the shown tab, as the browser painted it."""

    seq: int
    tab_id: str
    jpeg: bytes
    captured_ms: float  # when the browser painted it (ms since the epoch)
    width: int  # the page's viewport, CSS pixels: what input positions are fractions of
    height: int

    @cached_property
    def packet(self) -> bytes:
        """The websocket message: a 4-byte header length, a JSON header, then the JPEG."""
        header = json.dumps(
            {
                "seq": self.seq,
                "tabId": self.tab_id,
                "ts": self.captured_ms,
                "w": self.width,
                "h": self.height,
            },
            separators=(",", ":"),
        ).encode()
        return HEADER_LENGTH.pack(len(header)) + header + self.jpeg


@dataclass(eq=False)
class Viewer:
    """One open viewer socket: what it may do, and what waits to be sent to it."""

    grant: EmbedGrant
    frame: Frame | None = None
    messages: deque[str] = field(default_factory=lambda: deque(maxlen=MESSAGE_QUEUE))
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    close_code: int | None = None
    frames_dropped: int = 0
    inputs_unreported: int = 0
    input_timer: asyncio.TimerHandle | None = None
    next_frame_at: float = 0.0  # thumbnails: monotonic time before which no frame is sent
    follow: bool = False  # follows the automation's tab: the token's viewerMode, then the viewer's toggle

    def __post_init__(self) -> None:
        self.follow = self.grant.viewer_mode == "automation"

    def offer(self, frame: Frame) -> None:
        if self.frame is not None:
            self.frames_dropped += 1
        self.frame = frame
        self.wake.set()

    def post(self, message: dict[str, Any]) -> None:
        self.messages.append(json.dumps(message, separators=(",", ":")))
        self.wake.set()

    def end(self, message: dict[str, Any], code: int) -> None:
        self.post(message)
        self.close_code = code
        self.wake.set()

    async def outgoing(self) -> tuple[list[str], Frame | None, int | None]:
        """Wait for something to send: (messages, newest frame, close code)."""
        await self.wake.wait()
        if self.grant.thumbnail and self.frame is not None and self.close_code is None:
            # at most one frame per interval: wait, then send the newest one offered meanwhile
            delay = self.next_frame_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        self.wake.clear()
        messages = list(self.messages)
        self.messages.clear()
        frame, self.frame = self.frame, None
        if frame is not None and self.grant.thumbnail:
            self.next_frame_at = time.monotonic() + settings.LIVE_THUMBNAIL_INTERVAL_MS / 1000
        return messages, frame, self.close_code


Mode = Literal["live", "sample", "off"]


class RuntimeHub:
    def __init__(self, session: RuntimeSession) -> None:
        self.session = session
        self.runtime_id: UUID = session.runtime_id
        self.viewers: set[Viewer] = set()
        self.shown_tab: str | None = session.default_page_id
        self.automation_tab: str | None = session.default_page_id
        self.last_frame: Frame | None = None
        self.titles: dict[str, str] = {}
        self.starts = 0  # Page.startScreencast calls
        self.stops = 0
        self.closed = False
        self._cdp: CDPSession | None = None
        self._cdp_tab: str | None = None
        self._casting = False
        self._resume: asyncio.TimerHandle | None = None
        self._sample_taken = False  # frames still in flight after a sample are not sampled again
        self._start_attempts = 0
        self._retry: asyncio.TimerHandle | None = None
        self._lock = asyncio.Lock()
        self._seq = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tabs_pending = False
        self.control = LiveControl(self.viewers, session.emit)
        session.listeners.append(self._on_event)

    # ---- who needs the screencast ---------------------------------------------------------

    def mode(self) -> Mode:
        if self.closed:
            return "off"
        if any(not viewer.grant.thumbnail for viewer in self.viewers):
            return "live"
        if self.viewers:
            return "sample"  # thumbnails need a picture now and then, not every frame
        return "off"

    def follows_automation(self) -> bool:
        if self.viewers:
            return any(v.follow for v in self.viewers)
        return True  # nobody watches: the first viewer sees where the automation is

    def stats(self) -> dict[str, Any]:
        return {
            "type": "screencast",
            "starts": self.starts,
            "stops": self.stops,
            "casting": self._casting,
            "mode": self.mode(),
            "viewers": len(self.viewers),
        }

    # ---- viewers --------------------------------------------------------------------------

    async def join(self, viewer: Viewer) -> None:
        self.viewers.add(viewer)
        self.control.joined(viewer)
        self.session.emit(
            "embed.viewer_joined", {"interactive": viewer.grant.interactive, "viewers": len(self.viewers)}
        )
        viewer.post(self.tabs_message())
        for tab in self.session.pages:  # titles are not followed while nobody watches
            self._spawn(self._refresh_title(tab))
        if self.last_frame is not None:
            viewer.offer(self.last_frame)
        if viewer.follow and self.automation_tab in self.session.pages:
            await self._show(self.automation_tab)
        await self._apply()
        self._broadcast(self.stats())

    async def leave(self, viewer: Viewer) -> None:
        if viewer not in self.viewers:
            return
        self.viewers.discard(viewer)
        self.control.left(viewer)
        self._report_inputs(viewer)
        if not self.closed:
            self.session.emit(
                "embed.viewer_left", {"interactive": viewer.grant.interactive, "viewers": len(self.viewers)}
            )
        await self._apply()
        self._broadcast(self.stats())

    def _broadcast(self, message: dict[str, Any]) -> None:
        for viewer in self.viewers:
            viewer.post(message)

    # ---- what viewers send ----------------------------------------------------------------

    async def receive(self, viewer: Viewer, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "follow":  # the viewer's own "follow the active tab" toggle, view-only viewers too
            viewer.follow = message.get("on") is True
            if viewer.follow and self.automation_tab in self.session.pages:
                await self._show(self.automation_tab)
            return
        if not self.control.holds(viewer):
            return  # only the controller's input reaches the browser, or switches the shown tab
        if kind == "tab":
            # The shown tab is everyone's (one screencast): the controller picks it.
            tab = message.get("tabId")
            if isinstance(tab, str) and tab in self.session.pages:
                await self._show(tab)
            return
        if kind == "navigate":
            await self._navigate(viewer, message)
            return
        frame = self.last_frame
        if frame is None or message.get("tabId") != frame.tab_id or self._cdp is None:
            return  # aimed at a picture of another tab (the shown tab just changed): drop it
        for command in viewer_input.commands(message, frame.width, frame.height):
            try:
                await self._cdp.send(command.method, command.params)
            except PlaywrightError:
                return  # the page went away under the input
            if command.counts:
                self._count_input(viewer)

    async def _navigate(self, viewer: Viewer, message: dict[str, Any]) -> None:
        page = self.session.pages.get(self.shown_tab or "")
        action = message.get("action")
        url = message.get("url")
        if page is None or page.is_closed():
            return
        if action == "back":
            call = page.go_back(timeout=NAVIGATION_TIMEOUT_MS)
        elif action == "forward":
            call = page.go_forward(timeout=NAVIGATION_TIMEOUT_MS)
        elif action == "reload":
            call = page.reload(timeout=NAVIGATION_TIMEOUT_MS)
        elif action == "go" and isinstance(url, str) and len(url) <= 4000:
            refusal = scheme_refusal(url)  # the runtimes' one egress policy (the proxy judges the rest)
            if refusal is not None:
                self.session.on_refused(refusal)
                return
            call = page.goto(url, timeout=NAVIGATION_TIMEOUT_MS)
        else:
            return
        self._count_input(viewer)
        self._spawn(_quietly(call))  # the viewer sees the load happen; nothing waits for it

    def _count_input(self, viewer: Viewer) -> None:
        self.session.touch()  # someone is using the runtime: it is not idle
        viewer.inputs_unreported += 1
        if viewer.input_timer is None:
            viewer.input_timer = asyncio.get_running_loop().call_later(
                INPUT_EVENT_EVERY_SECONDS, self._report_inputs, viewer
            )

    def _report_inputs(self, viewer: Viewer) -> None:
        """`embed.input` with how many inputs (never which): at most one event per viewer per 2 s."""
        if viewer.input_timer is not None:
            viewer.input_timer.cancel()
            viewer.input_timer = None
        if viewer.inputs_unreported and not self.closed:
            data: dict[str, Any] = {"count": viewer.inputs_unreported, "contextId": self.session.context_id}
            if self.shown_tab:
                data["pageId"] = self.shown_tab
            self.session.emit("embed.input", data)
        viewer.inputs_unreported = 0

    # ---- the shown tab --------------------------------------------------------------------

    def _on_event(self, event_type: str, data: dict[str, Any]) -> None:
        """Runtime events, as the session emits them (synchronous: schedule, never wait)."""
        if self.closed:
            return
        tab = data.get("pageId")
        if event_type == "step.started" and tab:
            self.automation_tab = tab
            if self.follows_automation() and tab != self.shown_tab:
                self._spawn(self._show(tab))
        elif event_type == "page.created" and tab:
            self.automation_tab = tab
            if self.follows_automation():
                self._spawn(self._show(tab))
            self._tabs_changed()
        elif event_type == "page.closed" and tab:
            self.titles.pop(tab, None)
            if tab == self.shown_tab:
                self._spawn(self._show(self._fallback_tab()))
            self._tabs_changed()
        elif event_type in ("page.navigated", "page.loaded") and tab:
            if self.viewers:  # titles are for viewers' tab lists: read on join otherwise
                self._spawn(self._refresh_title(tab))
            self._tabs_changed()
            if tab == self.shown_tab and not self._casting and self.mode() != "off":
                self._spawn(self._apply())

    def _fallback_tab(self) -> str | None:
        pages = self.session.pages
        for candidate in (self.automation_tab, self.session.default_page_id):
            if candidate and candidate in pages and not pages[candidate].is_closed():
                return candidate
        open_tabs = [tab for tab, page in pages.items() if not page.is_closed()]
        return open_tabs[-1] if open_tabs else None

    async def _refresh_title(self, tab: str) -> None:
        page = self.session.pages.get(tab)
        if page is None:
            return
        with contextlib.suppress(PlaywrightError):
            self.titles[tab] = (await page.title())[:300]
            self._tabs_changed()

    def _tabs_changed(self) -> None:
        """Send the tab list once things settle (a page load raises several events at once)."""
        if self._tabs_pending or not self.viewers:
            return
        self._tabs_pending = True

        def send() -> None:
            self._tabs_pending = False
            self._broadcast(self.tabs_message())

        asyncio.get_running_loop().call_later(TABS_SETTLE_SECONDS, send)

    def tabs_message(self) -> dict[str, Any]:
        redact = self.session.seal.redact  # a filled secret in a URL or title is never shown
        tabs = [
            {"id": tab, "url": redact(page.url), "title": redact(self.titles.get(tab, ""))}
            for tab, page in self.session.pages.items()
            if not page.is_closed()
        ]
        return {
            "type": "tabs",
            "tabs": tabs,
            "shownTabId": self.shown_tab,
            "automationTabId": self.automation_tab,
        }

    async def _show(self, tab: str | None) -> None:
        async with self._lock:
            if self.closed:
                return
            if tab != self.shown_tab:
                await self._stop_cast()
                self.shown_tab = tab
                self._tabs_changed()
        await self._apply()  # also when it is shown already: its screencast may not have started

    # ---- the screencast -------------------------------------------------------------------

    async def _apply(self) -> None:
        """Make the screencast match who needs it (see the module docstring)."""
        async with self._lock:
            mode = self.mode()
            page = self.session.pages.get(self.shown_tab or "")
            if mode == "off" or page is None or page.is_closed():
                self._cancel_resume()
                await self._stop_cast()
                return
            if mode == "live":
                self._cancel_resume()
            elif self._resume is not None:
                return  # sampling, between two samples
            self._sample_taken = False
            if not self._casting:
                await self._start_cast(page)

    async def _start_cast(self, page: Page) -> None:
        try:
            if self._cdp is None or self._cdp_tab != self.shown_tab:
                await self._detach()
                context = self.session.context
                if context is None:
                    return
                cdp = await context.new_cdp_session(page)
                cdp.on("Page.screencastFrame", partial(self._on_frame, cdp))
                self._cdp, self._cdp_tab = cdp, self.shown_tab
                await page.bring_to_front()
            await self._cdp.send(  # type: ignore[union-attr]
                "Page.startScreencast", {"format": "jpeg", "quality": settings.LIVE_JPEG_QUALITY}
            )
        except PlaywrightError as exc:
            # A page that just opened can refuse ("Not attached to an active page") until its
            # first navigation commits: try again shortly, and when it navigates.
            logger.debug("Starting the screencast of runtime %s failed: %s", self.runtime_id, exc)
            await self._detach()
            self._retry_start()
            return
        self.starts += 1
        self._casting = True
        self._start_attempts = 0

    def _retry_start(self) -> None:
        """Try again shortly, then every 2 s for as long as someone needs the picture: a viewer must
        get one as soon as the page allows it (`_apply` stops once nobody does or the tab is gone).
        Never more than one retry pending, whatever the number of failed starts."""
        self._start_attempts += 1
        if self.closed or self._retry is not None:
            return
        if self._start_attempts == START_ATTEMPTS:
            logger.info(
                "The screencast of runtime %s has not started after %s attempts; trying every 2 s while needed",
                self.runtime_id,
                START_ATTEMPTS,
            )
        delay = min(2.0, 0.05 * 2 ** min(self._start_attempts, START_ATTEMPTS))

        def again() -> None:
            self._retry = None
            self._spawn(self._apply())

        self._retry = asyncio.get_running_loop().call_later(delay, again)

    async def _stop_cast(self) -> None:
        if not self._casting:
            return
        self._casting = False
        self.stops += 1
        if self._cdp is not None:
            with contextlib.suppress(PlaywrightError):
                await self._cdp.send("Page.stopScreencast")

    async def _detach(self) -> None:
        cdp, self._cdp, self._cdp_tab = self._cdp, None, None
        if cdp is not None:
            with contextlib.suppress(PlaywrightError):
                await cdp.detach()

    def _cancel_resume(self) -> None:
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None

    async def _on_frame(self, cdp: CDPSession, params: dict[str, Any]) -> None:
        if cdp is not self._cdp or self._cdp_tab is None:
            return  # a frame of a screencast we already left
        metadata = params.get("metadata") or {}
        self._seq += 1
        frame = Frame(
            seq=self._seq,
            tab_id=self._cdp_tab,
            jpeg=base64.b64decode(params["data"]),
            captured_ms=float(metadata.get("timestamp") or time.time()) * 1000,
            width=int(metadata.get("deviceWidth") or 0),
            height=int(metadata.get("deviceHeight") or 0),
        )
        self.last_frame = frame
        for viewer in self.viewers:
            viewer.offer(frame)
        # Acked once the viewers have it (not before: the ack is a round trip through the
        # Playwright driver that the frame need not wait for), and before anything slower.
        try:
            await cdp.send("Page.screencastFrameAck", {"sessionId": params["sessionId"]})
        except PlaywrightError:
            return
        if self.mode() == "sample" and not self._sample_taken:
            self._sample_taken = True  # the next sample is taken when the screencast starts again
            self._spawn(self._pause_sampling())

    async def _pause_sampling(self) -> None:
        async with self._lock:
            if self.mode() != "sample" or not self._casting:
                return
            await self._stop_cast()
            self._resume = asyncio.get_running_loop().call_later(
                settings.LIVE_THUMBNAIL_INTERVAL_MS / 1000, self._resume_sampling
            )

    def _resume_sampling(self) -> None:
        self._resume = None
        self._spawn(self._apply())

    # ---- the end ----------------------------------------------------------------------------

    async def close(self, status: str, message: str) -> None:
        """The runtime ended: tell every viewer and close their sockets."""
        self.closed = True
        self.control.close()
        with contextlib.suppress(ValueError):
            self.session.listeners.remove(self._on_event)
        self._cancel_resume()
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        for task in list(self._tasks):
            task.cancel()
        for viewer in list(self.viewers):
            self._report_inputs(viewer)
            viewer.end({"type": "ended", "status": status, "message": message}, code=4000)
        self._casting = False
        await self._detach()

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("Live view task of runtime %s failed", self.runtime_id, exc_info=task.exception())


async def _quietly(call: Coroutine[Any, Any, Any]) -> None:
    with contextlib.suppress(PlaywrightError):
        await call


class Hubs:
    """Every live runtime's hub; the runtime manager's observer that makes and ends them."""

    def __init__(self) -> None:
        self.hubs: dict[UUID, RuntimeHub] = {}

    def get(self, runtime_id: UUID) -> RuntimeHub | None:
        return self.hubs.get(runtime_id)

    def runtime_started(self, session: RuntimeSession) -> None:
        self.hubs[session.runtime_id] = RuntimeHub(session)

    async def runtime_ended(self, session: RuntimeSession, status: str) -> None:
        hub = self.hubs.pop(session.runtime_id, None)
        if hub is not None:
            await hub.close(status, session.runtime.failure_message)


hubs = Hubs()
