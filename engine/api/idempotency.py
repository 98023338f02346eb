"""`Idempotency-Key` for creates: same key and body → the first response again; other body → 409.

Records are sealed (Fernet, like vault secrets: an execute's result may hold what vault.read
returned) and expire after ENGINE_IDEMPOTENCY_TTL_SECONDS; expired ones are ignored and purged.
The per-key lock that serialises two concurrent requests with one key lives only while a request
holds or waits for it.
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
        records = IdempotencyRecord.objects.filter(api_key=api_key, scope=scope, key=key)
        await records.filter(created_at__lt=_oldest_valid()).adelete()
        record = await records.afirst()
        if record is not None:
            if record.request_hash != digest:
                raise ApiError(
                    409,
                    "idempotency.conflict",
                    "This Idempotency-Key was already used with a different request body.",
                )
            stored = json.loads(crypto.decrypt(record.response_ciphertext))
            response = JsonResponse(stored, status=record.status_code)
            response["Idempotent-Replayed"] = "true"
            return response
        status, payload = await create()
        with contextlib.suppress(IntegrityError):
            await IdempotencyRecord.objects.acreate(
                api_key=api_key,
                scope=scope,
                key=key,
                request_hash=digest,
                status_code=status,
                response_ciphertext=crypto.encrypt(json.dumps(payload, default=str)),
            )
        return JsonResponse(payload, status=status)
