"""Recordings: the frames a runtime's browser showed, per tab, on disk, and their life.

On disk (`paths.recording_dir(runtime_id)`), per tab (page id): `<tab>.jpg`, its JPEG frames end
to end, and `<tab>.idx`, one fixed-width record per frame (time from the recording's start,
offset, length, width, height). Appending both is all a frame costs; a record is written after
its frame, so a file cut short by a crash loses at most its last frame, and the player reads
frame n by seeking to n * RECORD.size.

What gets written:
- only frames that differ from the one before (a screencast sends the same picture again when it
  is restarted on a page that did not change);
- at most one frame per ENGINE_RECORDING_FRAME_INTERVAL_MS; the newest frame of a burst is held
  and written when the interval has passed, so the last state of a page is never lost;
- until ENGINE_RECORDING_MAX_BYTES or ENGINE_RECORDING_MAX_SECONDS is reached (then the
  recording keeps what it has and says why in `truncated`).

Writes happen in a thread, fed by a bounded queue: a slow disk drops frames, never stalls the
engine's loop. A recording is `encoding` until the runtime ends and the files are closed, then
`ready`; after ENGINE_RECORDING_RETENTION_SECONDS its files are deleted and it is `expired`.
"""

import asyncio
import hashlib
import logging
import re
import shutil
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from engine import paths
from engine.models import Recording, Runtime, RuntimeEvent

logger = logging.getLogger("engine.live")

RECORD = struct.Struct("<IQIHH")  # t_ms, offset, length, width, height
TAB_ID = re.compile(r"^page_[0-9a-f]{1,32}$")
QUEUE_FRAMES = 16
MARK_TYPES = ("page.navigated", "step.started")
MAX_MARKS = 5000


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


