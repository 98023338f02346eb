"""Recordings: reading them (the player, the video export) and their life (format: framestore.py).

A recording is `encoding` while its runtime runs and until its files are closed, then `ready`;
after ENGINE_RECORDING_RETENTION_SECONDS its files are deleted and it is `expired`.
"""

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from engine import paths
from engine.live import framestore
from engine.models import Recording, RuntimeEvent

MARK_TYPES = ("page.navigated", "step.started")
FOCUS_TYPES = ("page.created", "step.started", "page.closed")
MAX_MARKS = 5000
MAX_FOCUS = 20_000


def read_times(runtime_id: UUID, tab_id: str) -> list[int]:
    """The time (ms from the start) of every frame of one tab, in order."""
    return [record.t_ms for record in framestore.read_index(paths.recording_dir(runtime_id), tab_id)]


def read_frame(runtime_id: UUID, tab_id: str, number: int) -> bytes | None:
    return framestore.read_frame(paths.recording_dir(runtime_id), tab_id, number)


def tabs_on_disk(runtime_id: UUID) -> dict[str, list[int]]:
    """Each tab's frame times, in the order the tabs first painted."""
    directory: Path = paths.recording_dir(runtime_id)
    if not directory.is_dir():
        return {}
    found = {index.stem: read_times(runtime_id, index.stem) for index in directory.glob("*.idx")}
    return dict(sorted(((tab, times) for tab, times in found.items() if times), key=lambda item: item[1][0]))


def tab_ids(recording: Recording) -> list[str]:
    return [tab["id"] for tab in recording.tabs or []]


def offset_ms(recording: Recording, at: datetime) -> int:
    return max(0, int((at - recording.started_at).total_seconds() * 1000))


def live_duration_ms(recording: Recording) -> int:
    """How far a recording that is still being made reaches: now, within its bound."""
    return min(offset_ms(recording, timezone.now()), settings.RECORDING_MAX_SECONDS * 1000)


def _events(recording: Recording, types: tuple[str, ...]) -> Any:
    events = RuntimeEvent.objects.filter(
        runtime_id=recording.runtime_id, event_type__in=types, created_at__gte=recording.started_at
    ).order_by("sequence")
    if recording.finished_at is not None:
        events = events.filter(created_at__lte=recording.finished_at)
    return events


async def marks(recording: Recording) -> list[dict[str, Any]]:
    """Navigations and step starts during the recording, as offsets for the player's timeline."""
    out = []
    async for event in _events(recording, MARK_TYPES)[:MAX_MARKS]:
        data = event.event_data
        navigation = event.event_type == "page.navigated"
        out.append(
            {
                "t": offset_ms(recording, event.created_at),
                "type": "navigation" if navigation else "step",
                "label": str(data.get("url") if navigation else data.get("call"))[:300],
                "tabId": data.get("pageId"),
            }
        )
    return out


async def focus(recording: Recording) -> list[tuple[int, str | None]]:
    """Which tab the automation was on, from when: [(t_ms, tab id or None when it closed)].
    A tab is in focus from when it opens or a step runs on it (what the live view follows too)."""
    out: list[tuple[int, str | None]] = []
    async for event in _events(recording, FOCUS_TYPES)[:MAX_FOCUS]:
        tab = event.event_data.get("pageId")
        if not isinstance(tab, str):
            continue
        if event.event_type == "page.closed":
            if out and out[-1][1] == tab:
                out.append((offset_ms(recording, event.created_at), None))
        elif not out or out[-1][1] != tab:
            out.append((offset_ms(recording, event.created_at), tab))
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
        tabs = await sync_to_async(tabs_on_disk)(recording.runtime_id)
        ended_at = recording.runtime.stopped_at or timezone.now()
        last = max((times[-1] for times in tabs.values() if times), default=0)
        duration_ms = max(last, offset_ms(recording, ended_at))
        await Recording.objects.filter(runtime_id=recording.runtime_id).aupdate(
            status=Recording.Status.READY,
            finished_at=ended_at,
            duration_ms=duration_ms,
            tabs=[{"id": tab, "url": ""} for tab in tabs],
            frame_count=sum(len(times) for times in tabs.values()),
            expires_at=ended_at + timedelta(seconds=settings.RECORDING_RETENTION_SECONDS),
        )
    await expire_due()
