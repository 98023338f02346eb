"""`Idempotency-Key` for creates: same key and body → the first response again; other body → 409.

Records are sealed (Fernet, like vault secrets: an execute's result may hold what vault.read
returned) and expire after ENGINE_IDEMPOTENCY_TTL_SECONDS; expired ones are ignored and purged.

Two requests with one key run `create` once, whichever process of the engine each reaches: the
first claims the key by inserting its record (pending, `status_code` 0) before it creates, and
the table's unique constraint refuses the second claim, which then waits for the first's answer
(polling the record) and replays it. Within one process, a per-key lock queues them first (no
polling there); it lives only while a request holds or waits for it. A failed create drops its
claim (a retry runs again); a claim whose process died is dropped when the engine starts
(engine/lifecycle.py), or taken over once it is older than any create may take.
"""

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from engine import crypto
from engine.errors import ApiError
from engine.models import ApiKey, IdempotencyRecord

LockKey = tuple[str, str, str]
_locks: dict[LockKey, tuple[asyncio.Lock, list[int]]] = {}
PURGE_INTERVAL_SECONDS = 60
PENDING = IdempotencyRecord.PENDING
CLAIM_POLL_SECONDS = 0.05
_last_purge = 0.0


@contextlib.asynccontextmanager
async def _held(key: LockKey) -> AsyncIterator[None]:
    lock, users = _locks.setdefault(key, (asyncio.Lock(), [0]))
    users[0] += 1
    try:
        async with lock:
            yield
    finally:
        users[0] -= 1
        if users[0] == 0:
            _locks.pop(key, None)


async def _purge_expired() -> None:
    global _last_purge
    if time.monotonic() - _last_purge < PURGE_INTERVAL_SECONDS:
        return
    _last_purge = time.monotonic()
    await IdempotencyRecord.objects.filter(created_at__lt=_oldest_valid()).adelete()


def _oldest_valid() -> Any:
    return timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS)


def body_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


async def idempotent(
    request: HttpRequest,
    key: str | None,
    body: Any,
    create: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
) -> JsonResponse:
    """Run `create` once per (api key, route, key); replay its stored response afterwards.

    `create` returns (status, JSON-ready body). Failures (ApiError) are not stored, so a retry
    after a 4xx/5xx runs again, as a client retrying a failed create expects.
    """
    if not key:
        status, payload = await create()
        return JsonResponse(payload, status=status)
    if len(key) > 200:
        raise ApiError(
            400,
            "request.invalid",
            "Idempotency-Key is longer than 200 characters.",
            {"fields": [{"path": "Idempotency-Key", "message": "At most 200 characters."}]},
        )
    api_key: ApiKey = request.auth  # type: ignore[attr-defined]
    scope = f"{request.method} {request.path}"
    digest = body_hash(body)
    await _purge_expired()
    async with _held((str(api_key.id), scope, key)):
        claim = await _claimed_or_replay(api_key, scope, key, digest)
        if isinstance(claim, JsonResponse):
            return claim
        try:
            status, payload = await create()
        except BaseException:
            await IdempotencyRecord.objects.filter(pk=claim.pk).adelete()
            raise
        # (an update, not a save: a claim taken over as abandoned is simply no longer there)
        await IdempotencyRecord.objects.filter(pk=claim.pk).aupdate(
            status_code=status, response_ciphertext=crypto.encrypt(json.dumps(payload, default=str))
        )
        return JsonResponse(payload, status=status)


async def _claimed_or_replay(
    api_key: ApiKey, scope: str, key: str, digest: str
) -> IdempotencyRecord | JsonResponse:
    """Our claim on the key, or the replay of the answer another request stored under it."""
    records = IdempotencyRecord.objects.filter(api_key=api_key, scope=scope, key=key)
    await records.filter(created_at__lt=_oldest_valid()).adelete()
    waited_since = time.monotonic()
    while True:
        try:
            return await IdempotencyRecord.objects.acreate(
                api_key=api_key, scope=scope, key=key, request_hash=digest, status_code=PENDING
            )
        except IntegrityError:
            record = await records.afirst()
        if record is None:
            continue  # the other claim failed and was dropped in between: claim it again
        if record.request_hash != digest:
            raise ApiError(
                409,
                "idempotency.conflict",
                "This Idempotency-Key was already used with a different request body.",
            )
        if record.status_code != PENDING:
            stored = json.loads(crypto.decrypt(record.response_ciphertext))
            response = JsonResponse(stored, status=record.status_code)
            response["Idempotent-Replayed"] = "true"
            return response
        if time.monotonic() - waited_since > abandoned_after():
            # Its request has outlived any create: the process that claimed it is gone.
            await records.filter(pk=record.pk, status_code=PENDING).adelete()
        await asyncio.sleep(CLAIM_POLL_SECONDS)


def abandoned_after() -> float:
    """Seconds after which a pending claim is someone's that will never answer."""
    return settings.MAX_EXECUTE_SECONDS + 60.0
