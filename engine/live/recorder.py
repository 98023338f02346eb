"""Recording a runtime: every tab's own screencast, throttled at the source, written as it comes.

- **Every tab and popup** (up to MAX_TABS open at once), each with a screencast of its own (a CDP
  session per page, apart from the live view's one screencast): a recording shows every tab,
  whichever one a viewer watches. A headless browser paints background tabs too, so none is
  brought to front.
- **At most one frame per tab per ENGINE_RECORDING_FRAME_INTERVAL_MS while the page changes, none
  while it does not**: a screencast sends a frame only when the page repaints, and the next one
  only once the last is acked; the recorder holds each ack until one interval has passed since
  the previous ack. The browser thus encodes no frame nobody keeps (sampling after the fact, or
  `everyNthFrame`, would pay for every repaint). While an ack is held the browser may drop the
  frame of a page's last repaint: after a held ack, a tab that sends nothing for REFRESH_INTERVALS
  intervals has its screencast started again, once (a start sends the current picture), so the
  final state of a page is never missed.
- **An engine-wide budget**: all tabs of all runtimes together record at most
  ENGINE_RECORDING_MAX_FPS frames per second; when more tabs change at once than that allows at
  the full rate, each gets an equal share (twenty animating runtimes on a small machine record at
  a few frames per second each rather than take the CPU their automation needs).
- Frames identical to the tab's previous one are not written (a restarted screencast repeats it).
- Written (framestore.py has the format) by a thread fed by a bounded queue: a slow disk drops
  frames, never stalls the engine's loop; until ENGINE_RECORDING_MAX_BYTES or
  ENGINE_RECORDING_MAX_SECONDS (then the recording keeps what it has and says why in `truncated`).

`recorders` follows runtimes as an observer of the runtime manager; a recording is playable while
its runtime runs (recordings.py reads the files as they grow) and `finalise`d when it ends.
"""

import asyncio
import base64
import contextlib
import hashlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import IO, Any
from uuid import UUID

from django.conf import settings
from django.utils import timezone
from playwright.async_api import CDPSession
from playwright.async_api import Error as PlaywrightError

from engine import paths
from engine.live.framestore import RECORD
from engine.models import Recording
from engine.runtimes.session import RuntimeSession

logger = logging.getLogger("engine.live")

QUEUE_FRAMES = 32
MAX_SIDE = 1280  # frames are scaled down to fit a 1280x1280 box (a 4K viewport records as 1280x720)
REFRESH_INTERVALS = 3
START_ATTEMPTS = 40  # a tab whose screencast will not start is retried, at most every 2 s, this often
MAX_TABS = 8  # tabs recorded at once: a page that opens popups by the dozen does not get a screencast each


@dataclass
class RecordedFrame:
    tab_id: str
    t_ms: int
    jpeg: bytes
    width: int
    height: int


@dataclass
class _TabFiles:
    frames: IO[bytes]
    index: IO[bytes]
    offset: int = 0


@dataclass(eq=False)
class TabCast:
    """The recording's screencast of one tab."""

    tab_id: str
    cdp: CDPSession | None = None
    last_ack: float = float("-inf")
    last_digest: bytes = b""
    held: bool = False  # the last ack was held back: the browser may have dropped a frame
    refresh: asyncio.TimerHandle | None = None
    attempts: int = 0
    retry: asyncio.TimerHandle | None = None
    started: bool = False  # its screencast started once
    starting: bool = False
    closed: bool = False


class FrameBudget:
    """The engine-wide share of recorded frames: a tab's interval is the configured one, or longer
    when more tabs are changing (painted in the last second) than ENGINE_RECORDING_MAX_FPS allows."""

    def __init__(self) -> None:
        self.last_frame: dict[TabCast, float] = {}

    def interval(self, cast: TabCast, now: float) -> float:
        self.last_frame[cast] = now
        changing = sum(1 for at in self.last_frame.values() if now - at < 1.0)
        return max(settings.RECORDING_FRAME_INTERVAL_MS / 1000, changing / settings.RECORDING_MAX_FPS)

    def forget(self, cast: TabCast) -> None:
        self.last_frame.pop(cast, None)


budget = FrameBudget()


