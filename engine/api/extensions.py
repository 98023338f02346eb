"""Browser extensions: upload a .zip/.crx, list, rename/enable, delete.

Deleting an extension a profile lists, or an active runtime loaded, → 409 extension.in_use:
the profile would launch without it (or the running browser lose its files) without anyone
deciding so.
"""

import hashlib
from collections import Counter
from typing import Any, Literal
from uuid import UUID, uuid4

from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from ninja import Header, Query, Router, Schema
from pydantic import Field

from engine import wire
from engine.api.auth import OPERATOR, READ
from engine.api.common import ExtensionId, Timestamp, parse_uuid, patched_fields, to_json
from engine.api.idempotency import idempotent
from engine.api.pagination import paginate
from engine.errors import ApiError, invalid, not_found
from engine.extensions import package as packages
from engine.models import BrowserExtension, BrowserProfile, Runtime
from engine.updates import record_update

router = Router(tags=["extensions"])


class ExtensionOut(Schema):
    id: UUID
    name: str
    version: str
    format: Literal["zip", "crx"]
    manifestVersion: int
    permissions: list[str]
    contentHash: str
    sizeBytes: int
    enabled: bool
    profileCount: int
    createdAt: Timestamp
    updatedAt: Timestamp


class ExtensionList(Schema):
    extensions: list[ExtensionOut]
    nextCursor: str | None


class ExtensionPatch(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    enabled: bool | None = None


class ExtensionFilters(Schema):
    q: str | None = Field(default=None, max_length=200, description="Name contains.")
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=500)


async def _profile_counts() -> Counter[str]:
    # JSON containment queries are not portable to SQLite; profiles are few, count in Python.
    counts: Counter[str] = Counter()
    async for extension_ids in BrowserProfile.objects.values_list("extension_ids", flat=True):
        counts.update({str(e) for e in extension_ids or []})
    return counts


async def _extension(extension_id: str) -> BrowserExtension:
    extension_id = parse_uuid(extension_id, "extension.not_found", "Browser extension")
    extension = await BrowserExtension.objects.filter(id=extension_id).afirst()
    if extension is None:
        raise not_found("extension.not_found", f"Browser extension {extension_id}")
    return extension


@router.get(
    "",
    operation_id="browser-extensions-list",
    auth=READ,
    response=ExtensionList,
    summary="List browser extensions",
)
async def list_extensions(request: HttpRequest, filters: Query[ExtensionFilters]) -> dict[str, Any]:
    queryset = BrowserExtension.objects.all()
    if filters.q:
        queryset = queryset.filter(name__icontains=filters.q)
    rows, next_cursor = await paginate(queryset, filters.limit, filters.cursor)
    counts = await _profile_counts()
    return {"extensions": [wire.extension(e, counts[str(e.id)]) for e in rows], "nextCursor": next_cursor}


def _read_upload(upload: UploadedFile) -> bytes:
    from django.conf import settings

    limit = settings.EXTENSION_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise packages.InvalidPackage(
            f"The package is {upload.size} bytes; this engine accepts at most {limit} bytes."
        )
    return upload.read(limit + 1)


def _multipart(request: HttpRequest) -> tuple[UploadedFile, str | None]:
    """The `file` and `name` parts (sync: Django parses the spooled body here)."""
    try:
        upload = request.FILES.get("file")
        name = request.POST.get("name")
    except MultiPartParserError as exc:
        raise invalid(
            f"The body is not valid multipart/form-data ({exc}).",
            [{"path": "file", "message": "Send the package as multipart/form-data."}],
        ) from exc
    if upload is None:
        raise invalid(
            "Send the package as the multipart/form-data field `file`.",
            [{"path": "file", "message": "Required."}],
        )
    return upload, name


