"""API keys: list, create (the secret is answered once), revoke. Every route needs `admin`.

A key is stored as the sha256 of its secret, so the secret cannot be shown again: create answers
it once and nothing else ever does. That is also why create takes no `Idempotency-Key`: replaying
the first answer would mean keeping the secret to replay. A key cannot revoke itself (409
`api_key.self`): the caller would lock itself out mid-call, and an organisation could lose its
last admin key by accident. Revoking an already revoked key keeps its first `revokedAt` (204).
"""

from typing import Any, Literal
from uuid import UUID

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import BaseModel, Field

from engine import wire
from engine.api.auth import ADMIN, create_api_key, keyring
from engine.api.common import ApiKeyId, Timestamp, parse_uuid, to_json
from engine.api.pagination import paginate
from engine.errors import ApiError
from engine.models import ApiKey

router = Router(tags=["api keys"])

Scope = Literal["admin", "operator", "read"]


class ApiKeyOut(BaseModel):
    id: UUID
    name: str
    scopes: list[Scope]
    createdAt: Timestamp
    lastUsedAt: Timestamp | None = Field(description="Updated at most once a minute.")
    revokedAt: Timestamp | None


class ApiKeyList(BaseModel):
    apiKeys: list[ApiKeyOut]
    nextCursor: str | None


class ApiKeyCreate(Schema):
    name: str = Field(min_length=1, max_length=200, pattern=r"\S")
    scope: Scope


class ApiKeyCreated(BaseModel):
    apiKey: ApiKeyOut
    secret: str = Field(description="The key itself: shown in this answer only, stored as a hash.")


class ApiKeyFilters(Schema):
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=500)


@router.get(
    "",
    operation_id="api-keys-list",
    auth=ADMIN,
    response=ApiKeyList,
    summary="List API keys (revoked ones too), newest first",
)
async def list_api_keys(request: HttpRequest, filters: Query[ApiKeyFilters]) -> dict[str, Any]:
    rows, next_cursor = await paginate(ApiKey.objects.all(), filters.limit, filters.cursor)
    return {"apiKeys": [wire.api_key(k) for k in rows], "nextCursor": next_cursor}


@router.post(
    "",
    operation_id="api-keys-create",
    auth=ADMIN,
    response={201: ApiKeyCreated},
    summary="Create an API key; its secret is answered once",
)
async def create(request: HttpRequest, payload: ApiKeyCreate) -> tuple[int, dict[str, Any]]:
    api_key, secret = await sync_to_async(create_api_key)(payload.name.strip(), payload.scope)
    return 201, {"apiKey": to_json(ApiKeyOut, wire.api_key(api_key)), "secret": secret}


@router.delete(
    "/{apiKeyId}",
    operation_id="api-keys-revoke",
    auth=ADMIN,
    response={204: None},
    summary="Revoke an API key at once; 409 api_key.self for the key making the call",
)
async def revoke(request: HttpRequest, api_key_id: ApiKeyId) -> HttpResponse:
    key_id = parse_uuid(api_key_id, "api_key.not_found", "API key")
    api_key = await ApiKey.objects.filter(id=key_id).afirst()
    if api_key is None:
        raise ApiError(404, "api_key.not_found", f"API key {key_id} does not exist.")
    if api_key.id == request.auth.id:  # type: ignore[attr-defined]
        raise ApiError(
            409,
            "api_key.self",
            "An API key cannot revoke itself; revoke it with another admin key.",
        )
    if api_key.revoked_at is None:
        await ApiKey.objects.filter(id=key_id, revoked_at=None).aupdate(revoked_at=timezone.now())
    keyring.forget(key_id)  # the engine resolves keys from memory: the revocation counts from now
    return HttpResponse(status=204)
