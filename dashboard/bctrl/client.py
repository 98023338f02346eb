"""The pooled httpx client, with timeouts, bounded retries and the contract's errors mapped."""

import asyncio
import logging
import random
import uuid
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
from django.conf import settings

from dashboard import logs
from dashboard.bctrl import acting, surface, timing
from dashboard.bctrl.errors import BY_STATUS, BctrlError, Unavailable, UnexpectedAnswer

logger = logging.getLogger("dashboard.bctrl")

RETRY_STATUSES = {429, 502, 503, 504}
IDEMPOTENT_METHODS = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}
MAX_RETRY_AFTER_SECONDS = 10.0
BUSY = "server.busy"  # 503 from the engine's admission control: nothing of the request was done
NOT_OFFERED_STATUSES = (404, 405, 501)
# Failures that happen before a request leaves: nothing of it can have been done.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class BctrlClient:
    """A client of one BCTRL v1 API. Cheap to call, expensive to create: share it."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 15.0,
        retries: int = 2,
        max_calls_in_flight: int = 16,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff: float = 0.2,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        # Calls beyond this wait here, not in httpcore's pool: each time a call joins or leaves it,
        # the pool rescans every queued call against every connection, so with hundreds of calls
        # at once (50 users' overviews) the console would spend most of its CPU in that scan
        # (bench/load.py, the console rows). A few busy connections serve loopback as fast; 16
        # still overlap a far API's latency (16 calls per round trip, per process).
        self._calls = asyncio.Semaphore(max_calls_in_flight)
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/",
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "bctrl-console/0.1"},
            timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
            # httpx drops idle pooled connections after 5 s, well inside the engine's keep-alive
            # (ENGINE_KEEP_ALIVE_SECONDS, 75 s): a request never goes out on one the server is closing.
            # Every connection opened is kept (httpcore closes an idle one whenever the pool holds
            # more than max_keepalive_connections in all, so a busy pool reopened its connections).
            # Room beyond the gated calls for streams, long polls and executes, which skip the gate.
            limits=httpx.Limits(
                max_connections=max_calls_in_flight + 100,
                max_keepalive_connections=max_calls_in_flight + 100,
                keepalive_expiry=5,
            ),
            transport=transport,
        )
        # Identical reads in flight share one call (see `get`); `_writes` counts the writes
        # that have ended, so a read that starts after a write never joins one from before it.
        self._reads: dict[tuple[Any, ...], asyncio.Future[httpx.Response]] = {}
        self._writes = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | AsyncIterable[bytes] | None = None,
        files: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
        repeatable: bool = False,
    ) -> httpx.Response:
        """Send one API call; raise BctrlError for anything but 2xx.

        Retries (with jittered backoff, honouring Retry-After) only where repeating is safe, unless
        the body is streamed: idempotent methods; calls the API answers again with their first
        answer (`repeatable`: an execute's idempotencyKey); creates carrying an Idempotency-Key
        where the API is known to honour it (surface.py; never assumed); and any call the API
        refused unread as busy (503 `server.busy`). A failed write that may have been done
        anyway is marked `maybe_done`.
        """
        headers = _traced(headers)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        # A streamed body can be read once: sending it again would send nothing, so it is not retried.
        streamed = content is not None and not isinstance(content, bytes)
        retryable = (method in IDEMPOTENT_METHODS or repeatable) and not streamed
        params = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        extra: dict[str, Any] = {}
        if timeout is not None:
            extra["timeout"] = httpx.Timeout(timeout, connect=5.0)
        # A call given its own timeout may wait upstream by design (a long poll, an execute, a stop),
        # and a streamed upload lasts as long as the browser takes to send it: they skip the gate,
        # so they never hold a page's calls back.
        gate = self._calls if timeout is None and not streamed else None
        call = {"params": params, "json": json, "content": content, "files": files, "data": data}
        attempt = 0
        while True:
            try:
                return await self._attempt(method, path, gate, headers=headers, **call, **extra)
            except BctrlError as error:
                if not (error.transient and attempt < self.retries):
                    raise
                if not (
                    retryable or await self._safe_to_repeat(method, path, error, streamed, idempotency_key)
                ):
                    raise
                attempt += 1
                delay = self._retry_delay(error, attempt)
                logger.info("Retrying %s %s in %.2fs after %s", method, path, delay, error.code)
            await asyncio.sleep(delay)

    async def _attempt(
        self, method: str, path: str, gate: asyncio.Semaphore | None, **call: Any
    ) -> httpx.Response:
        """One try of a call: its turn at the gate, the exchange, and a failure as a BctrlError."""
        try:
            async with _turn(gate, self.timeout):
                with timing.upstream():  # the call itself, not its wait for a turn
                    response = await self._http.request(method, path.lstrip("/"), **call)
        except httpx.TransportError as exc:  # includes timeouts
            error = self._unavailable(exc)
            error.maybe_done = method not in IDEMPOTENT_METHODS and not isinstance(exc, NOT_SENT)
            raise error from exc
        if not response.is_success:
            raise await self._error_of(method, path, response) from None
        return response

    def _retry_delay(self, error: BctrlError, attempt: int) -> float:
        """Retry-After when the API names one, else exponential backoff; capped, with jitter."""
        delay = error.retry_after if error.retry_after is not None else self.backoff * 2 ** (attempt - 1)
        return min(delay, MAX_RETRY_AFTER_SECONDS) * (1 + random.random() * 0.1)

    async def get(self, path: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        """GET a JSON body. The same read asked for while it is already in flight (fifty users
        opening the overview at once) joins that call instead of making another: the console's
        calls all use its one API key, so they get the same answer (calls acting with the same
        scope, acting.py: `_read_key` keeps the others apart). Never across a write: a read
        asked for after a write of this process ended starts a call of its own, so a page after
        a form shows what the form did. Each caller parses the body itself (no shared objects)."""
        key = None if kwargs else _read_key(path, params, self._writes)
        if key is None:  # a timeout or headers of its own, or a parameter that is a list: its own call
            response = await self.request("GET", path, params=params, **kwargs)
        else:
            shared = self._reads.get(key)
            if shared is None:
                shared = self._reads[key] = asyncio.ensure_future(self.request("GET", path, params=params))
                shared.add_done_callback(lambda done: self._forget_read(key, done))
            # shielded: a caller that goes away (its browser left) does not cancel the others' answer
            response = await asyncio.shield(shared)
        if not response.content:
            raise _not_json(response)
        return _json_or_none(response)

    def _forget_read(self, key: tuple[Any, ...], done: "asyncio.Future[httpx.Response]") -> None:
        if self._reads.get(key) is done:
            del self._reads[key]
        if not done.cancelled():
            done.exception()  # retrieved: a failure nobody awaited any more is not logged as lost

    async def surface(self) -> surface.Surface:
        """What this API offers beyond the public surface (learned once, surface.py)."""
        return await surface.surface_of(self._http, self.base_url)

    async def honours_idempotency_key(self, method: str, path: str) -> bool:
        return (await self.surface()).honours_idempotency_key(method, path)

    async def _safe_to_repeat(
        self, method: str, path: str, error: BctrlError, streamed: bool, idempotency_key: str | None
    ) -> bool:
        """Whether a call that is not idempotent may be sent again (a streamed body never: part of
        it may be gone). A busy engine refused it before reading any of it; a create's
        Idempotency-Key makes a repeat safe only where the API is known to honour it."""
        if streamed:
            return False
        if error.code == BUSY:
            return True
        return bool(idempotency_key) and await self.honours_idempotency_key(method, path)

    async def _error_of(self, method: str, path: str, response: httpx.Response) -> BctrlError:
        """The response's error, saying whether the API simply does not offer the route."""
        error = _error_from(response)
        # a 5xx write may have been done, unless the API refused it outright (busy, or at a capacity)
        error.maybe_done = (
            method not in IDEMPOTENT_METHODS
            and response.status_code >= 500
            and (error.code != BUSY and response.status_code != 501 and not error.capacity_limit)
        )
        if response.status_code in NOT_OFFERED_STATUSES:
            error.not_offered = await self._not_offered(method, path, error)
        return error

    async def _not_offered(self, method: str, path: str, error: BctrlError) -> bool:
        # 405/501, or this engine's "no such route": the route is missing, whoever's it is.
        if error.status != 404 or error.code == "request.not_found":
            return True
        # A 404 on a public route names a thing that is gone; on one of ours, the route is
        # missing unless the API's document says it serves it.
        if not surface.is_ours(method, path):
            return False
        return not (await self.surface()).offers(method, path)

    def fence(self) -> None:
        """Something changed upstream (a write here ended, an update arrived): reads asked for
        from now on do not join one asked for before."""
        self._writes += 1

    async def _write(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.request(method, path, **kwargs)
        finally:
            self.fence()  # ended, done or not: later reads must not join an earlier one

    async def post(self, path: str, **kwargs: Any) -> Any:
        return _json_or_none(await self._write("POST", path, **kwargs))

    async def create(self, path: str, json: Any, idempotency_key: str | None = None, **kwargs: Any) -> Any:
        """POST a create with an Idempotency-Key, so a retried or double-submitted form makes one thing."""
        key = idempotency_key or uuid.uuid4().hex
        return _json_or_none(await self._write("POST", path, json=json, idempotency_key=key, **kwargs))

    async def patch(self, path: str, **kwargs: Any) -> Any:
        return _json_or_none(await self._write("PATCH", path, **kwargs))

    async def put(self, path: str, **kwargs: Any) -> Any:
        return _json_or_none(await self._write("PUT", path, **kwargs))

    async def delete(self, path: str, **kwargs: Any) -> None:
        await self._write("DELETE", path, **kwargs)

    @asynccontextmanager
    async def stream(self, method: str, path: str, **kwargs: Any) -> AsyncIterator[httpx.Response]:
        """Stream a response body (downloads, SSE); errors are raised before the body is read."""
        kwargs["headers"] = _traced(kwargs.get("headers"))
        try:
            async with self._http.stream(method, path.lstrip("/"), **kwargs) as response:
                if not response.is_success:
                    await response.aread()
                    raise await self._error_of(method, path, response)
                yield response
        except httpx.TransportError as exc:  # unreachable, timed out, or cut off mid-body
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: httpx.TransportError) -> "Unavailable":
        # no answer to take an id from: the id the call was sent with, which the console's log has
        request_id = logs.current_request_id.get() or None
        if isinstance(exc, httpx.TimeoutException):
            return Unavailable(
                504,
                "request.timeout",
                "The BCTRL API did not answer in time.",
                request_id=request_id,
                transient=True,
            )
        return Unavailable(
            0,
            "api.unreachable",
            f"The BCTRL API at {self.base_url} could not be reached.",
            request_id=request_id,
            transient=True,
        )


def _traced(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The call's headers with the console request's id (dashboard/logs.py), so the engine's
    lines for this call carry the same id as the console's, and the scope of the signed-in user
    it is made for (acting.py: the API gives it no more than that user's role). A read shared by
    several requests (`get`) carries the id of the one that started it; only requests acting
    with the same scope share one."""
    traced = dict(headers or {})
    request_id = logs.current_request_id.get()
    if request_id:
        traced.setdefault("X-Request-Id", request_id)
    scope = acting.current()
    if scope is not None:
        traced[acting.HEADER] = scope  # never the caller's to raise
    return traced


def _read_key(path: str, params: Mapping[str, Any] | None, writes: int) -> tuple[Any, ...] | None:
    """What makes two reads the same read; None when a parameter cannot be part of a key."""
    # the acting scope too: an answer may differ by it (403 for one role, a body for another)
    key = (path, tuple(sorted((params or {}).items())), writes, acting.current())
    try:
        hash(key)
    except TypeError:
        return None
    return key


@asynccontextmanager
async def _turn(gate: asyncio.Semaphore | None, timeout: float) -> AsyncIterator[None]:
    """Hold a place in `gate` (None: no gate) while a call runs, waiting for it no longer than the
    call's own timeout: past that the call fails as a pool timeout does (the API did not answer)."""
    if gate is None:
        yield
        return
    try:
        async with asyncio.timeout(timeout):
            await gate.acquire()
    except TimeoutError as exc:
        raise httpx.PoolTimeout("Too many calls to the API in flight.") from exc
    try:
        yield
    finally:
        gate.release()


def _json_or_none(response: httpx.Response) -> Any:
    """The body as JSON (None when empty); a 2xx that is not JSON is an UnexpectedAnswer, not a crash."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise _not_json(response) from exc


def _not_json(response: httpx.Response) -> UnexpectedAnswer:
    # a proxy's or another service's page answered in the API's place
    return UnexpectedAnswer(
        502,
        "api.unexpected_answer",
        f"The API answered {response.request.method} /{response.request.url.path.lstrip('/')} "
        "without the JSON body the contract describes.",
        request_id=response.headers.get("X-Request-Id"),
    )


def _error_from(response: httpx.Response) -> BctrlError:
    """The API's error as a BctrlError. Both error bodies are read: this engine's nested one
    (`{error: {code, message, details}, requestId}`) and the public API's flat one
    (`{error: "sentence", code, requestId, details}`)."""
    request_id = response.headers.get("X-Request-Id")
    code, message, details = "server.error", f"The BCTRL API answered {response.status_code}.", None
    try:
        body = response.json()
        error = body.get("error")
        found = error if isinstance(error, dict) else body  # nested, or flat
        code = _text(found.get("code")) or code
        message = (
            (_text(error) if not isinstance(error, dict) else "") or _text(found.get("message")) or message
        )
        details = found.get("details") if isinstance(found.get("details"), dict) else None
        request_id = _text(body.get("requestId")) or request_id
    except (ValueError, AttributeError):
        pass  # not an error body of either kind (a proxy's 502 page, say): keep the generic sentence
    retry_after = None
    if "Retry-After" in response.headers:
        try:
            retry_after = float(response.headers["Retry-After"])
        except ValueError:
            retry_after = None
    status = response.status_code
    kind = BY_STATUS.get(status, Unavailable if status >= 500 else BctrlError)
    error = kind(status, code, message, request_id=request_id, details=details, retry_after=retry_after)
    # a capacity limit (runtimes held at once) is not a rate: the same call a moment later is
    # refused again, so it is not retried, and the refusal reaches the user at once
    error.transient = status in RETRY_STATUSES and not error.capacity_limit
    return error


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


# One client per event loop: daphne runs one loop per process, so this is one pooled client
# per process; the test client's short-lived loops each get their own.
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, BctrlClient]" = weakref.WeakKeyDictionary()
_transport_override: httpx.AsyncBaseTransport | None = None


def get_client() -> BctrlClient:
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = BctrlClient(
            settings.BCTRL_API_URL,
            settings.BCTRL_API_KEY,
            timeout=settings.BCTRL_TIMEOUT_SECONDS,
            retries=settings.BCTRL_RETRIES,
            max_calls_in_flight=settings.BCTRL_MAX_CALLS_IN_FLIGHT,
            transport=_transport_override,
        )
        _clients[loop] = client
    return client


def use_transport(transport: httpx.AsyncBaseTransport | None) -> None:
    """Route every new client through `transport` (tests: httpx.MockTransport for faults)."""
    global _transport_override
    _transport_override = transport
    reset_clients()


def reset_clients() -> None:
    """Forget cached clients and what they learned of their API (after settings change, e.g. in tests)."""
    _clients.clear()
    surface.forget()
