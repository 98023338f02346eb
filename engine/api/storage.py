"""Storage: namespaces of objects (blobs with a path), listed by folder, written raw, streamed out.

Paths are `/`-separated, relative, without `.`/`..`/empty segments and at most 1024 bytes; a
namespace springs into being with its first object. A PUT to an existing path replaces the
object and answers 200 (201 when it created it). Limit: ENGINE_STORAGE_MAX_BYTES → 413.
"""

import contextlib
import re
from typing import Any
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.models import Count, Sum
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotModified,
    JsonResponse,
    StreamingHttpResponse,
)
from django.utils.http import content_disposition_header, parse_etags
from ninja import Query, Router, Schema
from pydantic import Field

from engine import wire
from engine.api.auth import OPERATOR, READ
from engine.api.common import Timestamp, to_json
from engine.api.guard import ClientGone, streamed_body
from engine.api.pagination import paginate
from engine.errors import ApiError
from engine.models import StorageObject
from engine.storage import objects as store

router = Router(tags=["storage"])


class NamespaceOut(Schema):
    name: str
    objectCount: int
    sizeBytes: int


class NamespaceList(Schema):
    namespaces: list[NamespaceOut]


class ObjectOut(Schema):
    namespace: str
    path: str
    sizeBytes: int
    contentType: str
    sha256: str
    source: str
    runtimeId: UUID | None
    createdAt: Timestamp


class ObjectList(Schema):
    objects: list[ObjectOut]
    folders: list[str] = Field(
        description="Sub-folders one level under `prefix` (each ends with '/'); on the first page only."
    )
    nextCursor: str | None


class ObjectFilters(Schema):
    prefix: str = Field(default="", max_length=1024, description="A folder ('reports/') or name prefix.")
    source: str | None = Field(default=None, max_length=32)
    runtimeId: UUID | None = None
    recursive: bool = Field(
        default=False, description="List every object under `prefix`, not only the ones directly in it."
    )
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=2000)


CONTENT_DESCRIPTION = (
    "Streams the bytes with the object's Content-Type; `inline=true` asks the browser to show them "
    "instead of saving. `ETag` is the object's sha256 (`If-None-Match` → 304); one `Range` of bytes "
    "→ 206 with that slice (`If-Range` honoured), a range past the end → 416."
)
_BYTES = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
CONTENT_OPENAPI = {
    "responses": {
        "200": {"description": "The whole object", "content": _BYTES},
        "206": {"description": "The requested range (Content-Range)", "content": _BYTES},
        "304": {"description": "Not modified (If-None-Match matched the ETag)"},
        "416": {
            "description": "Range not satisfiable",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        },
    }
}


class PutParams(Schema):
    source: str = Field(default="upload", max_length=32)
    runtimeId: UUID | None = None


@router.get(
    "",
    operation_id="storage-namespaces-list",
    auth=READ,
    response=NamespaceList,
    summary="List storage namespaces",
)
async def list_namespaces(request: HttpRequest) -> dict[str, Any]:
    rows = (
        StorageObject.objects.values("namespace")
        .annotate(count=Count("id"), size=Sum("size_bytes"))
        .order_by("namespace")
    )
    return {
        "namespaces": [
            {"name": r["namespace"], "objectCount": r["count"], "sizeBytes": r["size"] or 0}
            async for r in rows
        ]
    }


def _folders(namespace: str, prefix: str) -> list[str]:
    """Distinct next-level folders under `prefix` (sync: iterates paths in the database thread)."""
    start = len(prefix)
    names: set[str] = set()
    deeper = StorageObject.objects.filter(
        namespace=namespace, path__startswith=prefix, path__regex=rf"^{re.escape(prefix)}[^/]*/"
    )
    for path in deeper.values_list("path", flat=True).iterator(chunk_size=2000):
        names.add(path[: path.index("/", start) + 1])
    return sorted(names)


@router.get(
    "/{namespace}/objects",
    operation_id="storage-objects-list",
    auth=READ,
    response=ObjectList,
    summary="List objects and folders under a prefix",
    description="Objects directly under `prefix` (all under it with `recursive=true`), by path; "
    "`folders` lists the next folder level and is sent with the first page only.",
)
async def list_objects(request: HttpRequest, namespace: str, filters: Query[ObjectFilters]) -> dict[str, Any]:
    store.check_namespace(namespace)
    prefix = filters.prefix
    store.check_path(prefix, allow_empty=True, what="prefix")
    queryset = StorageObject.objects.filter(namespace=namespace, path__startswith=prefix)
    if not filters.recursive:
        queryset = queryset.filter(path__regex=rf"^{re.escape(prefix)}[^/]*$")
    if filters.source:
        queryset = queryset.filter(source=filters.source)
    if filters.runtimeId:
        queryset = queryset.filter(runtime_id=filters.runtimeId)
    rows, next_cursor = await paginate(
        queryset, filters.limit, filters.cursor, key=("path", "id"), descending=False
    )
    folders: list[str] = []
    if not filters.cursor and not filters.recursive:
        folders = await sync_to_async(_folders)(namespace, prefix)
    return {"objects": [wire.storage_object(r) for r in rows], "folders": folders, "nextCursor": next_cursor}


