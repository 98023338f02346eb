"""A recording as one video file: WebM (VP8) or MP4 (H.264), encoded by PyAV (FFmpeg ships in its
wheel) in a child process, `python -m engine.live.video`, one per export.

The parent (the API route) sends a plan as JSON on the child's stdin: the recording's directory,
the format, the length, and which tab to show from when (`segments`, [[t_ms, tabId], ...]: one
tab, or the tab the automation was on). The child writes the video to its stdout as it encodes,
so the engine streams it and never holds it; it runs niced, on one thread, so an export does not
take the CPU the runtimes need, and it is killed if the client goes away.

The video has a frame wherever the recording has one (variable frame rate, millisecond
timestamps, the recording's own times), and ends at the recording's length. Written to a pipe,
neither container can say its length up front (players find it as they play).
"""

import bisect
import json
import os
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

from engine.live.framestore import IndexRecord, read_index, read_jpeg

FORMATS = {"webm": "video/webm", "mp4": "video/mp4"}
MILLISECOND = Fraction(1, 1000)
KEYFRAME_EVERY = 50  # frames: a player seeks to within a few seconds at worst
NICENESS = 10


@dataclass(frozen=True)
class Shot:
    """Show this frame of this tab from `t_ms` on."""

    t_ms: int
    tab_id: str
    record: IndexRecord


def shots(
    indexes: dict[str, list[IndexRecord]], segments: list[tuple[int, str | None]], duration_ms: int
) -> list[Shot]:
    """The frames to show, in time order: in each segment, the shown tab's picture at the segment's
    start (its last frame before then), then every frame it painted until the next segment."""
    out: list[Shot] = []
    for number, (start, tab) in enumerate(segments):
        end = segments[number + 1][0] if number + 1 < len(segments) else duration_ms + 1
        records = indexes.get(tab or "", [])
        if not records or start >= end:
            continue  # no tab, or one that never painted: the picture before stays
        times = [record.t_ms for record in records]
        first = bisect.bisect_right(times, start) - 1
        if first >= 0:
            out.append(Shot(start, tab or "", records[first]))
        for record in records[first + 1 :]:
            if record.t_ms >= end:
                break
            out.append(Shot(record.t_ms, tab or "", record))
    return out


def encode(plan: dict[str, Any], output: BinaryIO) -> int:
    """Write the planned video to `output` (a pipe: only `write` is used); the frames written."""
    import av  # here: only the child process pays for loading FFmpeg

    directory = Path(plan["directory"])
    segments = [(int(t), tab) for t, tab in plan["segments"]]
    indexes = {tab: read_index(directory, tab) for _t, tab in segments if tab}
    planned = shots(indexes, segments, int(plan["durationMs"]))
    if not planned:
        return 0
    decoder = av.CodecContext.create("mjpeg", "r")
    fmt = plan["format"]
    options = {"movflags": "frag_keyframe+empty_moov+default_base_moof"} if fmt == "mp4" else {}
    container = av.open(_Pipe(output), "w", format=fmt, options=options)
    stream = None
    last_pts = -1
    written = 0
    picture = None
    for shot in planned:
        jpeg = read_jpeg(directory, shot.tab_id, shot.record)
        decoded = decoder.decode(av.Packet(jpeg)) if jpeg else []
        if not decoded:
            continue
        if stream is None:
            stream = _add_stream(container, fmt, decoded[0].width, decoded[0].height)
        picture = decoded[0].reformat(width=stream.width, height=stream.height, format="yuv420p")
        last_pts = max(shot.t_ms, last_pts + 1)
        written += _write(container, stream, picture, last_pts)
    if stream is not None and picture is not None:
        end = int(plan["durationMs"])
        if end > last_pts:  # the last picture lasts until the recording's end
            written += _write(container, stream, picture, end)
        for packet in stream.encode(None):
            container.mux(packet)
    container.close()
    return written


def _add_stream(container: Any, fmt: str, width: int, height: int) -> Any:
    if fmt == "webm":
        stream = container.add_stream("libvpx")
        stream.bit_rate = 1_000_000
        stream.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "threads": "1"}
    else:
        stream = container.add_stream("libx264")
        stream.options = {"preset": "veryfast", "crf": "28", "threads": "1"}
    stream.width, stream.height = width - width % 2, height - height % 2
    stream.pix_fmt = "yuv420p"
    stream.time_base = MILLISECOND
    stream.codec_context.time_base = MILLISECOND
    stream.codec_context.gop_size = KEYFRAME_EVERY
    return stream


def _write(container: Any, stream: Any, picture: Any, pts: int) -> int:
    picture.pts = pts
    picture.time_base = MILLISECOND
    for packet in stream.encode(picture):
        container.mux(packet)
    return 1


class _Pipe:
    """Only `write`: FFmpeg then knows it cannot seek back, and writes the container as a stream."""

    def __init__(self, output: BinaryIO) -> None:
        self.output = output

    def write(self, data: bytes) -> int:
        self.output.write(data)
        return len(data)


def child_command() -> list[str]:
    return [sys.executable, "-m", "engine.live.video"]


def main() -> None:
    os.nice(NICENESS)
    plan = json.loads(sys.stdin.buffer.read())
    written = encode(plan, sys.stdout.buffer)
    sys.stdout.buffer.flush()
    sys.stderr.write(f"{written} frames\n")


if __name__ == "__main__":
    main()
