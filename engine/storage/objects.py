"""Storage objects: validation of names, blob files on disk, rows, and their update log entries.

A blob is written to a temp file in the blob dir, fsync'd, then renamed to a fresh name: a
reader never sees half a blob, and the row is only written once the blob is complete. Each
write gets a new blob name (never overwritten in place), so an overwrite cannot corrupt a
download already streaming the previous version; the old blob is removed after the row moves.
"""

import asyncio
import contextlib
import hashlib
import os
import re
import secrets
import tempfile
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import IntegrityError, transaction

from engine import paths
from engine.errors import ApiError
from engine.models import StorageObject
from engine.mounts import NAMESPACE_PATTERN
from engine.updates import record_update

MAX_PATH_BYTES = 1024
SOURCE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_NAMESPACE_RE = re.compile(NAMESPACE_PATTERN)
CHUNK_BYTES = 1024 * 1024
WRITE_BYTES = 1024 * 1024  # an upload is written to disk in batches of this size


def check_namespace(namespace: str) -> str:
    if not _NAMESPACE_RE.match(namespace):
        raise ApiError(
            400,
            "storage.invalid_namespace",
            f"'{namespace[:140]}' is not a storage namespace name: use letters, digits, '.', '_' and '-' "
            "(at most 128 characters, starting with a letter or digit).",
            {"fields": [{"path": "namespace", "message": "Does not match the namespace pattern."}]},
        )
    return namespace


def check_path(path: str, *, allow_empty: bool = False, what: str = "path") -> str:
    """A storage path: `/`-separated, no leading `/`, no empty, `.` or `..` segments, ≤1024 bytes."""
    if allow_empty and path == "":
        return path
    problem = None
    if not path:
        problem = "is empty"
    elif len(path.encode()) > MAX_PATH_BYTES:
        problem = f"is longer than {MAX_PATH_BYTES} bytes"
    elif path.startswith("/"):
        problem = "starts with '/'"
    elif "\\" in path or "\x00" in path or any(ord(c) < 0x20 for c in path):
        problem = "contains a backslash or a control character"
    else:
        segments = path.split("/")
        # A trailing "/" is allowed only for a prefix ("reports/"): it is how folders are named.
        if allow_empty and segments[-1] == "":
            segments = segments[:-1]
        if any(s in ("", ".", "..") for s in segments):
            problem = "has an empty, '.' or '..' segment"
    if problem:
        raise ApiError(
            400,
            "storage.invalid_path",
            f"The storage {what} {problem}; use a relative '/'-separated path such as 'reports/2026/a.csv'.",
            {"fields": [{"path": what, "message": f"The {what} {problem}."}]},
        )
    return path


def check_source(source: str) -> str:
    if not SOURCE_PATTERN.match(source):
        raise ApiError(
            400,
            "request.invalid",
            "source must be a short lowercase word such as 'upload' or 'download'.",
            {"fields": [{"path": "source", "message": "Not a source name."}]},
        )
    return source


def too_large(size: int | None = None) -> ApiError:
    limit = settings.STORAGE_MAX_BYTES
    said = f" ({size} bytes)" if size is not None else ""
    return ApiError(
        413,
        "storage.too_large",
        f"The object{said} is larger than this engine's limit of {limit} bytes (ENGINE_STORAGE_MAX_BYTES).",
        {"limitBytes": limit},
    )


def blob_path(blob: str) -> Path:
    return paths.storage_blob_dir() / blob


