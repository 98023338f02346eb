"""Faults the real engine cannot be made to produce, injected at the console's HTTP transport.

`Faults({"GET /v1/operations": timeout()})` answers matching calls with the fault and passes
every other call through to the real engine, so a test breaks one upstream call and keeps the
rest real. Install with `dashboard.bctrl.client.use_transport(Faults(...))`.
"""

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx

# A fault may return None to let that particular call through to the engine.
Fault = Callable[[httpx.Request], httpx.Response | None]


def timeout() -> Fault:
    def fault(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    return fault


def refused() -> Fault:
    def fault(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    return fault


def bad_gateway() -> Fault:
    """A proxy's 502 page: HTML, not the contract's error body."""
    return lambda request: httpx.Response(502, html="<html><body><h1>502 Bad Gateway</h1></body></html>")


def api_error(status: int, code: str, message: str, details: dict | None = None, **headers: str) -> Fault:
    """The contract's error body, as the API would send it."""
    body = {
        "error": {"code": code, "message": message, "details": details},
        "requestId": f"req_fault{status}",
    }
    return lambda request: httpx.Response(
        status, json=body, headers={"X-Request-Id": f"req_fault{status}", **headers}
    )


class Faults(httpx.AsyncBaseTransport):
    """Rules are "METHOD /path-prefix" (or "/path-prefix" for any method) → fault."""

    def __init__(self, rules: dict[str, Fault] | None = None, delay: float = 0.0) -> None:
        self.rules = rules or {}
        self.calls: list[str] = []
        # `delay` holds every call open a moment, so `max_in_flight` shows what a page ran concurrently
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0

    def _fault_for(self, request: httpx.Request) -> Fault | None:
        for rule, fault in self.rules.items():
            method, _, prefix = rule.rpartition(" ")
            if (not method or method == request.method) and request.url.path.startswith(prefix):
                return fault
        return None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: httpx.Request) -> httpx.Response:
        fault = self._fault_for(request)
        answer = fault(request) if fault is not None else None
        if answer is not None:
            return answer
        if request.headers.get("Accept") == "text/event-stream":
            # a stream (the updates relay's) never ends: passed on as it comes, not read whole
            real = httpx.AsyncHTTPTransport()
            response = await real.handle_async_request(request)
            return httpx.Response(
                response.status_code, headers=response.headers, stream=_Passed(response, real)
            )
        # a fresh transport per call: the console's test client runs each view on its own loop
        async with httpx.AsyncHTTPTransport() as real:
            response = await real.handle_async_request(request)
            body = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=body)


class _Passed(httpx.AsyncByteStream):
    """A real response's body, read as it arrives; closing it closes its connection."""

    def __init__(self, response: httpx.Response, transport: httpx.AsyncHTTPTransport) -> None:
        self.response, self.transport = response, transport

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.response.stream:  # type: ignore[union-attr]
            yield chunk

    async def aclose(self) -> None:
        await self.response.aclose()
        await self.transport.aclose()
