"""Runtimes: launch (200 once the browser is ready, as the public reference answers), list, get by alias, stop; and by id.

A workspace's alias names its newest run (a relaunch owns the alias), so the routes under
`/workspaces/{workspaceId}/runtimes/{alias}` always mean that one. Every run, older ones of a
reused alias included, stays reachable by its id under `/runtimes` (`org_router`), which also
lists every run of every workspace.

Launch limits (ENGINE_MAX_ACTIVE_RUNTIMES): past the cap a launch answers 429 `rate_limited`
with `Retry-After`, since the same request succeeds once another runtime stops.
"""

import zoneinfo
from typing import Any, Literal
from urllib.parse import urlsplit
from uuid import UUID

from django.http import HttpRequest, JsonResponse
from ninja import Header, Query, Router, Schema
from pydantic import Field, field_validator

from engine import mounts as mount_rules
from engine import wire
from engine.api.auth import OPERATOR, READ
from engine.api.common import RuntimeId, WorkspaceId, parse_uuid, to_json
from engine.api.idempotency import idempotent
from engine.api.pagination import paginate
from engine.api.schemas import Driver, RuntimeKind, RuntimeList, RuntimeOut, RuntimeStatus
from engine.api.workspaces import get_workspace
from engine.errors import ApiError
from engine.models import Runtime, Workspace
from engine.runtimes.manager import LaunchRequest, manager

router = Router(tags=["runtimes"])
org_router = Router(tags=["runtimes"])

ALIAS_PATTERN = r"^[a-z][a-z0-9-]{0,62}$"
RUNNABLE_KINDS = ("browser",)
PROXY_SCHEMES = ("http", "https", "socks4", "socks5")


class Viewport(Schema):
    width: int = Field(ge=100, le=7680)
    height: int = Field(ge=100, le=4320)


class Proxy(Schema):
    server: str = Field(
        min_length=1, max_length=500, description="http://host:port, socks5://host:port or host:port"
    )
    username: str | None = Field(default=None, max_length=500)
    password: str | None = Field(
        default=None, max_length=500, description="Used to launch; never shown again."
    )

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        parts = urlsplit(value if "://" in value else f"http://{value}")
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError("the port is not a number from 1 to 65535") from exc
        if parts.scheme not in PROXY_SCHEMES or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError("must be scheme://host:port with scheme http, https, socks4 or socks5")
        if port is not None and not 0 < port < 65536:
            raise ValueError("the port is not a number from 1 to 65535")
        return value


class LaunchConfig(Schema):
    viewport: Viewport | None = None
    userAgent: str | None = Field(default=None, min_length=1, max_length=1000, pattern=r"^[\x20-\x7e]+$")
    locale: str | None = Field(default=None, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")
    timezoneId: str | None = Field(default=None, max_length=64, description="An IANA zone, e.g. Europe/Paris")
    proxy: Proxy | None = None
    extensionIds: list[UUID] = Field(default_factory=list, max_length=20)
    idleTimeoutSeconds: int | None = Field(
        default=None,
        ge=1,
        le=7 * 24 * 3600,
        description="Stop after this long without execute or wait calls.",
    )
    recording: bool | None = Field(
        default=None,
        description="Record what the browser shows, for embed/recording (default: ENGINE_RECORDING_ENABLED, on).",
    )

    @field_validator("timezoneId")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and value not in _zones():
            raise ValueError("not an IANA time zone name")
        return value


def _zones() -> set[str]:
    return zoneinfo.available_timezones()


class EphemeralLaunch(Schema):
    mode: Literal["ephemeral"]
    config: LaunchConfig | None = None


class ProfileLaunch(Schema):
    mode: Literal["profile"]
    profileId: UUID
    config: LaunchConfig | None = Field(default=None, description="Refines the profile's own config.")


class RuntimeCreate(Schema):
    alias: str = Field(pattern=ALIAS_PATTERN, description="Names the runtime in its workspace.")
    kind: RuntimeKind = "browser"
    driver: Driver = "playwright"
    launch: EphemeralLaunch | ProfileLaunch = Field(
        default_factory=lambda: EphemeralLaunch(mode="ephemeral"), discriminator="mode"
    )
    mounts: mount_rules.Mounts | None = None


class RuntimeFilters(Schema):
    status: RuntimeStatus | None = None
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=500)


class OrganisationRuntimeFilters(RuntimeFilters):
    workspaceId: UUID | None = None
    alias: str | None = Field(default=None, pattern=ALIAS_PATTERN, description="Every run of this alias.")


async def get_runtime(workspace: Workspace, alias: str) -> Runtime:
    """The newest runtime called `alias` in the workspace (a relaunch owns the alias), or 404."""
    runtime = await Runtime.objects.filter(workspace=workspace, alias=alias).order_by("-created_at").afirst()
    if runtime is None:
        raise ApiError(404, "runtime.not_found", f"No runtime called '{alias}' in this workspace.")
    return runtime


