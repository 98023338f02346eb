"""Streaming a file from the API (an artifact, a run's video, a kept response body): headers now,
bytes as they arrive, the upstream response open until they have all been read."""

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx

from dashboard.bctrl.client import get_client
from dashboard.bctrl.errors import BctrlError, Unavailable


@dataclass
class Download:
    """An open download. Iterate `chunks` exactly once (or close it)."""

    content_type: str
    content_length: str | None
    filename: str | None
    chunks: AsyncIterator[bytes]
    # A kept response body the engine withholds from callers without raw-read rights ("vault")
    withheld: str | None = None


async def open_download(
    path: str, params: Mapping[str, Any] | None = None, timeout: float | None = None
) -> Download:
    """Start streaming `path`; a BctrlError is raised here, before any byte is sent, so a large
    file never sits in the console's memory and a refusal is still an ordinary error. `timeout`
    (seconds) is how long to wait for each part, for files the API makes as it sends them."""
    stack = AsyncExitStack()
    extra: dict[str, Any] = {"timeout": httpx.Timeout(timeout, connect=5.0)} if timeout else {}
    try:
        response = await stack.enter_async_context(get_client().stream("GET", path, params=params, **extra))
    except BctrlError:
        await stack.aclose()
        raise
    except Exception as exc:  # client.stream() lets transport errors through unmapped
        await stack.aclose()
        raise Unavailable(
            0, "api.unreachable", "The BCTRL API could not be reached.", transient=True
        ) from exc

    async def chunks() -> AsyncIterator[bytes]:
        async with stack:
            async for chunk in response.aiter_bytes():
                yield chunk

    return Download(
        content_type=response.headers.get("Content-Type", "application/octet-stream"),
        content_length=response.headers.get("Content-Length"),
        filename=_filename(response.headers.get("Content-Disposition", "")),
        chunks=chunks(),
        withheld=response.headers.get("X-BCTRL-Body-Withheld"),
    )


def _filename(disposition: str) -> str | None:
    """The upstream's file name, reduced to characters safe in our own header."""
    match = re.search(r'filename="?([^";]+)"?', disposition)
    if not match:
        return None
    name = re.sub(r"[^A-Za-z0-9._ -]", "_", match.group(1)).strip(" .")
    return name[:200] or None
