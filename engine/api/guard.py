"""The ASGI guard in front of the API: admission, then the key, then the body's size, before any of it is read.

Django's ASGI handler reads a request's whole body (spooling it to a temporary file) before any
view or middleware runs, so a limit checked there comes after the bytes arrived. This guard
answers first:

- admission: past ENGINE_MAX_REQUESTS_IN_FLIGHT requests being served (ENGINE_MAX_STREAMS_IN_FLIGHT
  for long polls and streams, counted apart: they are meant to stay open), 503 `server.busy` with
  Retry-After at once, from memory, before the key, the database or the body (see `Admission`);
- a `/v1` request (other than the docs) without a known, unrevoked API key: 401 `auth.required`
  at once, without reading its body (the key found is handed on in the ASGI scope, so the API's
  own authentication does not look it up again);
- a body past the route's limit: 413 by its Content-Length before reading, or, when it has none
  (chunked), as soon as the bytes counted so far pass it; the code is the route's own
  (`storage.too_large` for storage objects), else `request.too_large`.

Storage object uploads are not spooled at all: their body is handed to the view as a stream
(`BodyStream`, found in the ASGI scope under BODY_KEY), which writes it to its blob as it
arrives, hashing on the way; Django itself sees an empty body.

Limits per route live in `body_limit`: storage objects at ENGINE_STORAGE_MAX_BYTES, extension
uploads at ENGINE_EXTENSION_MAX_BYTES plus room for the multipart envelope, everything else (JSON)
at ENGINE_JSON_MAX_BYTES.
"""

import asyncio
import json
import re
from collections.abc import AsyncGenerator
from typing import Any

from django.conf import settings

from engine import metrics
from engine.api.errors import error_body, key_required
from engine.errors import ApiError
from engine.logs import request_id_from
from engine.models import ApiKey

Scope = dict[str, Any]
PUBLIC_PATHS = ("/v1/docs", "/v1/openapi.json")
SCOPE_KEY = "engine.api_key"  # where the guard leaves the ApiKey it found
BODY_KEY = "engine.body"  # where it leaves the BodyStream of a streamed upload
MULTIPART_ROOM = 64 * 1024
STORAGE_OBJECT = re.compile(r"^/v1/storage/[^/]+/objects/.+")
# Requests that are meant to stay open: the two long polls and the updates stream.
LONG_POLLS = (
    ("POST", re.compile(r"^/v1/workspaces/[^/]+/runtimes/[^/]+/events/wait$")),
    ("POST", re.compile(r"^/v1/operations/[^/]+/wait$")),
    ("GET", re.compile(r"^/v1/updates/stream$")),
)
# Answered whatever the load: a supervisor asking whether the process lives or is ready, and the
# metrics scraper (engine/api/probes.py: cheap, from memory or one query with a time limit).
UNCOUNTED = ("/healthz", "/readyz", "/metrics")
RETRY_AFTER_SECONDS = 1


def is_long_poll(method: str, path: str) -> bool:
    return any(method == wanted and pattern.match(path) for wanted, pattern in LONG_POLLS)


class Admission:
    """Requests in flight, counted in memory: past the limit, a fast 503 instead of a long queue.

    One engine process serves every request on one event loop, with one database thread; past a
    few hundred requests at once, more only wait longer (each queues behind all the others), until
    clients time out and retry into the same queue. Refusing the excess at once, with Retry-After,
    keeps the admitted ones fast and tells the others when to come back. Long polls and streams
    wait by design, so they are counted apart, against their own limit.
    """

    def __init__(self) -> None:
        self.requests = 0
        self.streams = 0

    def admit(self, method: str, path: str) -> str | None:
        """Count the request in ("requests" or "streams"), or None when its limit is reached."""
        if is_long_poll(method, path):
            if self.streams >= settings.MAX_STREAMS_IN_FLIGHT:
                return None
            self.streams += 1
            return "streams"
        if self.requests >= settings.MAX_REQUESTS_IN_FLIGHT:
            return None
        self.requests += 1
        return "requests"

    def release(self, kind: str) -> None:
        setattr(self, kind, getattr(self, kind) - 1)


admission = Admission()


