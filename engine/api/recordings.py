"""A run's recording as a video file, by run id: encoded while it streams (engine/live/video.py).

At most ENGINE_RECORDING_EXPORTS_MAX exports run at once (each is a child process encoding on one
core, niced); more get 429 with Retry-After. A recording still being made exports what it has so
far.
"""

import asyncio
import contextlib
import json
import logging
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Literal

from django.conf import settings
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

import engine
from engine import paths
from engine.api.auth import READ
from engine.api.common import RuntimeId
from engine.api.runtimes import get_run
from engine.errors import ApiError, invalid
from engine.live import recordings, video
from engine.models import Recording, Runtime

logger = logging.getLogger("engine.live")
router = Router(tags=["recordings"])

CHUNK = 64 * 1024
END_TIMEOUT_SECONDS = 10
ROOT = Path(engine.__file__).resolve().parents[1]  # where `python -m engine.live.video` is found
_running = 0


class VideoQuery(Schema):
    format: Literal["webm", "mp4"] = Field(default="webm", description="WebM (VP8) or MP4 (H.264).")
    tab: str | None = Field(
        default=None,
        max_length=64,
        description="One tab (a `tabIds` entry of the embed answer); without it, the video follows the tab "
        "the automation was on (where a step ran, or a page opened).",
    )


@router.get(
    "/{runtimeId}/recording/video",
    operation_id="runs-recording-video",
    auth=READ,
    summary="One run's recording as a video file (WebM or MP4), streamed as it is encoded",
    response={200: None},
    openapi_extra={
        "responses": {
            "200": {
                "description": "The video, streamed (no Content-Length).",
                "content": {
                    mime: {"schema": {"type": "string", "format": "binary"}}
                    for mime in video.FORMATS.values()
                },
            }
        }
    },
)
async def recording_video(
    request: HttpRequest, runtime_id: RuntimeId, query: Query[VideoQuery]
) -> StreamingHttpResponse:
    runtime = await get_run(runtime_id)
    recording = await _playable(runtime)
    plan = await _plan(runtime, recording, query)
    global _running
    if _running >= settings.RECORDING_EXPORTS_MAX:
        raise ApiError(
            429,
            "rate_limited",
            f"{_running} video exports are running (ENGINE_RECORDING_EXPORTS_MAX); try again shortly.",
            headers={"Retry-After": "10"},
        )
    _running += 1
    # The child's complaints go to a file: a pipe nobody reads while it encodes could fill and stall it.
    errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed by _end
    try:
        child = await asyncio.create_subprocess_exec(
            *video.child_command(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
            cwd=ROOT,
        )
    except BaseException:
        _running -= 1
        errors.close()
        raise
    export = _Export(child, errors)
    try:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps(plan).encode())
        await child.stdin.drain()
        child.stdin.close()
        first = await child.stdout.read(CHUNK)
    except BaseException:
        await export.end(finished=False)
        raise
    if not first:
        await export.end(finished=True)
        raise ApiError(
            500,
            "recording.export_failed",
            "The video could not be made from this recording; the engine's log says why.",
        )
    response = StreamingHttpResponse(export.stream(first), content_type=video.FORMATS[query.format])
    name = f"{runtime.alias}-{str(runtime.id)[:8]}.{query.format}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


async def _playable(runtime: Runtime) -> Recording:
    recording = await Recording.objects.filter(runtime_id=runtime.id).afirst()
    if recording is not None:
        recording = await recordings.expire_if_due(recording)
    if recording is None or recording.status == Recording.Status.EXPIRED:
        why = (
            "its recording expired (ENGINE_RECORDING_RETENTION_SECONDS)"
            if recording is not None
            else "it was launched with recording off"
        )
        raise ApiError(
            404,
            "recording.not_found",
            f"Runtime '{runtime.alias}' ({runtime.id}) has no recording to export: {why}.",
            {"status": recording.status if recording is not None else None},
        )
    return recording


async def _plan(runtime: Runtime, recording: Recording, query: VideoQuery) -> dict[str, object]:
    tabs = await asyncio.to_thread(recordings.tabs_on_disk, runtime.id)
    if not tabs:
        raise ApiError(
            409,
            "recording.empty",
            f"Nothing of runtime '{runtime.alias}' is recorded yet: its browser has not painted a page since "
            "it started. Try again once it shows something.",
            {"status": recording.status},
        )
    if query.tab is not None:
        if query.tab not in tabs:
            raise invalid(
                f"Tab '{query.tab[:64]}' has no frames in this recording; the embed answer's tabIds lists those that do.",
                [{"path": "tab", "message": "Not a recorded tab."}],
            )
        segments: list[tuple[int, str | None]] = [(0, query.tab)]
    else:
        segments = [(t, tab) for t, tab in await recordings.focus(recording) if tab is None or tab in tabs]
        first_tab = next(iter(tabs))
        if not segments or segments[0][0] > 0:
            segments.insert(0, (0, first_tab))
    live = recording.status == Recording.Status.ENCODING
    return {
        "directory": str(paths.recording_dir(runtime.id)),
        "format": query.format,
        "durationMs": recordings.live_duration_ms(recording) if live else recording.duration_ms or 0,
        "segments": segments,
    }


class _Export:
    """One export's child process, its error file, and its slot among ENGINE_RECORDING_EXPORTS_MAX."""

    def __init__(self, child: asyncio.subprocess.Process, errors: IO[bytes]) -> None:
        self.child = child
        self.errors = errors
        self.ended = False

    async def stream(self, first: bytes) -> AsyncIterator[bytes]:
        assert self.child.stdout is not None
        finished = False
        try:
            yield first
            while chunk := await self.child.stdout.read(CHUNK):
                yield chunk
            finished = True
        finally:  # also when the client went away: then the child is killed at once
            await self.end(finished)

    async def end(self, finished: bool) -> None:
        global _running
        if self.ended:
            return
        self.ended = True
        _running -= 1
        if not finished and self.child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.child.kill()
        try:
            code = await asyncio.wait_for(self.child.wait(), END_TIMEOUT_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.child.kill()
            code = await self.child.wait()
        if finished and code != 0:
            self.errors.seek(0)
            complaint = self.errors.read()[-2000:].decode(errors="replace")
            logger.error("A video export failed (exit %s): %s", code, complaint)
        self.errors.close()