@dataclass
class Recorder:
    """Writes one runtime's recording while it runs; `finalise` makes it `ready`."""

    session: RuntimeSession
    started_at: datetime
    active: bool = True
    truncated: str = ""
    size_bytes: int = 0
    frame_count: int = 0
    dropped: int = 0
    starts: int = 0  # Page.startScreencast calls (tests and the bench read them)
    tabs: dict[str, str] = field(default_factory=dict)  # tab id -> last url, in first-frame order
    casts: dict[str, TabCast] = field(default_factory=dict)
    _queue: "asyncio.Queue[RecordedFrame | None]" = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_FRAMES)
    )
    _writer: "asyncio.Task[None] | None" = None
    _files: dict[str, _TabFiles] = field(default_factory=dict)
    _tasks: set["asyncio.Task[Any]"] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.runtime_id: UUID = self.session.runtime_id
        self.directory = paths.recording_dir(self.runtime_id)
        self._writer = asyncio.get_running_loop().create_task(self._write_loop(), name="recording-writer")
        self.session.listeners.append(self._on_event)
        for tab in list(self.session.pages):
            self._cast(tab)

    # ---- following the tabs -----------------------------------------------------------------

    def _on_event(self, event_type: str, data: dict[str, Any]) -> None:
        """Runtime events, as the session emits them (synchronous: schedule, never wait)."""
        tab = data.get("pageId")
        if not self.active or not isinstance(tab, str):
            return
        if event_type == "page.created":
            self._cast(tab)
        elif event_type == "page.closed":
            cast = self.casts.pop(tab, None)
            if cast is not None:
                self._spawn(self._stop(cast))
        elif event_type in ("page.navigated", "page.loaded"):
            if tab in self.tabs and event_type == "page.navigated":
                self.tabs[tab] = str(data.get("url", ""))[:2000]
            cast = self.casts.get(tab)
            if cast is not None and not cast.started and not cast.closed:
                # A page that refused before its first navigation commits: now, not at the next retry.
                if cast.retry is not None:
                    cast.retry.cancel()
                    cast.retry = None
                self._spawn(self._start(cast))

    def _cast(self, tab: str) -> None:
        if len(self.casts) >= MAX_TABS:
            logger.info(
                "Runtime %s has %d tabs recorded already; tab %s is not", self.runtime_id, MAX_TABS, tab
            )
            return
        if tab not in self.casts:
            cast = TabCast(tab)
            self.casts[tab] = cast
            self._spawn(self._start(cast))

    async def _start(self, cast: TabCast) -> None:
        if cast.starting:
            return  # one start at a time: two would make two CDP sessions
        cast.starting = True
        try:
            await self._start_cast(cast)
        finally:
            cast.starting = False

    async def _start_cast(self, cast: TabCast) -> None:
        page = self.session.pages.get(cast.tab_id)
        context = self.session.context
        if cast.closed or not self.active or page is None or page.is_closed() or context is None:
            return
        try:
            if cast.cdp is None:
                cdp = await context.new_cdp_session(page)
                cdp.on("Page.screencastFrame", partial(self._on_frame, cast))
                cast.cdp = cdp
            await cast.cdp.send(
                "Page.startScreencast",
                {
                    "format": "jpeg",
                    "quality": settings.RECORDING_JPEG_QUALITY,
                    "maxWidth": MAX_SIDE,
                    "maxHeight": MAX_SIDE,
                },
            )
        except PlaywrightError as exc:
            # A page that just opened can refuse ("Not attached to an active page") until its
            # first navigation commits: try again shortly, and when it navigates.
            logger.debug(
                "Recording tab %s of runtime %s did not start: %s", cast.tab_id, self.runtime_id, exc
            )
            await self._detach(cast)
            self._retry(cast)
            return
        self.starts += 1
        cast.attempts = 0
        cast.started = True

    def _retry(self, cast: TabCast) -> None:
        cast.attempts += 1
        if cast.closed or not self.active or cast.retry is not None or cast.attempts > START_ATTEMPTS:
            return

        def again() -> None:
            cast.retry = None
            self._spawn(self._start(cast))

        delay = min(2.0, 0.05 * 2 ** min(cast.attempts, 6))
        cast.retry = asyncio.get_running_loop().call_later(delay, again)

    async def _stop(self, cast: TabCast) -> None:
        cast.closed = True
        budget.forget(cast)
        for timer in (cast.refresh, cast.retry):
            if timer is not None:
                timer.cancel()
        await self._detach(cast)

    async def _detach(self, cast: TabCast) -> None:
        cdp, cast.cdp = cast.cdp, None
        if cdp is not None:
            with contextlib.suppress(PlaywrightError):
                await cdp.detach()

    # ---- frames -----------------------------------------------------------------------------

    def _on_frame(self, cast: TabCast, params: dict[str, Any]) -> None:
        if cast.closed or cast.cdp is None:
            return
        if cast.refresh is not None:
            cast.refresh.cancel()
            cast.refresh = None
        metadata = params.get("metadata") or {}
        jpeg = base64.b64decode(params["data"])
        captured_ms = float(metadata.get("timestamp") or timezone.now().timestamp()) * 1000
        self._take(
            cast,
            jpeg,
            captured_ms,
            int(metadata.get("deviceWidth") or 0),
            int(metadata.get("deviceHeight") or 0),
        )
        if not self.active:
            return
        # The next frame may come one interval after the last ack, not sooner.
        loop = asyncio.get_running_loop()
        interval = budget.interval(cast, loop.time())
        wait = cast.last_ack + interval - loop.time()
        cast.held = wait > 0
        cast.last_ack = loop.time() + max(0.0, wait)
        ack = partial(self._ack, cast, params["sessionId"])
        if cast.held:
            loop.call_later(wait, ack)
        else:
            ack()

    def _ack(self, cast: TabCast, screencast_session: int) -> None:
        if cast.closed or cast.cdp is None or not self.active:
            return
        self._spawn(_quietly(cast.cdp.send("Page.screencastFrameAck", {"sessionId": screencast_session})))
        if cast.held:
            if cast.refresh is not None:
                cast.refresh.cancel()
            delay = settings.RECORDING_FRAME_INTERVAL_MS / 1000 * REFRESH_INTERVALS
            cast.refresh = asyncio.get_running_loop().call_later(delay, self._refresh, cast)

    def _refresh(self, cast: TabCast) -> None:
        """No frame since a held ack: ask for the current picture once (it may be the last one)."""
        cast.refresh = None
        cast.held = False
        if cast.closed or cast.cdp is None or not self.active:
            return

        async def restart(cdp: CDPSession) -> None:
            with contextlib.suppress(PlaywrightError):
                await cdp.send("Page.stopScreencast")
            await self._start(cast)

        self._spawn(restart(cast.cdp))

    def _take(self, cast: TabCast, jpeg: bytes, captured_ms: float, width: int, height: int) -> None:
        if not self.active:
            return
        digest = hashlib.blake2b(jpeg, digest_size=16).digest()
        if digest == cast.last_digest:
            return
        cast.last_digest = digest
        t_ms = max(0, int(captured_ms - self.started_at.timestamp() * 1000))
        if t_ms > settings.RECORDING_MAX_SECONDS * 1000:
            self._bound("duration")
            return
        if self.size_bytes + len(jpeg) + RECORD.size > settings.RECORDING_MAX_BYTES:
            self._bound("size")
            return
        try:
            self._queue.put_nowait(RecordedFrame(cast.tab_id, t_ms, jpeg, width, height))
        except asyncio.QueueFull:
            self.dropped += 1
            return
        if cast.tab_id not in self.tabs:
            page = self.session.pages.get(cast.tab_id)
            self.tabs[cast.tab_id] = page.url[:2000] if page is not None else ""
        self.size_bytes += len(jpeg) + RECORD.size
        self.frame_count += 1

    def _bound(self, why: str) -> None:
        setting = {"size": "ENGINE_RECORDING_MAX_BYTES", "duration": "ENGINE_RECORDING_MAX_SECONDS"}[why]
        logger.info("Recording of runtime %s stops early: %s reached", self.runtime_id, setting)
        self.truncated = why
        self.active = False
        for cast in self.casts.values():
            self._spawn(self._stop(cast))
        # Said now, not only when finalising: an engine killed later must not forget it.
        self._spawn(Recording.objects.filter(runtime_id=self.runtime_id).aupdate(truncated=why))

    # ---- writing ------------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        """Write what is queued, a batch per trip to the thread (frames of several tabs come together)."""
        done = False
        while not done:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            done = None in batch
            frames = [frame for frame in batch if frame is not None]
            try:
                await asyncio.to_thread(self._append, frames)
            except OSError:
                logger.exception("Writing frames of runtime %s's recording failed", self.runtime_id)

    def _append(self, frames: list[RecordedFrame]) -> None:
        touched: list[_TabFiles] = []
        for frame in frames:
            files = self._files.get(frame.tab_id)
            if files is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                files = _TabFiles(
                    open(self.directory / f"{frame.tab_id}.jpg", "ab"),  # noqa: SIM115 - closed in _close_files
                    open(self.directory / f"{frame.tab_id}.idx", "ab"),  # noqa: SIM115
                )
                self._files[frame.tab_id] = files
            files.frames.write(frame.jpeg)
            record = RECORD.pack(
                min(frame.t_ms, 2**32 - 1),
                files.offset,
                len(frame.jpeg),
                min(frame.width, 65535),
                min(frame.height, 65535),
            )
            files.index.write(record)  # buffered (a batch is far below its buffer) until the frames are out
            files.offset += len(frame.jpeg)
            touched.append(files)
        for files in touched:
            files.frames.flush()
        for files in touched:  # after their frames: a reader never finds a record without one
            files.index.flush()

    def _close_files(self) -> None:
        for files in self._files.values():
            files.frames.close()
            files.index.close()
        self._files.clear()

    async def finalise(self, ended_at: datetime) -> None:
        """Stop every screencast, write what is queued, close the files, make the recording `ready`."""
        self.active = False
        with contextlib.suppress(ValueError):
            self.session.listeners.remove(self._on_event)
        for cast in list(self.casts.values()):
            await self._stop(cast)
        for task in list(self._tasks):
            task.cancel()
        await self._queue.put(None)
        if self._writer is not None:
            await self._writer
        await asyncio.to_thread(self._close_files)
        duration_ms = max(0, int((ended_at - self.started_at).total_seconds() * 1000))
        await Recording.objects.filter(runtime_id=self.runtime_id).aupdate(
            status=Recording.Status.READY,
            finished_at=ended_at,
            duration_ms=min(duration_ms, settings.RECORDING_MAX_SECONDS * 1000),
            tabs=[{"id": tab, "url": url} for tab, url in self.tabs.items()],
            frame_count=self.frame_count,
            size_bytes=self.size_bytes,
            truncated=self.truncated,
            expires_at=ended_at + timedelta(seconds=settings.RECORDING_RETENTION_SECONDS),
        )
        if self.dropped:
            logger.warning(
                "Recording of runtime %s dropped %d frame(s): the disk was slow",
                self.runtime_id,
                self.dropped,
            )

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: "asyncio.Task[Any]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("Recording task of runtime %s failed", self.runtime_id, exc_info=task.exception())


