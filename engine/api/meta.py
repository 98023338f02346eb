"""Who am I, and what the engine allows."""

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema

from engine.api.auth import READ, whoami_payload
from engine.api.common import Timestamp

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
    "/auth/whoami", auth=READ, response=WhoAmI, summary="The organisation and API key of this request"
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
    "/limits", auth=READ, response=Limits, summary="The engine's limits (uploads, live browsers, rate)"
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
