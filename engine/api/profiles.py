"""Browser profiles: a named LaunchConfig plus extensions and a persistent Chromium data dir.

The data dir (cookies, local storage...) lives at paths.profile_user_data_dir(id) and is made by
the runtime manager on first launch; deleting the profile deletes it. One active runtime per
profile: the manager enforces it at launch, this module refuses to delete a profile in use.
A proxy password in `config` is kept encrypted (the launch needs it) and never shown: `proxy.hasPassword`.
"""

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Any
from uuid import UUID

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Header, Query, Router, Schema
from pydantic import Field

from engine import crypto, paths, wire
from engine.api.auth import OPERATOR, READ
from engine.api.common import ProfileId, Timestamp, parse_uuid, patched_fields, to_json
from engine.api.idempotency import idempotent
from engine.api.pagination import paginate
from engine.api.runtimes import LaunchConfig
from engine.errors import ApiError, invalid, not_found
from engine.models import BrowserExtension, BrowserProfile, Runtime
from engine.updates import record_update

router = Router(tags=["profiles"])

# Walking a Chromium data dir costs thousands of stat calls; a list page of profiles reuses a
# size measured in the last SIZE_TTL seconds instead of walking every dir on every request.
SIZE_TTL_SECONDS = 30.0
_sizes: dict[str, tuple[float, int]] = {}


class ProxyOut(Schema):
    server: str
    username: str | None = None
    hasPassword: bool = False


class LaunchConfigOut(Schema):
    viewport: dict[str, int] | None = None
    userAgent: str | None = None
    locale: str | None = None
    timezoneId: str | None = None
    proxy: ProxyOut | None = None
    extensionIds: list[UUID]
    idleTimeoutSeconds: int | None = None
    recording: bool | None = None


class InUse(Schema):
    workspaceId: UUID
    runtime: str


class ProfileOut(Schema):
    id: UUID
    name: str
    description: str
    config: LaunchConfigOut
    extensionIds: list[UUID]
    sizeBytes: int
    lastUsedAt: Timestamp | None
    inUse: InUse | None
    createdAt: Timestamp
    updatedAt: Timestamp


class ProfileList(Schema):
    profiles: list[ProfileOut]
    nextCursor: str | None


class ProfileCreate(Schema):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    config: LaunchConfig | None = None
    extensionIds: list[UUID] | None = Field(default=None, max_length=20)


class ProfilePatch(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    config: LaunchConfig | None = None
    extensionIds: list[UUID] | None = Field(default=None, max_length=20)


class ProfileFilters(Schema):
    q: str | None = Field(default=None, max_length=200, description="Name contains.")
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=500)