class BlobWriter:
    """Writes one blob from chunks: size cap, sha256 while streaming, atomic rename on commit."""

    def __init__(self) -> None:
        directory = paths.storage_blob_dir()
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix=".incoming-")
        self._file = os.fdopen(fd, "wb")
        self._temp = Path(name)
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > settings.STORAGE_MAX_BYTES:
            raise too_large()
        self.digest.update(chunk)
        self._file.write(chunk)

    def commit(self) -> str:
        """Finish the blob and give it its final name (returned)."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        blob = secrets.token_hex(16)
        os.replace(self._temp, blob_path(blob))
        return blob

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._temp.unlink()


async def _write_blob(chunks: AsyncIterable[bytes]) -> tuple[str, int, str]:
    """Write the chunks to a new blob as they arrive; nothing is left behind if they fail.

    Bytes are gathered into WRITE_BYTES batches, each hashed and written by a worker thread
    (hashlib and file writes release the GIL) while the next batch arrives; past
    ENGINE_STORAGE_MAX_BYTES the write stops with 413 and the partial blob is removed.
    """
    limit = settings.STORAGE_MAX_BYTES
    writer = await asyncio.to_thread(BlobWriter)
    writing: asyncio.Future[None] | None = None
    try:
        batch = bytearray()
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise too_large()
            batch += chunk
            if len(batch) >= WRITE_BYTES:
                if writing is not None:
                    await writing
                writing = asyncio.ensure_future(asyncio.to_thread(writer.write, bytes(batch)))
                batch.clear()
        if writing is not None:
            await writing
        if batch:
            await asyncio.to_thread(writer.write, bytes(batch))
        return await asyncio.to_thread(writer.commit), writer.size, writer.digest.hexdigest()
    except BaseException:
        if writing is not None and not writing.done():
            # The thread finishes its batch whatever happens; remove the file once it has.
            writing.add_done_callback(lambda _f: writer.discard())
        else:
            writer.discard()
        raise


async def chunks_of(data: bytes) -> AsyncGenerator[bytes, None]:
    """`data` as the chunks `save_object` takes."""
    view = memoryview(data)
    for start in range(0, len(data), CHUNK_BYTES):
        yield bytes(view[start : start + CHUNK_BYTES])


def remove_blob(blob: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        blob_path(blob).unlink()


def _save_row(
    namespace: str,
    path: str,
    blob: str,
    size: int,
    sha256: str,
    content_type: str,
    source: str,
    runtime_id: UUID | str | None,
) -> tuple[StorageObject, str | None, bool]:
    """Insert or replace the object row; returns (row, old blob to delete, created?)."""
    with transaction.atomic():
        existing = StorageObject.objects.select_for_update().filter(namespace=namespace, path=path).first()
        old_blob = existing.blob if existing else None
        fields = {
            "size_bytes": size,
            "content_type": content_type,
            "sha256": sha256,
            "source": source,
            "runtime_id": runtime_id,
            "blob": blob,
        }
        if existing is None:
            try:
                with transaction.atomic():
                    row = StorageObject.objects.create(namespace=namespace, path=path, **fields)
                return row, None, True
            except IntegrityError:
                # Another writer created it between our read and insert: overwrite theirs.
                existing = StorageObject.objects.get(namespace=namespace, path=path)
                old_blob = existing.blob
        from django.utils import timezone

        for name, value in fields.items():
            setattr(existing, name, value)
        # An overwrite is a new version of the object: createdAt says when this content arrived.
        existing.created_at = timezone.now()
        existing.save()
        return existing, old_blob, False


async def save_object(
    namespace: str,
    path: str,
    chunks: AsyncIterable[bytes],
    content_type: str,
    source: str = "upload",
    runtime_id: UUID | str | None = None,
) -> tuple[StorageObject, bool]:
    """Write an object from byte chunks as they arrive; (row, created)."""
    check_namespace(namespace)
    check_path(path)
    check_source(source)
    blob, size, sha256 = await _write_blob(chunks)
    try:
        row, old_blob, created = await sync_to_async(_save_row)(
            namespace,
            path,
            blob,
            size,
            sha256,
            content_type or "application/octet-stream",
            source,
            runtime_id,
        )
    except BaseException:
        await sync_to_async(remove_blob)(blob)
        raise
    if old_blob:
        await sync_to_async(remove_blob)(old_blob)
    await record_update(
        "storage.object.created",
        {
            "namespace": namespace,
            "path": path,
            "sizeBytes": size,
            "source": source,
            "runtimeId": str(runtime_id) if runtime_id else None,
            "overwritten": not created,
        },
    )
    return row, created


async def put_object(
    namespace: str,
    path: str,
    data: bytes,
    content_type: str,
    source: str = "upload",
    runtime_id: UUID | str | None = None,
) -> StorageObject:
    """Store `data` at `namespace`/`path` (replacing what was there) and return its row.

    Validates the namespace and path (400 storage.invalid_namespace / storage.invalid_path),
    enforces settings.STORAGE_MAX_BYTES (413 storage.too_large), writes the blob atomically and
    records `storage.object.created`. The namespace springs into being on first use.
    """
    if len(data) > settings.STORAGE_MAX_BYTES:
        raise too_large(len(data))
    row, _ = await save_object(namespace, path, chunks_of(data), content_type, source, runtime_id)
    return row


async def get_object(namespace: str, path: str) -> StorageObject:
    check_namespace(namespace)
    check_path(path)
    row = await StorageObject.objects.filter(namespace=namespace, path=path).afirst()
    if row is None:
        raise ApiError(404, "storage.not_found", f"No object '{path}' in storage namespace '{namespace}'.")
    return row


async def delete_object(namespace: str, path: str) -> None:
    row = await get_object(namespace, path)
    await StorageObject.objects.filter(id=row.id).adelete()
    await sync_to_async(remove_blob)(row.blob)
    await record_update("storage.object.deleted", {"namespace": namespace, "path": path})


async def read_blob(row: StorageObject) -> bytes:
    return await sync_to_async(blob_path(row.blob).read_bytes, thread_sensitive=False)()


def _open_for_reading(path: Path) -> BinaryIO:
    return path.open("rb")


async def iter_blob(row: StorageObject, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
    """`length` bytes of the blob from `start` (all of it by default), read in CHUNK_BYTES pieces
    by a worker thread, so a large download never blocks the loop."""
    handle = await asyncio.to_thread(_open_for_reading, blob_path(row.blob))
    remaining = row.size_bytes - start if length is None else length
    try:
        if start:
            handle.seek(start)
        while remaining > 0:
            chunk = await asyncio.to_thread(handle.read, min(CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()