@router.put(
    "/{namespace}/objects/{path:path}",
    operation_id="storage-objects-put",
    auth=OPERATOR,
    response={200: ObjectOut, 201: ObjectOut},
    summary="Write an object (raw body)",
    description="The raw request body becomes the object; its Content-Type is kept. "
    "201 when the path was new, 200 when it replaced an object.",
    openapi_extra={
        "requestBody": {
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
        }
    },
)
async def put(request: HttpRequest, namespace: str, path: str, params: Query[PutParams]) -> JsonResponse:
    store.check_namespace(namespace)
    store.check_path(path)
    store.check_source(params.source)
    declared = request.META.get("CONTENT_LENGTH")
    if declared and declared.isdigit() and int(declared) > settings.STORAGE_MAX_BYTES:
        raise store.too_large(int(declared))
    content_type = (request.content_type or "").strip() or "application/octet-stream"
    if request.content_params and "charset" in request.content_params:
        content_type += f"; charset={request.content_params['charset']}"
    # The body goes straight to its blob as it arrives (the guard hands it over unspooled): a
    # 50 MB upload is never held whole in memory nor copied first, and is hashed on the way.
    body = streamed_body(request)
    chunks = body.chunks() if body is not None else store.chunks_of(request.body)
    try:
        async with contextlib.aclosing(chunks):
            row, created = await store.save_object(
                namespace, path, chunks, content_type, params.source, params.runtimeId
            )
    except ClientGone as exc:
        # Nobody reads this answer (the client left, or the guard already answered 413); the
        # partial blob is gone.
        raise ApiError(400, "request.invalid", "The upload ended before its last byte.") from exc
    return JsonResponse(to_json(ObjectOut, wire.storage_object(row)), status=201 if created else 200)


@router.get(
    "/{namespace}/objects/{path:path}",
    operation_id="storage-objects-get",
    auth=READ,
    response=ObjectOut,
    summary="Describe an object",
)
async def get(request: HttpRequest, namespace: str, path: str) -> dict[str, Any]:
    return wire.storage_object(await store.get_object(namespace, path))


@router.delete(
    "/{namespace}/objects/{path:path}",
    operation_id="storage-objects-delete",
    auth=OPERATOR,
    response={204: None},
    summary="Delete an object",
)
async def delete(request: HttpRequest, namespace: str, path: str) -> HttpResponse:
    await store.delete_object(namespace, path)
    return HttpResponse(status=204)


@router.get(
    "/{namespace}/content/{path:path}",
    operation_id="storage-content-get",
    auth=READ,
    summary="Download an object's bytes",
    description=CONTENT_DESCRIPTION,
    response={200: None, 206: None, 304: None},
    openapi_extra=CONTENT_OPENAPI,
)
async def content(request: HttpRequest, namespace: str, path: str, inline: bool = False) -> HttpResponseBase:
    row = await store.get_object(namespace, path)
    return stream_object(request, row, path.rsplit("/", 1)[-1], inline)


def stream_object(
    request: HttpRequest, row: StorageObject, file_name: str, inline: bool = False
) -> HttpResponseBase:
    """The object's bytes as a streamed response (also used for artifact content).

    Conditional and partial: `If-None-Match` with the object's ETag (its sha256) answers 304;
    one `Range` of bytes answers 206 with that slice (`If-Range` with another ETag, or several
    ranges, get the whole object); a range past the end is 416 with `Content-Range: bytes */size`.
    """
    etag = f'"{row.sha256}"'
    if not store.blob_path(row.blob).exists():
        raise ApiError(
            410,
            "storage.blob_missing",
            "The object's bytes are missing from the engine's disk; delete and upload it again.",
        )
    wanted = parse_etags(request.headers.get("If-None-Match", ""))
    if "*" in wanted or etag in wanted:
        not_modified = HttpResponseNotModified()
        not_modified["ETag"] = etag
        return not_modified
    size = row.size_bytes
    span = None
    if_range = request.headers.get("If-Range")
    if "Range" in request.headers and (if_range is None or if_range == etag):
        span = byte_range(request.headers["Range"], size)
    start, length = span if span is not None else (0, size)
    response = StreamingHttpResponse(
        store.iter_blob(row, start, length), content_type=row.content_type, status=206 if span else 200
    )
    response["Content-Length"] = str(length)
    if span is not None:
        response["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = content_disposition_header(not inline, file_name) or "attachment"
    response["ETag"] = etag
    response["X-Content-Type-Options"] = "nosniff"
    return response


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, length) of a single `bytes=` range of an object of `size` bytes; None to send it all
    (a header this does not understand, or several ranges: RFC 9110 lets a server ignore Range)."""
    match = _RANGE.match(header.strip())
    if match is None or not (match[1] or match[2]):
        return None
    if not match[1]:  # bytes=-N: the last N bytes
        suffix = int(match[2])
        if suffix == 0:
            raise _unsatisfiable(size)
        return max(0, size - suffix), min(suffix, size)
    start = int(match[1])
    end = int(match[2]) if match[2] else size - 1
    if start >= size or end < start:
        raise _unsatisfiable(size)
    end = min(end, size - 1)
    return start, end - start + 1


def _unsatisfiable(size: int) -> ApiError:
    return ApiError(
        416,
        "storage.range_not_satisfiable",
        f"The requested range is outside the object's {size} bytes.",
        {"sizeBytes": size},
        headers={"Content-Range": f"bytes */{size}"},
    )
