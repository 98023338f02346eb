"""AI credentials: provider keys chosen by id, stored encrypted, never returned; `test` tries one.

Writes declare the admin scope, `test` the operator scope (their routes' `auth=`). Deleting a credential
a workspace (or an active runtime) still names in its mounts → 409 ai_credential.in_use.
"""

from typing import Any

from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Header, Query, Router, Schema
from pydantic import Field, field_validator

from engine import crypto, wire
from engine.ai import providers
from engine.api.auth import ADMIN, OPERATOR, READ
from engine.api.common import CredentialId, Timestamp, patched_fields, to_json
from engine.api.idempotency import idempotent
from engine.api.pagination import paginate
from engine.errors import ApiError, invalid
from engine.models import AiCredential, Runtime, Workspace
from engine.updates import record_update

router = Router(tags=["ai_credentials"])

ID_PATTERN = providers.CREDENTIAL_ID_PATTERN
Provider = providers.Provider
API_KEY_PATTERN = providers.API_KEY_PATTERN
_check_url = providers.check_base_url
_check_model = providers.check_model


class CredentialCreate(Schema):
    id: str = Field(pattern=ID_PATTERN)
    provider: Provider
    label: str = Field(min_length=1, max_length=200)
    apiKey: str = Field(min_length=1, max_length=4096, pattern=API_KEY_PATTERN)
    baseUrl: str | None = Field(default=None, max_length=500)
    defaultModel: str | None = Field(default=None, max_length=200)
    enabled: bool = True

    _url = field_validator("baseUrl")(_check_url)
    _model = field_validator("defaultModel")(_check_model)


class CredentialPatch(Schema):
    label: str | None = Field(default=None, min_length=1, max_length=200)
    apiKey: str | None = Field(default=None, min_length=1, max_length=4096, pattern=API_KEY_PATTERN)
    baseUrl: str | None = Field(default=None, max_length=500)
    defaultModel: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None

    _url = field_validator("baseUrl")(_check_url)
    _model = field_validator("defaultModel")(_check_model)


class CredentialOut(Schema):
    id: str
    provider: Provider
    label: str
    enabled: bool
    baseUrl: str | None
    defaultModel: str | None
    createdAt: Timestamp
    updatedAt: Timestamp


class CredentialList(Schema):
    credentials: list[CredentialOut]
    nextCursor: str | None


class CredentialFilters(Schema):
    provider: Provider | None = None
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=500)


class TestOut(Schema):
    ok: bool
    message: str
    provider: str
    code: str | None = Field(
        default=None,
        description="Why not ok: navigation.blocked (the egress policy refuses baseUrl's address; nothing "
        "was sent), provider.rejected_key, provider.rate_limited, provider.unreachable, provider.timeout, "
        "provider.error, provider.not_a_model_list, request.invalid.",
    )


def _needs_base_url(provider: str, base_url: str | None) -> None:
    if provider == "openai-compatible" and not base_url:
        raise invalid(
            "An openai-compatible credential needs a baseUrl (e.g. http://127.0.0.1:11434/v1).",
            [{"path": "baseUrl", "message": "Required for openai-compatible."}],
        )


async def _credential(credential_id: str) -> AiCredential:
    credential = await AiCredential.objects.filter(id=credential_id).afirst()
    if credential is None:
        raise ApiError(404, "ai_credential.not_found", f"No AI credential '{credential_id[:64]}'.")
    return credential


def _names(mounts: dict[str, Any], credential_id: str) -> bool:
    ai = (mounts or {}).get("ai") or {}
    return credential_id in (ai.get("allow") or []) or credential_id in (ai.get("defaults") or {}).values()


@router.get(
    "",
    operation_id="ai-credentials-list",
    auth=READ,
    response=CredentialList,
    summary="List AI credentials (never their keys)",
)
async def list_credentials(request: HttpRequest, filters: Query[CredentialFilters]) -> dict[str, Any]:
    queryset = AiCredential.objects.all()
    if filters.provider:
        queryset = queryset.filter(provider=filters.provider)
    rows, next_cursor = await paginate(queryset, filters.limit, filters.cursor)
    return {"credentials": [wire.ai_credential(c) for c in rows], "nextCursor": next_cursor}


