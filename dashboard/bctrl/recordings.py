"""One run's recording and what the engine kept of its network, by run id (this engine's own
routes, for every run, active or ended, within retention): the player's embed, the video file,
a kept response body. An API without them answers `not_offered`."""

from urllib.parse import quote

from dashboard.bctrl.client import get_client
from dashboard.bctrl.downloads import Download, open_download
from dashboard.bctrl.embeds import Embed

VIDEO_FORMATS = ("webm", "mp4")
VIDEO_WAIT_SECONDS = 120.0  # the engine encodes as it sends: a part may take a while


async def recording(runtime_id: str) -> Embed:
    """The recording player of any run (an earlier run of an alias too)."""
    return Embed.from_api(await get_client().post(f"runtimes/{runtime_id}/embed/recording", json={}))


async def open_video(runtime_id: str, video_format: str = "webm") -> Download:
    """The run's recording as a video file, streamed (409 while it cannot be made yet)."""
    return await open_download(
        f"runtimes/{runtime_id}/recording/video", {"format": video_format}, timeout=VIDEO_WAIT_SECONDS
    )


async def open_response_body(runtime_id: str, request_id: str) -> Download:
    """A kept response body (text types, up to the engine's limit), as received."""
    return await open_download(f"runtimes/{runtime_id}/network/{quote(request_id, safe='')}/body")
