"""Vault: login entries addressed by a path-like key; secrets are write-only except `reveal`.

PUT creates an entry or updates it. On an existing entry, every field the body leaves out keeps
its stored value: a PUT without `password` keeps the password, without `totp` keeps the seed,
without any of `origins`/`originPatterns`/`matchOrigins` keeps the origin rules (so relabelling
never needs the secret again, and never silently lifts an origin restriction). `totp: ""` or
`null` removes the seed; `origins: []` (with no other origin field) removes the rules. Writes and
`reveal` declare the admin scope, TOTP codes the operator scope (their routes' `auth=`); `reveal`
is written to the engine log as an audit line, without secrets.
"""

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from engine import crypto, wire
from engine.api.auth import ADMIN, OPERATOR, READ
from engine.api.common import Timestamp
from engine.api.pagination import paginate
from engine.errors import ApiError, invalid
from engine.models import ApiKey, VaultEntry
from engine.updates import record_update
from engine.vault import entries

router = Router(tags=["vault"])
audit = logging.getLogger("engine.audit")


class VaultEntryOut(Schema):
    key: str
    label: str
    username: str
    hasPassword: bool
    hasTotp: bool
    origins: list[str]
    originPatterns: list[str]
    notes: str
    createdAt: Timestamp
    updatedAt: Timestamp


class VaultList(Schema):
    entries: list[VaultEntryOut]
    nextCursor: str | None


class VaultPut(Schema):
    username: str = Field(max_length=500)
    password: str | None = Field(
        default=None, max_length=4096, description="Required for a new entry; omitted keeps the stored one."
    )
    totp: str | None = Field(
        default=None,
        max_length=2048,
        description="Base32 seed or otpauth:// URI; omitted keeps the stored seed, '' or null removes it.",
    )
    label: str = Field(default="", max_length=200)
    origins: list[str] = Field(default_factory=list, max_length=100)
    originPatterns: list[str] = Field(default_factory=list, max_length=100)
    matchOrigins: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Split by the server: items with '*' become originPatterns, the rest origins.",
    )
    notes: str = Field(default="", max_length=10_000)


class VaultFilters(Schema):
    prefix: str | None = Field(default=None, max_length=256)
    hasTotp: bool | None = None
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=1000)


class TotpOut(Schema):
    code: str
    expiresInSeconds: int


class RevealOut(Schema):
    username: str
    password: str | None
    totp: str | None


async def _entry(key: str) -> VaultEntry:
    entries.check_key(key)
    entry = await VaultEntry.objects.filter(key=key).afirst()
    if entry is None:
        raise ApiError(404, "vault.not_found", f"No vault entry '{key}'.")
    return entry


@router.get(
    "",
    operation_id="vault-list",
    auth=READ,
    response=VaultList,
    summary="List vault entries (never their secrets)",
)
async def list_entries(request: HttpRequest, filters: Query[VaultFilters]) -> dict[str, Any]:
    queryset = VaultEntry.objects.all()
    if filters.prefix:
        queryset = queryset.filter(key__startswith=filters.prefix)
    if filters.hasTotp is not None:
        queryset = queryset.filter(totp_ciphertext__isnull=not filters.hasTotp)
    # Keyset over the key itself (unique): the same column twice satisfies the (a, b) cursor.
    rows, next_cursor = await paginate(
        queryset, filters.limit, filters.cursor, key=("key", "key"), descending=False
    )
    return {"entries": [wire.vault_entry(e) for e in rows], "nextCursor": next_cursor}


# The sub-resources come before the entry routes: `{path:key}` would otherwise swallow "/totp".
@router.get(
    "/{path:key}/totp",
    operation_id="vault-totp",
    auth=OPERATOR,
    response=TotpOut,
    summary="The entry's current TOTP code",
    description="Needs the operator scope: a second factor is a secret a read-only key should not get.",
)
async def totp(request: HttpRequest, key: str) -> dict[str, Any]:
    return entries.totp_code(await _entry(key))


@router.post(
    "/{path:key}/reveal",
    operation_id="vault-reveal",
    auth=ADMIN,
    response=RevealOut,
    summary="Reveal an entry's secrets (admin, audited)",
)
async def reveal(request: HttpRequest, key: str) -> dict[str, Any]:
    entry = await _entry(key)
    api_key: ApiKey = request.auth  # type: ignore[attr-defined]
    # The audit trail of a reveal is this log line: who, which key, which request; never what.
    audit.warning(
        "vault entry %r revealed by API key %s (%s), request %s",
        entry.key,
        api_key.id,
        api_key.name,
        getattr(request, "request_id", "-"),
    )
    return entries.secrets_of(entry)


# They only ever refuse (400: a key may not end in /totp or /reveal), so any key may hear it.
@router.api_operation(["PUT", "DELETE", "POST"], "/{path:key}/totp", auth=READ, include_in_schema=False)
async def reserved_totp(request: HttpRequest, key: str) -> None:
    # Without these, a PUT to "a/totp" would meet the GET-only TOTP route: 405 without our body.
    entries.check_key(f"{key}/totp", for_write=True)


@router.api_operation(["PUT", "DELETE", "GET"], "/{path:key}/reveal", auth=READ, include_in_schema=False)
async def reserved_reveal(request: HttpRequest, key: str) -> None:
    entries.check_key(f"{key}/reveal", for_write=True)


@router.put(
    "/{path:key}",
    operation_id="vault-put",
    auth=ADMIN,
    response=VaultEntryOut,
    summary="Create or replace a vault entry",
)
async def put(request: HttpRequest, key: str, payload: VaultPut) -> dict[str, Any]:
    entries.check_key(key, for_write=True)
    origins, patterns = entries.split_origins(payload.origins, payload.originPatterns, payload.matchOrigins)
    sent = payload.model_fields_set
    totp_ciphertext: bytes | None = None
    if payload.totp:
        totp_ciphertext = crypto.encrypt(entries.normalise_totp(payload.totp))
    entry = await VaultEntry.objects.filter(key=key).afirst()
    created = entry is None
    if entry is None:
        if payload.password is None:
            raise invalid(
                "A new vault entry needs a password.",
                [{"path": "password", "message": "Required for a new entry."}],
            )
        entry = VaultEntry(key=key)
    entry.username = payload.username
    if created or "label" in sent:
        entry.label = payload.label
    if created or "notes" in sent:
        entry.notes = payload.notes
    if created or sent & {"origins", "originPatterns", "matchOrigins"}:
        entry.origins = origins
        entry.origin_patterns = patterns
    if payload.password is not None:
        entry.password_ciphertext = crypto.encrypt(payload.password)
    if "totp" in sent:
        entry.totp_ciphertext = totp_ciphertext
    await entry.asave()
    await record_update("vault.entry.created" if created else "vault.entry.updated", {"key": entry.key})
    return wire.vault_entry(entry)


@router.get(
    "/{path:key}",
    operation_id="vault-get",
    auth=READ,
    response=VaultEntryOut,
    summary="Get a vault entry (never its secrets)",
)
async def get(request: HttpRequest, key: str) -> dict[str, Any]:
    return wire.vault_entry(await _entry(key))


@router.delete(
    "/{path:key}",
    operation_id="vault-delete",
    auth=ADMIN,
    response={204: None},
    summary="Delete a vault entry",
)
async def delete(request: HttpRequest, key: str) -> HttpResponse:
    entry = await _entry(key)
    await VaultEntry.objects.filter(key=entry.key).adelete()
    await record_update("vault.entry.deleted", {"key": entry.key})
    return HttpResponse(status=204)