async def _quietly(call: Coroutine[Any, Any, Any]) -> None:
    with contextlib.suppress(PlaywrightError):
        await call


class Recorders:
    """Every recording being made; the runtime manager's observer that starts and finalises them."""

    def __init__(self) -> None:
        self.recorders: dict[UUID, Recorder] = {}
        self._rows: dict[UUID, asyncio.Task[Any]] = {}

    def get(self, runtime_id: UUID) -> Recorder | None:
        return self.recorders.get(runtime_id)

    def runtime_started(self, session: RuntimeSession) -> None:
        if not session.runtime.config.get("recording"):
            return
        started_at = timezone.now()
        # The row first (a player asks for it), the frames from now: both start in this call.
        self._rows[session.runtime_id] = asyncio.get_running_loop().create_task(
            Recording.objects.aupdate_or_create(
                runtime_id=session.runtime_id,
                defaults={"status": Recording.Status.ENCODING, "started_at": started_at},
            )
        )
        self.recorders[session.runtime_id] = Recorder(session, started_at)

    async def runtime_ended(self, session: RuntimeSession, status: str) -> None:
        recorder = self.recorders.pop(session.runtime_id, None)
        row = self._rows.pop(session.runtime_id, None)
        if row is not None:
            try:
                await row
            except Exception:
                logger.exception("The recording of runtime %s could not be saved", session.runtime_id)
                return
        if recorder is not None:
            await recorder.finalise(timezone.now())


recorders = Recorders()
