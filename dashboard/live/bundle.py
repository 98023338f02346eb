"""A run as one zip to take away (a bug report, a ticket): what the run was, every event, its
network as a HAR, and its recording as a video.

Streamed as it is made: the events are written page by page as they are read, and the video's
bytes go straight from the engine into the zip (stored, not compressed again), so a long run's
bundle never sits in the console's memory. The zip is written without seeking (data descriptors
after each member), which every unzip tool reads.
"""

import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from dashboard.bctrl.downloads import Download
from dashboard.bctrl.events import Event
from dashboard.bctrl.runtimes import Runtime
from dashboard.live import har

README = """This bundle is one run of the BCTRL runtime {alias} ({id}), exported by BCTRL Console.

- runtime.json   what the run was: its status, when it started and ended, why, its configuration
- events.json    every event of the run, oldest first (as GET /v1/runtimes/{id}/events lists them)
- network.har    its network as a HAR 1.2 file: open it in Chrome DevTools (Network, Import HAR)
- {video}

Secret headers (Authorization, Cookie, Set-Cookie...) were redacted by the engine before they were kept.
"""


class _Chunks(io.RawIOBase):
    """Where the zip writes: bytes held until the response takes them (it cannot seek)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def event_json(event: Event) -> dict[str, Any]:
    """An event as the API lists it."""
    return {
        "id": event.id,
        "sequence": event.sequence,
        "eventType": event.event_type,
        "createdAt": event.created_at.isoformat() if isinstance(event.created_at, datetime) else None,
        "runtime": event.runtime,
        "operationId": event.operation_id,
        "eventData": event.event_data,
    }


async def stream(
    runtime: Runtime,
    runtime_json: dict[str, Any],
    pages: AsyncIterator[list[Event]],
    video: Download | None,
    video_note: str,
) -> AsyncIterator[bytes]:
    """The zip's bytes; `pages` yields the run's events a page at a time, oldest first."""
    out = _Chunks()
    archive = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED)
    video_name = f"recording.{_extension(video)}" if video else ""
    readme = README.format(
        alias=runtime.alias,
        id=runtime.id,
        video=f"{video_name:<14} its recording, as a video" if video else f"no video: {video_note}",
    )
    archive.writestr("README.txt", readme)
    archive.writestr("runtime.json", json.dumps(runtime_json, indent=2, default=str))
    yield out.take()
    network: list[Event] = []
    with archive.open("events.json", "w") as member:
        member.write(b"[")
        first = True
        async for page in pages:
            for event in page:
                member.write(
                    (b"\n" if first else b",\n") + json.dumps(event_json(event), default=str).encode()
                )
                first = False
                if event.event_type in har.EVENT_TYPES:
                    network.append(event)
            yield out.take()
        member.write(b"\n]\n")
    archive.writestr("network.har", json.dumps(har.build(runtime, network), indent=1))
    yield out.take()
    if video is not None:
        info = zipfile.ZipInfo(video_name, date_time=datetime.now().timetuple()[:6])
        info.compress_type = zipfile.ZIP_STORED  # a video is compressed already
        with archive.open(info, "w", force_zip64=True) as member:
            async for chunk in video.chunks:
                member.write(chunk)
                yield out.take()
    archive.close()
    yield out.take()


def _extension(video: Download) -> str:
    return "mp4" if "mp4" in video.content_type else "webm"
