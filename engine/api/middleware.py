import secrets
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def request_id_middleware(
    get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]],
) -> Callable[[HttpRequest], Awaitable[HttpResponseBase]]:
    """Give every request an id, echo it in X-Request-Id (error bodies repeat it)."""
    assert iscoroutinefunction(get_response)

    async def middleware(request: HttpRequest) -> HttpResponseBase:
        request.request_id = new_request_id()  # type: ignore[attr-defined]
        response = await get_response(request)
        response["X-Request-Id"] = request.request_id  # type: ignore[attr-defined]
        return response

    markcoroutinefunction(middleware)
    return middleware


request_id_middleware.async_capable = True  # type: ignore[attr-defined]
request_id_middleware.sync_capable = False  # type: ignore[attr-defined]
