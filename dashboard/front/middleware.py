"""Security headers the console sends on every response, and its page for a wrong method."""

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.response import TemplateResponse


def _policy() -> str:
    # No inline script anywhere (htmx is configured not to eval); frames only from the API's
    # own origin, for the live view iframe.
    api_origin = "/".join(settings.BCTRL_API_URL.split("/")[:3])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "connect-src 'self' ws: wss:",
            f"frame-src 'self' {api_origin}",
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


def styled_method_not_allowed(
    get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]],
) -> Callable[[HttpRequest], Awaitable[HttpResponseBase]]:
    """A wrong method (a GET on a POST-only address) answers the console's own 405 page.

    Django's require_POST answers an empty 405; opened in a browser that is a blank page. The
    page keeps the status and the Allow header and says which method the address takes.
    """
    assert iscoroutinefunction(get_response), "the console's middleware chain is async (ASGI)"

    async def middleware(request: HttpRequest) -> HttpResponseBase:
        response = await get_response(request)
        if (
            response.status_code != 405
            or not isinstance(response, HttpResponse)
            or response.content
            or request.method == "HEAD"
        ):
            return response
        allowed = [m.strip() for m in response.get("Allow", "").split(",") if m.strip()]
        page = TemplateResponse(request, "405.html", {"allowed": allowed}, status=405)
        await sync_to_async(page.render)()  # context processors read the session and user
        page["Allow"] = response.get("Allow", "")
        return page

    markcoroutinefunction(middleware)
    return middleware


styled_method_not_allowed.async_capable = True  # type: ignore[attr-defined]
styled_method_not_allowed.sync_capable = False  # type: ignore[attr-defined]