def busy(kind: str) -> ApiError:
    setting = "ENGINE_MAX_STREAMS_IN_FLIGHT" if kind == "streams" else "ENGINE_MAX_REQUESTS_IN_FLIGHT"
    what = "long polls and streams" if kind == "streams" else "requests"
    return ApiError(
        503,
        "server.busy",
        f"The engine is serving as many {what} as it takes at once ({setting}); "
        f"try again in {RETRY_AFTER_SECONDS} s.",
        {"retryAfterSeconds": RETRY_AFTER_SECONDS},
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


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
    from engine.api.auth import keyring

    authorization = (_header(scope, b"authorization") or "").strip()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return await keyring.find(token.strip())


async def _refuse(scope: Scope, send: Any, error: ApiError, close: bool = True) -> None:
    """Answer with the contract's error body; `close` unless the connection may serve the next one
    (a refused body may still be arriving: closing is how the client learns to stop sending it)."""
    request_id = request_id_from(_header(scope, b"x-request-id"))
    metrics.API_ERRORS.labels(str(error.status), error.code).inc()
    body = json.dumps(error_body(error, request_id)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
        *((name.lower().encode(), value.encode()) for name, value in error.headers.items()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _too_large(limit: int, code: str, setting: str) -> ApiError:
    return ApiError(
        413,
        code,
        f"The request body is larger than this route's limit of {limit} bytes ({setting}).",
        {"limitBytes": limit},
    )


class ClientGone(Exception):
    """The client left (or its body was refused) before the whole body arrived."""


class BodyStream:
    """A request body handed to its view as it arrives, instead of spooled whole by Django first.

    Django's ASGI handler reads the entire body into a temporary file before any view runs; for an
    upload that is a second copy of every byte, on disk past 5 MB, before the real write begins.
    Here Django is told the body is empty (`django_receive`), and the view reads the real one from
    `chunks()`. Once the body has been read (or abandoned), Django's own wait for the client to
    disconnect gets the real channel back, so a client that leaves is still noticed.
    """

    def __init__(self, receive: Any) -> None:
        self._receive = receive
        self._started = False
        self._told_django = False
        self._finished = asyncio.Event()
        self.disconnected = False

    async def django_receive(self) -> dict[str, Any]:
        if not self._told_django:
            self._told_django = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._finished.wait()
        if self.disconnected:
            return {"type": "http.disconnect"}
        return dict(await self._receive())

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        """The body's bytes as they arrive; ClientGone if the client leaves (or passes the limit)."""
        if self._started:
            raise RuntimeError("A request body can be read once.")
        self._started = True
        try:
            while True:
                message = await self._receive()
                if message["type"] == "http.disconnect":
                    self.disconnected = True
                    raise ClientGone("The client left before sending the whole body.")
                if message.get("body"):
                    yield message["body"]
                if not message.get("more_body", False):
                    return
        finally:
            self._finished.set()


def streamed_body(request: Any) -> BodyStream | None:
    """The upload's BodyStream, when the guard streams this request's body."""
    return getattr(request, "scope", {}).get(BODY_KEY)


def _large_body(scope: Scope) -> bool:
    """Whether a refused request's unread body is worth a new connection rather than draining it
    (the server reads a small one to reuse the connection for the retry)."""
    declared = _header(scope, b"content-length")
    if declared is None:
        return _header(scope, b"transfer-encoding") is not None
    return not declared.isdigit() or int(declared) > MULTIPART_ROOM


def guard(app: Any) -> Any:
    async def guarded(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        if scope["path"] in UNCOUNTED:  # not counted, but its body bounded like any other
            await _checked(app, scope, receive, send)
            return
        kind = admission.admit(scope["method"], scope["path"])
        if kind is None:
            refused = "streams" if is_long_poll(scope["method"], scope["path"]) else "requests"
            metrics.ADMISSION_REFUSALS.labels(refused).inc()
            await _refuse(scope, send, busy(refused), close=_large_body(scope))
            return
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                admission.release(kind)

        async def counted_send(message: dict[str, Any]) -> None:
            await send(message)
            # Answered: no longer in flight, though Django still has its clean-up to do.
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                release()

        try:
            await _checked(app, scope, receive, counted_send)
        finally:
            release()

    return guarded


async def _checked(app: Any, scope: Scope, receive: Any, send: Any) -> None:
    """Key, then body size; then the app, with the body counted as it arrives."""
    path = scope["path"]
    if path.startswith("/v1/") and path not in PUBLIC_PATHS:
        api_key = await _known_key(scope)
        if api_key is None:
            await _refuse(scope, send, key_required())
            return
        scope = {**scope, SCOPE_KEY: api_key}
    limit, code, setting = body_limit(scope["method"], path)
    declared = _header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        await _refuse(scope, send, _too_large(limit, code, setting))
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
                await _refuse(scope, send, _too_large(limit, code, setting))
                return {"type": "http.disconnect"}
        return message

    async def quiet_send(message: dict[str, Any]) -> None:
        if not answered:
            await send(message)

    if scope["method"] == "PUT" and STORAGE_OBJECT.match(path):
        body = BodyStream(counted_receive)
        await app({**scope, BODY_KEY: body}, body.django_receive, quiet_send)
        return
    await app(scope, counted_receive, quiet_send)
