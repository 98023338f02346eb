"""`Idempotency-Key` for creates: same key and body → the first response again; other body → 409."""

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from django.db import IntegrityError
from django.http import HttpRequest, JsonResponse

from engine.errors import ApiError
from engine.models import ApiKey, IdempotencyRecord

_locks: dict[tuple[str, str, str], asyncio.Lock] = {}


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
    lock = _locks.setdefault((str(api_key.id), scope, key), asyncio.Lock())
    digest = body_hash(body)
    async with lock:
        record = await IdempotencyRecord.objects.filter(api_key=api_key, scope=scope, key=key).afirst()
        if record is not None:
            if record.request_hash != digest:
                raise ApiError(
                    409,
                    "idempotency.conflict",
                    "This Idempotency-Key was already used with a different request body.",
                )
            response = JsonResponse(record.response_body, status=record.status_code)
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
                response_body=json.loads(json.dumps(payload, default=str)),
            )
        return JsonResponse(payload, status=status)