def _dir_size(directory: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(directory):
        for name in files:
            # Chromium deletes files while it runs; a vanished file weighs nothing.
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def _profile_size(profile_id: str, fresh: bool) -> int:
    cached = _sizes.get(profile_id)
    now = time.monotonic()
    if cached and not fresh and now - cached[0] < SIZE_TTL_SECONDS:
        return cached[1]
    size = _dir_size(paths.profile_user_data_dir(profile_id))
    _sizes[profile_id] = (now, size)
    return size


async def _serialize(profiles: list[BrowserProfile], fresh: bool = False) -> list[dict[str, Any]]:
    ids = [p.id for p in profiles]
    holders = {
        r.profile_id: r
        async for r in Runtime.objects.filter(profile_id__in=ids, status=Runtime.Status.ACTIVE).only(
            "profile_id", "workspace_id", "alias"
        )
    }
    sizes = await sync_to_async(lambda: [_profile_size(str(i), fresh) for i in ids], thread_sensitive=False)()
    return [
        wire.profile(profile, size, holders.get(profile.id))
        for profile, size in zip(profiles, sizes, strict=True)
    ]


async def _checked_extensions(extension_ids: list[UUID]) -> list[str]:
    """The ids as stored (strings, no duplicates), or 400 naming each unknown one."""
    wanted = [str(e) for e in dict.fromkeys(extension_ids)]
    existing = {
        str(e) async for e in BrowserExtension.objects.filter(id__in=wanted).values_list("id", flat=True)
    }
    problems = [
        {"path": f"extensionIds.{i}", "message": f"No browser extension {e}."}
        for i, e in enumerate(wanted)
        if e not in existing
    ]
    if problems:
        raise invalid("Every extension id must name an uploaded browser extension.", problems)
    return wanted


def _stored_config(config: LaunchConfig | None) -> dict[str, Any]:
    # extensionIds live in their own column; the config keeps the launch settings only.
    if not config:
        return {}
    return crypto.seal_proxy_password(
        config.model_dump(mode="json", exclude_none=True, exclude={"extensionIds"})
    )


async def _profile(profile_id: str) -> BrowserProfile:
    profile_id = parse_uuid(profile_id, "profile.not_found", "Browser profile")
    profile = await BrowserProfile.objects.filter(id=profile_id).afirst()
    if profile is None:
        raise not_found("profile.not_found", f"Browser profile {profile_id}")
    return profile


@router.get(
    "", operation_id="browser-profiles-list", auth=READ, response=ProfileList, summary="List browser profiles"
)
async def list_profiles(request: HttpRequest, filters: Query[ProfileFilters]) -> dict[str, Any]:
    queryset = BrowserProfile.objects.all()
    if filters.q:
        queryset = queryset.filter(name__icontains=filters.q)
    rows, next_cursor = await paginate(queryset, filters.limit, filters.cursor)
    return {"profiles": await _serialize(rows), "nextCursor": next_cursor}


@router.post(
    "",
    operation_id="browser-profiles-create",
    auth=OPERATOR,
    response={201: ProfileOut},
    summary="Create a browser profile",
)
async def create(
    request: HttpRequest,
    payload: ProfileCreate,
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> JsonResponse:
    async def make() -> tuple[int, dict[str, Any]]:
        extension_ids = payload.extensionIds
        if extension_ids is None:
            extension_ids = payload.config.extensionIds if payload.config else []
        profile = await BrowserProfile.objects.acreate(
            name=payload.name,
            description=payload.description,
            config=_stored_config(payload.config),
            extension_ids=await _checked_extensions(extension_ids),
        )
        await record_update("browser_profile.created", {"id": str(profile.id), "name": profile.name})
        return 201, to_json(ProfileOut, (await _serialize([profile], fresh=True))[0])

    return await idempotent(request, idempotency_key, payload.model_dump(mode="json"), make)


@router.get(
    "/{profileId}",
    operation_id="browser-profiles-get",
    auth=READ,
    response=ProfileOut,
    summary="Get a browser profile",
)
async def get(request: HttpRequest, profile_id: ProfileId) -> dict[str, Any]:
    return (await _serialize([await _profile(profile_id)], fresh=True))[0]


@router.patch(
    "/{profileId}",
    operation_id="browser-profiles-update",
    auth=OPERATOR,
    response=ProfileOut,
    summary="Change a browser profile",
    description="`config` replaces the whole launch config; changes apply from the next launch.",
)
async def patch(request: HttpRequest, profile_id: ProfileId, payload: ProfilePatch) -> dict[str, Any]:
    profile = await _profile(profile_id)
    changed = patched_fields(payload, "name")
    if payload.name is not None:
        profile.name = payload.name
    if "description" in changed:
        profile.description = payload.description or ""
    if "config" in changed:
        old_proxy = (profile.config or {}).get("proxy") or {}
        profile.config = _stored_config(payload.config)
        new_proxy = profile.config.get("proxy")
        # A config sent back as read (no password, same proxy) must not silently drop the password.
        same_proxy = (
            new_proxy
            and "passwordCiphertext" not in new_proxy
            and old_proxy.get("passwordCiphertext")
            and (old_proxy.get("server"), old_proxy.get("username"))
            == (new_proxy.get("server"), new_proxy.get("username"))
        )
        if same_proxy:
            new_proxy["passwordCiphertext"] = old_proxy["passwordCiphertext"]
        if (
            payload.extensionIds is None
            and payload.config is not None
            and "extensionIds" in payload.config.model_fields_set
        ):
            profile.extension_ids = await _checked_extensions(payload.config.extensionIds)
    if payload.extensionIds is not None:
        profile.extension_ids = await _checked_extensions(payload.extensionIds)
    await profile.asave()
    await record_update(
        "browser_profile.updated", {"id": str(profile.id), "name": profile.name, "fields": sorted(changed)}
    )
    return (await _serialize([profile], fresh=True))[0]


@router.delete(
    "/{profileId}",
    operation_id="browser-profiles-delete",
    auth=OPERATOR,
    response={204: None},
    summary="Delete a browser profile and its data",
)
async def delete(request: HttpRequest, profile_id: ProfileId) -> HttpResponse:
    profile = await _profile(profile_id)
    holder = await Runtime.objects.filter(profile=profile, status=Runtime.Status.ACTIVE).afirst()
    if holder is not None:
        raise ApiError(
            409,
            "profile.in_use",
            f"The profile is in use by the active runtime '{holder.alias}'; stop it before deleting the profile.",
            {"workspaceId": str(holder.workspace_id), "runtime": holder.alias},
        )
    profile_key = str(profile.id)
    await profile.adelete()  # (this sets profile.id to None: use `profile_key` from here on)
    await sync_to_async(shutil.rmtree, thread_sensitive=False)(
        paths.profile_user_data_dir(profile_key).parent, ignore_errors=True
    )
    _sizes.pop(profile_key, None)
    await record_update("browser_profile.deleted", {"id": profile_key, "name": profile.name})
    return HttpResponse(status=204)
