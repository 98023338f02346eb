"""Security headers the console sends on every response."""

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase


def _policy() -> str:
    # No inline script anywhere (htmx is configured not to eval); frames only from the API's
    # own origin: the live views and recordings the engine serves (dashboard/live).
    api_origin = "/".join(settings.BCTRL_API_URL.split("/")[:3])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "connect-src 'self' ws: wss:",
            f"frame-src {api_origin}",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
        ]
    )


def content_security_policy(
    get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]]
    | Callable[[HttpRequest], HttpResponseBase],
) -> Callable[[HttpRequest], object]:
    policy = _policy()

    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponseBase:
            response = await get_response(request)  # type: ignore[misc]
            response.setdefault("Content-Security-Policy", policy)
            return response

        markcoroutinefunction(async_middleware)
        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponseBase:
        response = get_response(request)
        response.setdefault("Content-Security-Policy", policy)  # type: ignore[union-attr]
        return response  # type: ignore[return-value]

    return middleware


content_security_policy.async_capable = True  # type: ignore[attr-defined]
content_security_policy.sync_capable = True  # type: ignore[attr-defined]