@dataclass
class Recorder:
    """Writes one runtime's recording while it runs; `finalise` makes it `ready`."""

    runtime_id: UUID
    started_at: datetime
    interval: float = field(default_factory=lambda: settings.RECORDING_FRAME_INTERVAL_MS / 1000)
    active: bool = True
    truncated: str = ""
    size_bytes: int = 0
    frame_count: int = 0
    dropped: int = 0
    tabs: dict[str, str] = field(default_factory=dict)  # tab id -> last url, in first-frame order
    _last_digest: bytes = b""
    _last_write: float = float("-inf")
    _pending: RecordedFrame | None = None
    _pending_timer: asyncio.TimerHandle | None = None
    _queue: "asyncio.Queue[RecordedFrame | None]" = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_FRAMES)
    )
    _writer: "asyncio.Task[None] | None" = None
    _files: dict[str, _TabFiles] = field(default_factory=dict)
    _saving: "asyncio.Task[int] | None" = None

    def __post_init__(self) -> None:
        self.directory = paths.recording_dir(self.runtime_id)
        self._writer = asyncio.get_running_loop().create_task(self._write_loop(), name="recording-writer")

    def offer(self, tab_id: str, url: str, jpeg: bytes, captured_ms: float, width: int, height: int) -> bool:
        """Take a frame of the shown tab; True if it differs from the frame before it."""
        if not self.active:
            return False
        digest = hashlib.blake2b(jpeg, digest_size=16).digest()
        if digest == self._last_digest:
            return False
        self._last_digest = digest
        t_ms = max(0, int(captured_ms - self.started_at.timestamp() * 1000))
        if t_ms > settings.RECORDING_MAX_SECONDS * 1000:
            self._stop("duration")
            return False
        self.tabs[tab_id] = url
        frame = RecordedFrame(tab_id, t_ms, jpeg, width, height)
        loop = asyncio.get_running_loop()
        if self._pending is not None and self._pending.tab_id != tab_id:
            self._flush_pending()  # another tab is shown now: keep the last picture of the old one
        if loop.time() - self._last_write >= self.interval:
            self._clear_pending()
            self._write(frame)
        else:
            self._pending = frame
            if self._pending_timer is None:
                self._pending_timer = loop.call_at(self._last_write + self.interval, self._flush_pending)
        return True

    def _flush_pending(self) -> None:
        self._pending_timer = None
        frame, self._pending = self._pending, None
        if frame is not None and self.active:
            self._write(frame)

    def _clear_pending(self) -> None:
        self._pending = None
        if self._pending_timer is not None:
            self._pending_timer.cancel()
            self._pending_timer = None

    def _write(self, frame: RecordedFrame) -> None:
        if self.size_bytes + len(frame.jpeg) + RECORD.size > settings.RECORDING_MAX_BYTES:
            self._stop("size")
            return
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.dropped += 1
            return
        self._last_write = asyncio.get_running_loop().time()
        self.size_bytes += len(frame.jpeg) + RECORD.size
        self.frame_count += 1

    def _stop(self, why: str) -> None:
        logger.info(
            "Recording of runtime %s stops early: ENGINE_RECORDING_MAX_%s reached", self.runtime_id, why
        )
        self.truncated = why
        self.active = False
        self._clear_pending()
        # Said now, not only when finalising: an engine killed later must not forget it.
        self._saving = asyncio.get_running_loop().create_task(
            Recording.objects.filter(runtime_id=self.runtime_id).aupdate(truncated=why)
        )

    async def _write_loop(self) -> None:
        while True:
            frame = await self._queue.get()
            if frame is None:
                return
            try:
                await asyncio.to_thread(self._append, frame)
            except OSError:
                logger.exception("Writing a frame of runtime %s's recording failed", self.runtime_id)

    def _append(self, frame: RecordedFrame) -> None:
        files = self._files.get(frame.tab_id)
        if files is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            files = _TabFiles(
                open(self.directory / f"{frame.tab_id}.jpg", "ab"),  # noqa: SIM115 - closed in _close_files
                open(self.directory / f"{frame.tab_id}.idx", "ab"),  # noqa: SIM115
            )
            self._files[frame.tab_id] = files
        files.frames.write(frame.jpeg)
        files.frames.flush()
        record = RECORD.pack(
            min(frame.t_ms, 2**32 - 1),
            files.offset,
            len(frame.jpeg),
            min(frame.width, 65535),
            min(frame.height, 65535),
        )
        files.index.write(record)
        files.index.flush()
        files.offset += len(frame.jpeg)

    def _close_files(self) -> None:
        for files in self._files.values():
            files.frames.close()
            files.index.close()
        self._files.clear()

    async def finalise(self, ended_at: datetime) -> None:
        """Write what is held, close the files, and make the recording `ready`."""
        self._flush_pending()
        self.active = False
        await self._queue.put(None)
        if self._writer is not None:
            await self._writer
        await asyncio.to_thread(self._close_files)
        duration_ms = max(0, int((ended_at - self.started_at).total_seconds() * 1000))
        await Recording.objects.filter(runtime_id=self.runtime_id).aupdate(
            status=Recording.Status.READY,
            finished_at=ended_at,
            duration_ms=duration_ms,
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


async def start(runtime: Runtime) -> Recorder:
    started_at = timezone.now()
    await Recording.objects.aupdate_or_create(
        runtime_id=runtime.id, defaults={"status": Recording.Status.ENCODING, "started_at": started_at}
    )
    return Recorder(runtime.id, started_at)


# ---- reading a recording (the player) -------------------------------------------------------


def tab_ids(recording: Recording) -> list[str]:
    return [tab["id"] for tab in recording.tabs or []]


def read_times(runtime_id: UUID, tab_id: str) -> list[int]:
    """The time (ms from the start) of every frame of one tab, in order."""
    index = paths.recording_dir(runtime_id) / f"{tab_id}.idx"
    if not TAB_ID.match(tab_id) or not index.exists():
        return []
    data = index.read_bytes()
    usable = len(data) - len(data) % RECORD.size
    return [record[0] for record in RECORD.iter_unpack(data[:usable])]


def read_frame(runtime_id: UUID, tab_id: str, number: int) -> bytes | None:
    """The JPEG of frame `number` of a tab, or None."""
    if not TAB_ID.match(tab_id) or number < 0:
        return None
    directory = paths.recording_dir(runtime_id)
    try:
        with open(directory / f"{tab_id}.idx", "rb") as index:
            index.seek(number * RECORD.size)
            record = index.read(RECORD.size)
            if len(record) < RECORD.size:
                return None
            _t, offset, length, _w, _h = RECORD.unpack(record)
        with open(directory / f"{tab_id}.jpg", "rb") as frames:
            frames.seek(offset)
            jpeg = frames.read(length)
    except FileNotFoundError:
        return None
    return jpeg if len(jpeg) == length else None


async def marks(recording: Recording) -> list[dict[str, Any]]:
    """Navigations and step starts during the recording, as offsets for the player's timeline."""
    events = RuntimeEvent.objects.filter(
        runtime_id=recording.runtime_id,
        event_type__in=MARK_TYPES,
        created_at__gte=recording.started_at,
    ).order_by("sequence")
    if recording.finished_at is not None:
        events = events.filter(created_at__lte=recording.finished_at)
    out = []
    async for event in events[:MAX_MARKS]:
        data = event.event_data
        out.append(
            {
                "t": max(0, int((event.created_at - recording.started_at).total_seconds() * 1000)),
                "type": "navigation" if event.event_type == "page.navigated" else "step",
                "label": str(data.get("url") if event.event_type == "page.navigated" else data.get("call"))[
                    :300
                ],
                "tabId": data.get("pageId"),
            }
        )
    return out


# ---- life after the runtime ------------------------------------------------------------------


async def expire_if_due(recording: Recording) -> Recording:
    """A recording past its retention loses its files and becomes `expired`."""
    if (
        recording.status == Recording.Status.READY
        and recording.expires_at
        and recording.expires_at <= timezone.now()
    ):
        await sync_to_async(shutil.rmtree)(paths.recording_dir(recording.runtime_id), ignore_errors=True)
        recording.status = Recording.Status.EXPIRED
        await Recording.objects.filter(runtime_id=recording.runtime_id).aupdate(
            status=Recording.Status.EXPIRED
        )
    return recording


async def expire_due() -> int:
    """Expire every recording past its retention; remove files no recording owns any more."""
    due = Recording.objects.filter(status=Recording.Status.READY, expires_at__lte=timezone.now())
    count = 0
    async for recording in due:
        await expire_if_due(recording)
        count += 1
    owned = {
        str(r)
        async for r in Recording.objects.exclude(status=Recording.Status.EXPIRED).values_list(
            "runtime_id", flat=True
        )
    }
    await sync_to_async(_remove_unowned)(owned)
    return count


def _remove_unowned(owned: set[str]) -> None:
    root = paths.var_dir() / "recordings"
    if root.is_dir():
        for child in root.iterdir():
            if child.name not in owned:  # its runtime (workspace) was deleted, or it expired
                shutil.rmtree(child, ignore_errors=True)


async def reconcile() -> None:
    """At start, no runtime is live: recordings a killed process left `encoding` are finalised
    from what reached the disk (their runtime ended when that process did)."""
    async for recording in Recording.objects.filter(status=Recording.Status.ENCODING).select_related(
        "runtime"
    ):
        tabs = await sync_to_async(_tabs_on_disk)(recording.runtime_id)
        ended_at = recording.runtime.stopped_at or timezone.now()
        last = max((times[-1] for times in tabs.values() if times), default=0)
        duration_ms = max(last, int((ended_at - recording.started_at).total_seconds() * 1000))
        await Recording.objects.filter(runtime_id=recording.runtime_id).aupdate(
            status=Recording.Status.READY,
            finished_at=ended_at,
            duration_ms=duration_ms,
            tabs=[{"id": tab, "url": ""} for tab in tabs],
            frame_count=sum(len(times) for times in tabs.values()),
            expires_at=ended_at + timedelta(seconds=settings.RECORDING_RETENTION_SECONDS),
        )
    await expire_due()


def _tabs_on_disk(runtime_id: UUID) -> dict[str, list[int]]:
    directory: Path = paths.recording_dir(runtime_id)
    if not directory.is_dir():
        return {}
    found = {index.stem: read_times(runtime_id, index.stem) for index in directory.glob("*.idx")}
    # In the order the tabs first appeared, like a recording finalised normally.
    return dict(sorted(((tab, times) for tab, times in found.items() if times), key=lambda item: item[1][0]))


async def sweep_forever(every_seconds: float) -> None:
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await expire_due()
        except Exception:
            logger.exception("Expiring recordings failed; will try again in %s s", every_seconds)