async def get_run(runtime_id: str) -> Runtime:
    """One run by its id, whatever its status and whether or not it still owns its alias; or 404."""
    runtime_id = parse_uuid(runtime_id, "runtime.not_found", "Runtime")
    runtime = await Runtime.objects.filter(id=runtime_id).afirst()
    if runtime is None:
        raise ApiError(404, "runtime.not_found", f"Runtime {runtime_id} does not exist.")
    return runtime


def not_active(runtime: Runtime) -> ApiError:
    return ApiError(
        409,
        "runtime.not_active",
        f"Runtime '{runtime.alias}' is {runtime.status}; launch it again to use it.",
        {"status": runtime.status},
    )


@router.post(
    "/{workspaceId}/runtimes",
    operation_id="runtimes-create",
    auth=OPERATOR,
    response={200: RuntimeOut},  # 200 as the public reference answers, though it creates
    summary="Launch a runtime",
)
async def create_runtime(
    request: HttpRequest,
    workspace_id: WorkspaceId,
    payload: RuntimeCreate,
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> JsonResponse:
    workspace = await get_workspace(workspace_id)
    if payload.kind not in RUNNABLE_KINDS:
        raise ApiError(
            400,
            "runtime.kind_unavailable",
            f"This engine runs browser runtimes only; a {payload.kind} runtime is not available here.",
            {"kind": payload.kind, "available": list(RUNNABLE_KINDS)},
        )
    mount_rules.require_admin_for_raw_reads(mount_rules.dump(payload.mounts), request.auth.scope)  # type: ignore[attr-defined]

    async def create() -> tuple[int, dict[str, Any]]:
        launch = payload.launch
        config = launch.config.model_dump(mode="json", exclude_none=True) if launch.config else {}
        runtime = await manager.launch(
            workspace,
            LaunchRequest(
                alias=payload.alias,
                kind=payload.kind,
                driver=payload.driver,
                mode=launch.mode,
                profile_id=launch.profileId if isinstance(launch, ProfileLaunch) else None,
                config=config,
                mounts=mount_rules.narrow(workspace.mounts, mount_rules.dump(payload.mounts) or None),
                api_key_id=str(request.auth.id),  # type: ignore[attr-defined]
            ),
        )
        return 200, to_json(RuntimeOut, wire.runtime(runtime))

    return await idempotent(request, idempotency_key, payload.model_dump(mode="json"), create)


@router.get(
    "/{workspaceId}/runtimes",
    operation_id="runtimes-list",
    auth=READ,
    response=RuntimeList,
    summary="List runtimes, newest first",
)
async def list_runtimes(
    request: HttpRequest, workspace_id: WorkspaceId, filters: Query[RuntimeFilters]
) -> dict[str, Any]:
    workspace = await get_workspace(workspace_id)
    queryset = Runtime.objects.filter(workspace=workspace)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    rows, next_cursor = await paginate(queryset, filters.limit, filters.cursor)
    return {"runtimes": [wire.runtime(r) for r in rows], "nextCursor": next_cursor}


@router.get(
    "/{workspaceId}/runtimes/{alias}",
    operation_id="runtimes-get",
    auth=READ,
    response=RuntimeOut,
    summary="Get a runtime by alias",
)
async def get(request: HttpRequest, workspace_id: WorkspaceId, alias: str) -> dict[str, Any]:
    return wire.runtime(await get_runtime(await get_workspace(workspace_id), alias))


@router.post(
    "/{workspaceId}/runtimes/{alias}/stop",
    operation_id="runtimes-stop",
    auth=OPERATOR,
    response=RuntimeOut,
    summary="Stop a runtime (closes its browser); 409 runtime.not_active if it already ended",
)
async def stop(request: HttpRequest, workspace_id: WorkspaceId, alias: str) -> dict[str, Any]:
    runtime = await get_runtime(await get_workspace(workspace_id), alias)
    if runtime.status != Runtime.Status.ACTIVE:
        raise not_active(runtime)
    await manager.stop(runtime.id)
    await runtime.arefresh_from_db()
    return wire.runtime(runtime)


@org_router.get(
    "",
    operation_id="runs-list",
    auth=READ,
    response=RuntimeList,
    summary="Every run of every workspace, newest first",
)
async def list_every_runtime(
    request: HttpRequest, filters: Query[OrganisationRuntimeFilters]
) -> dict[str, Any]:
    queryset = Runtime.objects.all()
    if filters.workspaceId:
        queryset = queryset.filter(workspace_id=filters.workspaceId)
    if filters.alias:
        queryset = queryset.filter(alias=filters.alias)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    rows, next_cursor = await paginate(queryset, filters.limit, filters.cursor)
    return {"runtimes": [wire.runtime(r) for r in rows], "nextCursor": next_cursor}


@org_router.get(
    "/{runtimeId}",
    operation_id="runs-get",
    auth=READ,
    response=RuntimeOut,
    summary="Get one run by id (stopped ones included)",
)
async def get_by_id(request: HttpRequest, runtime_id: RuntimeId) -> dict[str, Any]:
    return wire.runtime(await get_run(runtime_id))
