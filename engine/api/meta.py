"""Who am I, and what the engine allows."""

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Router, Schema

from engine.api.auth import READ, whoami_payload
from engine.api.common import Timestamp
from engine.models import AiCredential, BrowserExtension, BrowserProfile, Runtime, VaultEntry, Workspace
from engine.runtimes.manager import manager

router = Router(tags=["auth"])


class Organization(Schema):
    id: str
    name: str


class ApiKeyInfo(Schema):
    id: str
    name: str
    scopes: list[str]
    createdAt: Timestamp


class WhoAmI(Schema):
    organization: Organization
    apiKey: ApiKeyInfo


@router.get(
    "/auth/whoami",
    operation_id="auth-whoami",
    auth=READ,
    response=WhoAmI,
    summary="The organisation and API key of this request",
)
async def whoami(request: HttpRequest) -> dict[str, object]:
    return whoami_payload(request.auth)  # type: ignore[attr-defined]


class Isolation(Schema):
    mode: str = Field(description="isolated | unisolated | pending (the engine is still starting)")
    runtimesAllowed: bool = Field(description="false: launches get 503 runtime.isolation_unavailable")
    chromiumSandbox: bool
    reason: str | None = Field(description="Why the engine cannot isolate runtimes (unisolated only)")


class Limits(Schema):
    isolation: Isolation
    maxActiveRuntimes: int
    defaultIdleTimeoutSeconds: int
    storageMaxBytes: int
    extensionMaxBytes: int
    rateLimitPerMinute: int = Field(description="Requests a minute per key (0: off).")
    maxRuntimesPerKey: int = Field(description="Active runtimes one key may hold (0: off).")
    maxWaitsPerKey: int = Field(description="Open long polls and streams one key may hold (0: off).")
    teamKey: bool = Field(
        description="The calling key is a team key: the three per-key limits above do not apply to it."
    )


@router.get(
    "/limits",
    operation_id="limits-get",
    auth=READ,
    response=Limits,
    summary="The engine's limits (uploads, live browsers, rate)",
)
async def limits(request: HttpRequest) -> dict[str, object]:
    # Said by the API, so a client (the console's upload forms) checks a file against the limit
    # the server will apply instead of keeping a copy of it that can drift.
    return {
        "isolation": manager.isolation.payload(),
        "maxActiveRuntimes": settings.MAX_ACTIVE_RUNTIMES,
        "defaultIdleTimeoutSeconds": settings.DEFAULT_IDLE_TIMEOUT_SECONDS,
        "storageMaxBytes": settings.STORAGE_MAX_BYTES,
        "extensionMaxBytes": settings.EXTENSION_MAX_BYTES,
        "rateLimitPerMinute": settings.RATE_LIMIT_PER_MINUTE,
        "maxRuntimesPerKey": settings.MAX_RUNTIMES_PER_KEY,
        "maxWaitsPerKey": settings.MAX_WAITS_PER_KEY,
        "teamKey": request.auth.team,  # type: ignore[attr-defined]
    }


class Counts(Schema):
    workspaces: int
    activeRuntimes: int
    profiles: int
    extensions: int
    vaultEntries: int
    aiCredentials: int


def _counts() -> dict[str, int]:
    return {
        "workspaces": Workspace.objects.count(),
        "activeRuntimes": Runtime.objects.filter(status=Runtime.Status.ACTIVE).count(),
        "profiles": BrowserProfile.objects.count(),
        "extensions": BrowserExtension.objects.count(),
        "vaultEntries": VaultEntry.objects.count(),
        "aiCredentials": AiCredential.objects.count(),
    }


@router.get(
    "/counts",
    operation_id="counts-get",
    auth=READ,
    response=Counts,
    summary="How many of each resource there are (ours)",
)
async def counts(request: HttpRequest) -> dict[str, int]:
    # The contract's lists have no totals: a client counting by listing pays for every row. Six
    # COUNT queries in one trip to the database thread cost less than one page of any list.
    return await sync_to_async(_counts)()
