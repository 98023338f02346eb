import time
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, HttpResponseNotAllowed

from engine.api.errors import error_response
from engine.errors import ApiError
from engine.logs import access_line, current_request_id, request_id_from

Handler = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


def request_id_middleware(get_response: Handler) -> Handler:
    """Give every request an id (the caller's X-Request-Id when it sent a plain one), echo it in
    X-Request-Id (error bodies repeat it) and put it on every log line the request causes."""
    assert iscoroutinefunction(get_response)

    async def middleware(request: HttpRequest) -> HttpResponseBase:
        request.request_id = request_id_from(request.headers.get("X-Request-Id"))  # type: ignore[attr-defined]
        token = current_request_id.set(request.request_id)  # type: ignore[attr-defined]
        started = time.perf_counter()
        try:
            response = await get_response(request)
            if settings.ACCESS_LOG:
                access_line(request.method or "", request.path, response.status_code, started)
        finally:
            current_request_id.reset(token)
        response["X-Request-Id"] = request.request_id  # type: ignore[attr-defined]
        return response

    markcoroutinefunction(middleware)
    return middleware


def method_not_allowed_middleware(get_response: Handler) -> Handler:
    """A wrong method on a real path answers 405 with the contract's error body.

    ninja answers it itself, before any handler or exception handler runs, with a bare
    HttpResponseNotAllowed; this gives it the body (code `request.method_not_allowed`) and
    keeps its Allow header.
    """
    assert iscoroutinefunction(get_response)

    async def middleware(request: HttpRequest) -> HttpResponseBase:
        response = await get_response(request)
        if not isinstance(response, HttpResponseNotAllowed):
            return response
        allowed = sorted(m.strip() for m in response["Allow"].split(",") if m.strip())
        return error_response(
            request,
            ApiError(
                405,
                "request.method_not_allowed",
                f"{request.method} is not allowed on {request.path}; use {', '.join(allowed)}.",
                {"allowed": allowed},
                headers={"Allow": ", ".join(allowed)},
            ),
        )

    markcoroutinefunction(middleware)
    return middleware


for _middleware in (request_id_middleware, method_not_allowed_middleware):
    _middleware.async_capable = True  # type: ignore[attr-defined]
    _middleware.sync_capable = False  # type: ignore[attr-defined]
