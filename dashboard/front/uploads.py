"""Passing a browser's upload on to the API without holding it in memory.

Django parses a multipart upload into an `UploadedFile` (anything past FILE_UPLOAD_MAX_MEMORY_SIZE
goes to a temporary file on disk); `chunks` reads it back a piece at a time, off the event loop,
for httpx to send as the request body. Memory stays at one chunk however large the file.
The limit checked before sending is the API's own (`GET /limits`), never a copy kept here.
"""

import asyncio
from collections.abc import AsyncIterator

from django.core.files.uploadedfile import UploadedFile

from dashboard.templatetags.console import human_size

CHUNK_BYTES = 1024 * 1024


async def chunks(upload: UploadedFile) -> AsyncIterator[bytes]:
    await asyncio.to_thread(upload.seek, 0)
    while chunk := await asyncio.to_thread(upload.read, CHUNK_BYTES):
        yield chunk


def too_large(upload: UploadedFile, limit: int | None) -> str | None:
    """The sentence refusing `upload`, or None when it fits (or the API did not say its limit)."""
    if limit is None or upload.size is None or upload.size <= limit:
        return None
    return f"This file is {human_size(upload.size)}; the API accepts at most {human_size(limit)}."
