"""A runtime's downloads: into its download dir, then streamed into storage, within its quota.

Per runtime at most ENGINE_DOWNLOAD_MAX_COUNT downloads and ENGINE_DOWNLOAD_MAX_BYTES bytes in
all (and no one download past ENGINE_STORAGE_MAX_BYTES, which storage would refuse anyway). The
size is watched while Chromium writes (the download dir's files, every POLL_SECONDS), and a
download that goes past a limit is cancelled at once: `download.refused` says which limit. A
finished download is copied into storage in chunks (never whole in memory) as an artifact, then
removed from the download dir (`download.finished` with its artifact).
"""

import asyncio
import contextlib
import logging
import mimetypes
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from django.conf import settings
from playwright.async_api import Download

from engine.errors import ApiError
from engine.runtimes.session import RuntimeSession
from engine.storage.artifacts import create_artifact

logger = logging.getLogger("engine.runtimes")

POLL_SECONDS = 0.1
CHUNK_BYTES = 1024 * 1024


class Refused(Exception):
    def __init__(self, reason: str, limit: int, message: str) -> None:
        super().__init__(message)
        self.reason, self.limit, self.message = reason, limit, message


class Downloads:
    """One runtime's downloads: what it has used of its quota."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0
        self.stored = 0  # bytes of the downloads kept so far

    async def take(self, session: RuntimeSession, download: Download, page_id: str | None) -> None:
        """Keep a download Chromium has begun (RuntimeSession.on_download), or refuse it."""
        data: dict[str, Any] = {
            "pageId": page_id,
            "contextId": session.context_id,
            "url": download.url,
            "name": download.suggested_filename,
        }
        try:
            data.update(await self._keep(session, download))
        except Refused as refusal:
            with contextlib.suppress(Exception):
                await download.cancel()
            session.emit(
                "download.refused",
                {**data, "reason": refusal.reason, "limit": refusal.limit, "message": refusal.message},
            )
            return
        except Exception as exc:
            data.update(artifactId=None, error=_first_line(exc))
        session.emit("download.finished", data)

    async def _keep(self, session: RuntimeSession, download: Download) -> dict[str, Any]:
        limit = settings.DOWNLOAD_MAX_COUNT
        if self.count >= limit:
            raise Refused(
                "quota.count",
                limit,
                f"This runtime has had its {limit} downloads (ENGINE_DOWNLOAD_MAX_COUNT).",
            )
        self.count += 1
        watching = asyncio.ensure_future(self._watch())
        finished = asyncio.ensure_future(download.path())
        await asyncio.wait({watching, finished}, return_when=asyncio.FIRST_COMPLETED)
        if watching.done():
            finished.cancel()
            watching.result()  # raises Refused
        watching.cancel()
        path = Path(finished.result())
        try:
            size = (await asyncio.to_thread(path.stat)).st_size
            self._check(size, whole=True)  # the last bytes may have arrived between two looks
            artifact = await create_artifact(
                runtime=session.runtime,
                kind="download",
                name=download.suggested_filename,
                content=_chunks(path),
                content_type=mimetypes.guess_type(download.suggested_filename)[0]
                or "application/octet-stream",
            )
        except ApiError as exc:
            if exc.code == "storage.too_large":
                raise Refused("size", settings.STORAGE_MAX_BYTES, exc.message) from exc
            raise
        finally:
            with contextlib.suppress(Exception):
                await download.delete()
        self.stored += size
        return {"artifactId": str(artifact.id), "size": size}

    async def _watch(self) -> None:
        """Return never; raise Refused once the download dir holds more than the quota allows."""
        while True:
            await asyncio.sleep(POLL_SECONDS)
            self._check(await asyncio.to_thread(_bytes_in, self.directory))

    def _check(self, arriving: int, whole: bool = False) -> None:
        """`arriving`: bytes under way (all downloads' while watching), or one finished download's."""
        limit = settings.DOWNLOAD_MAX_BYTES
        if self.stored + arriving > limit:
            raise Refused(
                "quota.bytes",
                limit,
                f"This runtime's downloads would pass {limit} bytes (ENGINE_DOWNLOAD_MAX_BYTES).",
            )
        if whole and arriving > settings.STORAGE_MAX_BYTES:
            raise Refused(
                "size",
                settings.STORAGE_MAX_BYTES,
                f"The download is larger than {settings.STORAGE_MAX_BYTES} bytes (ENGINE_STORAGE_MAX_BYTES).",
            )


def _bytes_in(directory: Path) -> int:
    """Bytes of the files in `directory` now (downloads under way: kept ones are removed)."""
    total = 0
    with contextlib.suppress(FileNotFoundError), os.scandir(directory) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                if entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
    return total


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    file = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(file.read, CHUNK_BYTES):
            yield chunk
    finally:
        file.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