@router.post(
    "",
    operation_id="ai-credentials-create",
    auth=ADMIN,
    response={200: CredentialOut},  # 200 as the public reference answers, though it creates
    summary="Create an AI credential",
)
async def create(
    request: HttpRequest,
    payload: CredentialCreate,
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> JsonResponse:
    _needs_base_url(payload.provider, payload.baseUrl)

    async def make() -> tuple[int, dict[str, Any]]:
        try:
            credential = await AiCredential.objects.acreate(
                id=payload.id,
                provider=payload.provider,
                label=payload.label,
                api_key_ciphertext=crypto.encrypt(payload.apiKey),
                base_url=payload.baseUrl or "",
                default_model=payload.defaultModel or "",
                enabled=payload.enabled,
            )
        except IntegrityError as exc:
            raise ApiError(
                409,
                "ai_credential.exists",
                f"An AI credential '{payload.id}' already exists; PATCH it or choose another id.",
            ) from exc
        await record_update(
            "ai_credential.created",
            {"id": credential.id, "provider": credential.provider, "label": credential.label},
        )
        return 200, to_json(CredentialOut, wire.ai_credential(credential))

    # The idempotency record stores a hash of the body, never the body: the key stays out of it.
    return await idempotent(request, idempotency_key, payload.model_dump(mode="json"), make)


@router.get(
    "/{credentialId}",
    operation_id="ai-credentials-get",
    auth=READ,
    response=CredentialOut,
    summary="Get an AI credential (never its key)",
)
async def get(request: HttpRequest, credential_id: CredentialId) -> dict[str, Any]:
    return wire.ai_credential(await _credential(credential_id))


@router.patch(
    "/{credentialId}",
    operation_id="ai-credentials-update",
    auth=ADMIN,
    response=CredentialOut,
    summary="Change an AI credential",
)
async def patch(
    request: HttpRequest, credential_id: CredentialId, payload: CredentialPatch
) -> dict[str, Any]:
    credential = await _credential(credential_id)
    changed = patched_fields(payload, "label", "apiKey", "enabled")
    if payload.label is not None:
        credential.label = payload.label
    if payload.apiKey is not None:
        credential.api_key_ciphertext = crypto.encrypt(payload.apiKey)
    if "baseUrl" in changed:
        credential.base_url = payload.baseUrl or ""
    if "defaultModel" in changed:
        credential.default_model = payload.defaultModel or ""
    if payload.enabled is not None:
        credential.enabled = payload.enabled
    _needs_base_url(credential.provider, credential.base_url)
    await credential.asave()
    await record_update(
        "ai_credential.updated",
        {"id": credential.id, "provider": credential.provider, "fields": sorted(changed)},
    )
    return wire.ai_credential(credential)


@router.delete(
    "/{credentialId}",
    operation_id="ai-credentials-delete",
    auth=ADMIN,
    response={204: None},
    summary="Delete an AI credential",
)
async def delete(request: HttpRequest, credential_id: CredentialId) -> HttpResponse:
    credential = await _credential(credential_id)
    workspaces = [
        w async for w in Workspace.objects.only("id", "name", "mounts") if _names(w.mounts, credential.id)
    ]
    runtimes = [
        r
        async for r in Runtime.objects.filter(status=Runtime.Status.ACTIVE).only("id", "alias", "mounts")
        if _names(r.mounts, credential.id)
    ]
    if workspaces or runtimes:
        names = ", ".join(f"'{w.name}'" for w in workspaces[:5]) or "none"
        raise ApiError(
            409,
            "ai_credential.in_use",
            f"The AI credential '{credential.id}' is named in the mounts of {len(workspaces)} workspace(s) "
            f"({names}) and {len(runtimes)} active runtime(s); remove it from their mounts.ai first.",
            {
                "workspaces": [str(w.id) for w in workspaces],
                "runtimes": [str(r.id) for r in runtimes],
            },
        )
    await AiCredential.objects.filter(id=credential.id).adelete()
    await record_update("ai_credential.deleted", {"id": credential.id, "provider": credential.provider})
    return HttpResponse(status=204)


@router.post(
    "/{credentialId}/test",
    operation_id="test",
    auth=OPERATOR,
    response=TestOut,
    summary="Try the key with a cheap call to the provider",
)
async def test(request: HttpRequest, credential_id: CredentialId) -> dict[str, Any]:
    credential = await _credential(credential_id)
    result = await providers.check_key(
        credential.provider, crypto.decrypt(credential.api_key_ciphertext), credential.base_url or None
    )
    return {"ok": result.ok, "message": result.message, "provider": credential.provider, "code": result.code}
