"""Who am I, and what the engine allows."""

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema

from engine.api.auth import READ, whoami_payload
from engine.api.common import Timestamp
from engine.models import AiCredential, BrowserExtension, BrowserProfile, Runtime, VaultEntry, Workspace

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


class Limits(Schema):
    maxActiveRuntimes: int
    defaultIdleTimeoutSeconds: int
    storageMaxBytes: int
    extensionMaxBytes: int
    rateLimitPerMinute: int


@router.get(
    "/limits",
    operation_id="limits-get",
    auth=READ,
    response=Limits,
    summary="The engine's limits (uploads, live browsers, rate)",
)
async def limits(request: HttpRequest) -> dict[str, int]:
    # Said by the API, so a client (the console's upload forms) checks a file against the limit
    # the server will apply instead of keeping a copy of it that can drift.
    return {
        "maxActiveRuntimes": settings.MAX_ACTIVE_RUNTIMES,
        "defaultIdleTimeoutSeconds": settings.DEFAULT_IDLE_TIMEOUT_SECONDS,
        "storageMaxBytes": settings.STORAGE_MAX_BYTES,
        "extensionMaxBytes": settings.EXTENSION_MAX_BYTES,
        "rateLimitPerMinute": settings.RATE_LIMIT_PER_MINUTE,
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
