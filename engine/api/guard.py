"""The ASGI guard in front of the API: key first, then the body's size, before any of it is read.

Django's ASGI handler reads a request's whole body (spooling it to a temporary file) before any
view or middleware runs, so a limit checked there comes after the bytes arrived. This guard
answers first:

- a `/v1` request (other than the docs) without a known, unrevoked API key: 401 `auth.required`
  at once, without reading its body (the key found is handed on in the ASGI scope, so the API's
  own authentication does not look it up again);
- a body past the route's limit: 413 by its Content-Length before reading, or, when it has none
  (chunked), as soon as the bytes counted so far pass it; the code is the route's own
  (`storage.too_large` for storage objects), else `request.too_large`.

Limits per route live in `body_limit`: storage objects at ENGINE_STORAGE_MAX_BYTES, extension
uploads at ENGINE_EXTENSION_MAX_BYTES plus room for the multipart envelope, everything else (JSON)
at ENGINE_JSON_MAX_BYTES.
"""

import json
import re
from typing import Any

from django.conf import settings

from engine.api.errors import error_body, key_required
from engine.api.middleware import new_request_id
from engine.errors import ApiError
from engine.models import ApiKey

Scope = dict[str, Any]
PUBLIC_PATHS = ("/v1/docs", "/v1/openapi.json")
SCOPE_KEY = "engine.api_key"  # where the guard leaves the ApiKey it found
MULTIPART_ROOM = 64 * 1024
STORAGE_OBJECT = re.compile(r"^/v1/storage/[^/]+/objects/.+")


def body_limit(method: str, path: str) -> tuple[int, str, str]:
    """(limit in bytes, error code, the setting that sets it) for a request's body."""
    if method == "PUT" and STORAGE_OBJECT.match(path):
        return settings.STORAGE_MAX_BYTES, "storage.too_large", "ENGINE_STORAGE_MAX_BYTES"
    if method == "POST" and path == "/v1/browser-extensions/upload":
        return (
            settings.EXTENSION_MAX_BYTES + MULTIPART_ROOM,
            "request.too_large",
            "ENGINE_EXTENSION_MAX_BYTES",
        )
    return settings.JSON_MAX_BYTES, "request.too_large", "ENGINE_JSON_MAX_BYTES"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _known_key(scope: Scope) -> ApiKey | None:
    from engine.api.auth import hash_key

    authorization = (_header(scope, b"authorization") or "").strip()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return await ApiKey.objects.filter(key_hash=hash_key(token.strip()), revoked_at=None).afirst()


async def _refuse(send: Any, error: ApiError) -> None:
    request_id = new_request_id()
    body = json.dumps(error_body(error, request_id)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _too_large(limit: int, code: str, setting: str) -> ApiError:
    return ApiError(
        413,
        code,
        f"The request body is larger than this route's limit of {limit} bytes ({setting}).",
        {"limitBytes": limit},
    )


def guard(app: Any) -> Any:
    async def guarded(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith("/v1/") and path not in PUBLIC_PATHS:
            api_key = await _known_key(scope)
            if api_key is None:
                await _refuse(send, key_required())
                return
            scope = {**scope, SCOPE_KEY: api_key}
        limit, code, setting = body_limit(scope["method"], path)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, _too_large(limit, code, setting))
            return
        received = 0
        answered = False

        async def counted_receive() -> dict[str, Any]:
            nonlocal received, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Past the limit mid-stream: answer now, and tell Django the client left.
                    answered = True
                    await _refuse(send, _too_large(limit, code, setting))
                    return {"type": "http.disconnect"}
            return message

        async def quiet_send(message: dict[str, Any]) -> None:
            if not answered:
                await send(message)

        await app(scope, counted_receive, quiet_send)

    return guarded
