"""Thumbnails (`embed/live` with `thumbnail: true`): low-rate, view-only pictures for a wall of runtimes.

What they protect: while only thumbnails watch, the runtime's one screencast is sampled (stopped
after each frame, started again an interval later) instead of running at full rate; a full viewer
makes it live again; a thumbnail viewer never gets more frames than a full viewer of the same page.
"""

import json
from contextlib import AbstractContextManager

import pytest
from websockets.sync.client import ClientConnection

from tests.support.engine_process import EngineProcess
from tests.support.live_viewer import Runtime, iframe_url, viewer_socket

ANIMATE = (
    "(() => { let n = 0; const step = () => { n++; document.body.style.background = "
    "`rgb(${n % 256}, ${(n * 7) % 256}, 90)`; requestAnimationFrame(step); }; step(); return true; })()"
)


def socket_of(engine: EngineProcess, iframe: str) -> AbstractContextManager[ClientConnection]:
    return viewer_socket(engine, iframe, first_frame=False)


def read_until(socket: ClientConnection, done, timeout: float = 30) -> tuple[list[dict], int]:  # type: ignore[no-untyped-def]
    """Messages and the number of frames received until `done(messages, frames)` holds."""
    messages: list[dict] = []
    frames = 0
    while not done(messages, frames):
        received = socket.recv(timeout=timeout)
        if isinstance(received, bytes):
            frames += 1
        else:
            messages.append(json.loads(received))
    return messages, frames


def drain(socket: ClientConnection) -> tuple[list[dict], int]:
    """What already arrived, without waiting for more."""
    messages: list[dict] = []
    frames = 0
    while True:
        try:
            received = socket.recv(timeout=0.05)
        except TimeoutError:
            return messages, frames
        if isinstance(received, bytes):
            frames += 1
        else:
            messages.append(json.loads(received))


def screencast(messages: list[dict]) -> dict:
    return [m for m in messages if m["type"] == "screencast"][-1]


def test_a_thumbnail_is_view_only_and_cannot_be_interactive(runtime: Runtime, engine: EngineProcess) -> None:
    refused = runtime.embed(thumbnail=True, interactive=True)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "request.invalid"
    with socket_of(engine, iframe_url(runtime.embed(thumbnail=True))) as thumbnail:
        messages, _ = read_until(thumbnail, lambda m, f: any(x["type"] == "hello" for x in m))
        hello = next(m for m in messages if m["type"] == "hello")
        assert hello["thumbnail"] is True and hello["interactive"] is False


@pytest.mark.parametrize("runtime", [{"recording": False}], indirect=True)
def test_thumbnails_sample_the_screencast_until_a_full_viewer_watches(
    runtime: Runtime,
    engine: EngineProcess,
) -> None:
    assert runtime.read("page.evaluate", ANIMATE) is True  # the page repaints every frame
    with (
        socket_of(engine, iframe_url(runtime.embed(thumbnail=True))) as first,
        socket_of(engine, iframe_url(runtime.embed(thumbnail=True))) as second,
    ):
        # Two thumbnails of a page that never stops painting: still no full-rate screencast.
        messages, _ = read_until(second, lambda m, f: f >= 3)
        assert screencast(messages)["mode"] == "sample" and screencast(messages)["viewers"] == 2
        drain(first)
        with socket_of(engine, iframe_url(runtime.embed())) as full:
            messages, live_frames = read_until(full, lambda m, f: f >= 20)
            state = screencast(messages)
            # each thumbnail frame came from a screencast started for it (a sample), and now it runs live
            assert state["mode"] == "live" and state["starts"] >= 3
            _, thumbnail_frames = drain(first)
            assert thumbnail_frames < live_frames  # the thumbnail still gets a picture now and then
        # The full viewer left: back to sampling for the thumbnails.
        messages, _ = read_until(
            first, lambda m, f: any(x["type"] == "screencast" and x["viewers"] == 2 for x in m)
        )
        assert screencast(messages)["mode"] == "sample"
