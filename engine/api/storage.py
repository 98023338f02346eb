"""Storage: namespaces of objects (blobs with a path), listed by folder, written raw, streamed out.

Paths are `/`-separated, relative, without `.`/`..`/empty segments and at most 1024 bytes; a
namespace springs into being with its first object. A PUT to an existing path replaces the
object and answers 200 (201 when it created it). Limit: ENGINE_STORAGE_MAX_BYTES → 413.
"""

import re
from typing import Any
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from ninja import Query, Router, Schema
from pydantic import Field

from engine import wire
from engine.api.auth import OPERATOR, READ
from engine.api.common import Timestamp, to_json
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


class PutParams(Schema):
    source: str = Field(default="upload", max_length=32)
    runtimeId: UUID | None = None


@router.get("", auth=READ, response=NamespaceList, summary="List storage namespaces")
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
    # Read the body in chunks (Django spools big bodies to a temp file): a 50 MB upload is never
    # held whole in memory, and the sha256 is computed on the way to disk.
    chunks = iter(lambda: request.read(store.CHUNK_BYTES), b"")
    row, created = await store.save_object(
        namespace, path, chunks, content_type, params.source, params.runtimeId
    )
    return JsonResponse(to_json(ObjectOut, wire.storage_object(row)), status=201 if created else 200)


@router.get("/{namespace}/objects/{path:path}", auth=READ, response=ObjectOut, summary="Describe an object")
async def get(request: HttpRequest, namespace: str, path: str) -> dict[str, Any]:
    return wire.storage_object(await store.get_object(namespace, path))


@router.delete(
    "/{namespace}/objects/{path:path}", auth=OPERATOR, response={204: None}, summary="Delete an object"
)
async def delete(request: HttpRequest, namespace: str, path: str) -> HttpResponse:
    await store.delete_object(namespace, path)
    return HttpResponse(status=204)


@router.get(
    "/{namespace}/content/{path:path}",
    auth=READ,
    summary="Download an object's bytes",
    description="Streams the bytes with the object's Content-Type; `inline=true` asks the browser to show "
    "them instead of saving.",
    response={200: None},
    openapi_extra={
        "responses": {"200": {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}}
    },
)
async def content(
    request: HttpRequest, namespace: str, path: str, inline: bool = False
) -> StreamingHttpResponse:
    row = await store.get_object(namespace, path)
    return stream_object(row, path.rsplit("/", 1)[-1], inline)


def stream_object(row: StorageObject, file_name: str, inline: bool = False) -> StreamingHttpResponse:
    """The object's bytes as a streamed response (also used for artifact content)."""
    if not store.blob_path(row.blob).exists():
        raise ApiError(
            410,
            "storage.blob_missing",
            "The object's bytes are missing from the engine's disk; delete and upload it again.",
        )
    response = StreamingHttpResponse(store.iter_blob(row), content_type=row.content_type)
    response["Content-Length"] = str(row.size_bytes)
    response["Content-Disposition"] = content_disposition_header(not inline, file_name) or "attachment"
    response["ETag"] = f'"{row.sha256}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
