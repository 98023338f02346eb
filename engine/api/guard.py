"""The ASGI guard in front of the API: admission, then the key, then the body's size and pace,
before any of it is read.

Django's ASGI handler reads a request's whole body (spooling it to a temporary file) before any
view or middleware runs, so a limit checked there comes after the bytes arrived. This guard
answers first:

- admission, from memory, before the body (`Admission`, `LIMITS`): past a limit, 503
  `server.busy` with Retry-After at once. Requests without a valid key or embed token have a
  limit of their own, so a crowd without keys never takes the capacity keyed callers share; a
  `/v1` key the key ring does not remember is looked up under that limit too, and refused without
  the database when the keyed count is full (found or not, it could not be served);
- a `/v1` request (other than the docs) without a known, unrevoked API key: 401 `auth.required`
  at once, without reading its body (the key found is handed on in the ASGI scope, so the API's
  own authentication does not look it up again);
- a body past the route's limit: 413 by its Content-Length before reading, or, when it has none
  (chunked), as soon as the bytes counted so far pass it; the code is the route's own
  (`storage.too_large` for storage objects), else `request.too_large`;
- a body that arrives slower than ENGINE_BODY_MIN_BYTES_PER_SECOND (after a first second; only
  the time spent waiting for the client counts): 408 `request.timeout`, and the connection
  closes. Headers have their own limit, ENGINE_HEADERS_TIMEOUT_SECONDS, in the HTTP server
  itself (engine/management/commands/runengine.py): they arrive before this guard runs.

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
from urllib.parse import parse_qs

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
BODY_GRACE_SECONDS = 1.0  # a body's first second is free of the pace floor
EMBED_PAGE = re.compile(
    r"^/embed/(live|recording)/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(/|$)"
)
LIMITS = {  # what is counted: (the setting that limits it, what the 503 calls it)
    "requests": ("ENGINE_MAX_REQUESTS_IN_FLIGHT", "requests"),
    "streams": ("ENGINE_MAX_STREAMS_IN_FLIGHT", "long polls and streams"),
    "unauthenticated": ("ENGINE_MAX_UNAUTHENTICATED_IN_FLIGHT", "requests without a valid key"),
    "lookups": ("ENGINE_MAX_UNAUTHENTICATED_IN_FLIGHT", "API keys not checked yet"),
}


def is_long_poll(method: str, path: str) -> bool:
    return any(method == wanted and pattern.match(path) for wanted, pattern in LONG_POLLS)


class Admission:
    """Requests in flight, counted in memory: past a limit, a fast 503 instead of a long queue.

    One engine process serves every request on one event loop, with one database thread; past a
    few hundred requests at once, more only wait longer (each queues behind all the others), until
    clients time out and retry into the same queue. Refusing the excess at once, with Retry-After,
    keeps the admitted ones fast and tells the others when to come back. Four counts, each with
    its own limit (LIMITS): keyed requests, keyed long polls and streams (they wait by design),
    requests without a valid key (which must never crowd out the keyed ones), and lookups of
    keys not in memory yet.
    """

    def __init__(self) -> None:
        self.requests = 0
        self.streams = 0
        self.unauthenticated = 0
        self.lookups = 0

    def limit(self, kind: str) -> int:
        return int(getattr(settings, LIMITS[kind][0].removeprefix("ENGINE_")))

    def full(self, kind: str) -> bool:
        return int(getattr(self, kind)) >= self.limit(kind)

    def admit(self, kind: str) -> bool:
        """Count the request in under `kind`, or False when that limit is reached."""
        if self.full(kind):
            return False
        setattr(self, kind, getattr(self, kind) + 1)
        return True

    def release(self, kind: str) -> None:
        setattr(self, kind, getattr(self, kind) - 1)


admission = Admission()


def busy(kind: str) -> ApiError:
    setting, what = LIMITS[kind]
    return ApiError(
        503,
        "server.busy",
        f"The engine is serving as many {what} as it takes at once ({setting}); "
        f"try again in {RETRY_AFTER_SECONDS} s.",
        {"retryAfterSeconds": RETRY_AFTER_SECONDS},
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def too_slow(rate: int) -> ApiError:
    return ApiError(
        408,
        "request.timeout",
        f"The request body arrived slower than {rate} bytes per second (ENGINE_BODY_MIN_BYTES_PER_SECOND); "
        "send it again on a faster connection, or in smaller requests.",
        {"minBytesPerSecond": rate},
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


def _bearer(scope: Scope) -> str | None:
    authorization = (_header(scope, b"authorization") or "").strip()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _embed_token_valid(scope: Scope) -> bool:
    """Whether an /embed page request carries a token that opens it (signature and expiry only)."""
    from engine.live import tokens

    found = EMBED_PAGE.match(scope["path"])
    if found is None:
        return False
    token = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1")).get("token", [None])[0]
    try:
        tokens.read(token, found.group(2), found.group(1))  # type: ignore[arg-type]
    except tokens.TokenRefused:
        return False
    return True


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
            await _checked(app, scope, receive, send, None, False)
            return
        keyed = "streams" if is_long_poll(scope["method"], scope["path"]) else "requests"
        key = await _key_of(scope, keyed)
        if isinstance(key, ApiError):
            metrics.ADMISSION_REFUSALS.labels(keyed).inc()
            await _refuse(scope, send, key, close=_large_body(scope))
            return
        if key[0] is None and _needs_key(scope["path"]):
            await _refuse(scope, send, key_required())  # at once, the body unread: nothing to count
            return
        kind = keyed if key[0] is not None or _embed_token_valid(scope) else "unauthenticated"
        if not admission.admit(kind):
            metrics.ADMISSION_REFUSALS.labels(kind).inc()
            await _refuse(scope, send, busy(kind), close=_large_body(scope))
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
            await _checked(app, scope, receive, counted_send, *key)
        finally:
            release()

    return guarded


async def _key_of(scope: Scope, keyed: str) -> tuple[ApiKey | None, bool] | ApiError:
    """(the request's API key, whether it is checked) from memory, or looked up when a /v1 key is
    not remembered; an ApiError when admission refuses the lookup."""
    from engine.api.auth import keyring

    token = _bearer(scope)
    if token is None:
        return None, False
    api_key, fresh = keyring.remembered(token)
    if api_key is not None or not _needs_key(scope["path"]):
        return api_key, fresh
    if admission.full(keyed):
        return busy(keyed)  # found or not, it could not be served now
    if not admission.admit("lookups"):
        return busy("lookups")
    try:
        return await keyring.find(token), True
    finally:
        admission.release("lookups")


def _needs_key(path: str) -> bool:
    return path.startswith("/v1/") and path not in PUBLIC_PATHS


async def _checked_key(scope: Scope, api_key: ApiKey | None, fresh: bool) -> ApiKey | None:
    """The request's key, looked up again when it was only remembered (it may have been revoked)."""
    from engine.api.auth import keyring

    if api_key is not None and not fresh:
        return await keyring.find(_bearer(scope) or "")
    return api_key


async def _within(receive: Any, seconds: float) -> dict[str, Any] | None:
    """The client's next message, or None when it does not come within `seconds`."""
    try:
        message: dict[str, Any] = await asyncio.wait_for(receive(), max(seconds, 0.001))
    except TimeoutError:
        return None
    return message


async def _checked(
    app: Any, scope: Scope, receive: Any, send: Any, api_key: ApiKey | None, fresh: bool
) -> None:
    """Key, then body size; then the app, with the body counted and paced as it arrives."""
    path = scope["path"]
    if _needs_key(path):
        api_key = await _checked_key(scope, api_key, fresh)
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
    waited = 0.0  # seconds spent waiting for the client's body
    body_done = False
    answered = False
    rate = settings.BODY_MIN_BYTES_PER_SECOND
    loop = asyncio.get_running_loop()

    async def cut(error: ApiError) -> dict[str, Any]:
        # Answer now, and tell Django the client left.
        nonlocal answered
        answered = True
        await _refuse(scope, send, error)
        return {"type": "http.disconnect"}

    async def counted_receive() -> dict[str, Any]:
        nonlocal received, waited, body_done
        if answered:
            return {"type": "http.disconnect"}
        if body_done or not rate:
            message = await receive()
        else:
            # What the client has sent must keep up with the floor, for the time spent waiting.
            started = loop.time()
            message = await _within(receive, BODY_GRACE_SECONDS + received / rate - waited)
            waited += loop.time() - started
            if message is None:
                return await cut(too_slow(rate))
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            body_done = not message.get("more_body", False)
            if received > limit:
                return await cut(_too_large(limit, code, setting))
        return message

    async def quiet_send(message: dict[str, Any]) -> None:
        if not answered:
            await send(message)

    if scope["method"] == "PUT" and STORAGE_OBJECT.match(path):
        body = BodyStream(counted_receive)
        await app({**scope, BODY_KEY: body}, body.django_receive, quiet_send)
        return
    await app(scope, counted_receive, quiet_send)