@router.post(
    "/upload",
    operation_id="browser-extensions-upload",
    auth=OPERATOR,
    response={201: ExtensionOut},
    summary="Upload an extension (.zip or .crx)",
    description="Multipart field `file` (a .zip or .crx of an unpacked extension with manifest.json), "
    "optional `name` (defaults to the manifest's). A bad package → 400 extension.invalid_package; one "
    "asking for a permission that reaches around a runtime's isolation (proxy, debugger, privacy, "
    "nativeMessaging, management, webRequestBlocking, file:// access, declarativeNetRequest redirects "
    "to private addresses) → 400 extension.permission_refused naming it.",
    # The multipart body is parsed in the handler (not by ninja's File parameter) so that a
    # malformed body is a 400 with our error body rather than an unhandled parser error.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "name": {"type": "string", "minLength": 1, "maxLength": 200},
                        },
                    }
                }
            },
        }
    },
)
async def upload(
    request: HttpRequest,
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> JsonResponse:
    file, name = await sync_to_async(_multipart)(request)
    if name is not None and not 1 <= len(name.strip()) <= 200:
        raise invalid("name must be 1-200 characters.", [{"path": "name", "message": "1-200 characters."}])
    data = await sync_to_async(_read_upload, thread_sensitive=False)(file)
    package = await sync_to_async(packages.read_package, thread_sensitive=False)(data)

    async def create() -> tuple[int, dict[str, Any]]:
        extension_id = uuid4()
        await sync_to_async(packages.install, thread_sensitive=False)(extension_id, package, data)
        try:
            extension = await BrowserExtension.objects.acreate(
                id=extension_id,
                name=(name or "").strip() or package.name,
                version=package.version,
                format=package.format,
                manifest_version=package.manifest_version,
                permissions=package.permissions,
                content_hash=package.content_hash,
                size_bytes=package.size_bytes,
            )
        except BaseException:
            await sync_to_async(packages.remove)(extension_id)
            raise
        await record_update(
            "browser_extension.created",
            {"id": str(extension.id), "name": extension.name, "version": extension.version},
        )
        return 201, to_json(ExtensionOut, wire.extension(extension, 0))

    # "The same body" of a multipart upload is the same file and name: the file by its hash
    # (the console retries an upload whose answer it did not get; it must not make two).
    sent = {"file": hashlib.sha256(data).hexdigest(), "name": name}
    return await idempotent(request, idempotency_key, sent, create)


@router.get(
    "/{extensionId}",
    operation_id="browser-extensions-get",
    auth=READ,
    response=ExtensionOut,
    summary="Get a browser extension",
)
async def get(request: HttpRequest, extension_id: ExtensionId) -> dict[str, Any]:
    extension = await _extension(extension_id)
    return wire.extension(extension, (await _profile_counts())[str(extension.id)])


@router.patch(
    "/{extensionId}",
    operation_id="browser-extensions-update",
    auth=OPERATOR,
    response=ExtensionOut,
    summary="Rename, enable or disable an extension",
)
async def patch(request: HttpRequest, extension_id: ExtensionId, payload: ExtensionPatch) -> dict[str, Any]:
    extension = await _extension(extension_id)
    changed = patched_fields(payload, "name", "enabled")
    if payload.name is not None:
        extension.name = payload.name.strip() or extension.name
    if payload.enabled is not None:
        extension.enabled = payload.enabled
    await extension.asave()
    await record_update(
        "browser_extension.updated",
        {"id": str(extension.id), "name": extension.name, "fields": sorted(changed)},
    )
    return wire.extension(extension, (await _profile_counts())[str(extension.id)])


@router.delete(
    "/{extensionId}",
    operation_id="browser-extensions-delete",
    auth=OPERATOR,
    response={204: None},
    summary="Delete a browser extension",
)
async def delete(request: HttpRequest, extension_id: ExtensionId) -> HttpResponse:
    extension = await _extension(extension_id)
    key = str(extension.id)
    profiles = [
        p.name
        async for p in BrowserProfile.objects.only("name", "extension_ids")
        if key in {str(e) for e in p.extension_ids or []}
    ]
    runtimes = [
        r.alias
        async for r in Runtime.objects.filter(status=Runtime.Status.ACTIVE).only("alias", "config")
        if key in {str(e) for e in (r.config or {}).get("extensionIds") or []}
    ]
    if profiles or runtimes:
        raise ApiError(
            409,
            "extension.in_use",
            f"The extension is used by {len(profiles)} profile(s) and {len(runtimes)} active runtime(s); "
            "remove it from those profiles (and stop those runtimes) first.",
            {"profiles": profiles[:50], "runtimes": runtimes[:50]},
        )
    await extension.adelete()  # (this sets extension.id to None: use `key` from here on)
    await sync_to_async(packages.remove, thread_sensitive=False)(key)
    await record_update("browser_extension.deleted", {"id": key, "name": extension.name})
    return HttpResponse(status=204)
