"""Console-wide middleware: who the client is (behind trusted proxies), the security headers, and
the page for a wrong method."""

import ipaddress
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.response import TemplateResponse


def client_ip(request: HttpRequest) -> str:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the address that
    proxy saw (X-Forwarded-For read from the right, past every trusted proxy). An untrusted peer
    cannot choose its address by sending the header."""
    peer = request.META.get("REMOTE_ADDR") or ""
    if not _trusted(peer):
        return peer
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # garbage in the chain: stop at the last address a trusted proxy vouched for
        client = hop
        if not _trusted(hop):
            break
    return client


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.TRUSTED_PROXIES)


def client_address(
    get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]]
    | Callable[[HttpRequest], HttpResponseBase],
) -> Callable[[HttpRequest], object]:
    """REMOTE_ADDR becomes the client's address (see client_ip), for the sign-in limit and the audit log."""

    def resolve(request: HttpRequest) -> None:
        if settings.TRUSTED_PROXIES:
            request.META["REMOTE_ADDR"] = client_ip(request)

    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponseBase:
            resolve(request)
            return await get_response(request)  # type: ignore[misc]

        markcoroutinefunction(async_middleware)
        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponseBase:
        resolve(request)
        return get_response(request)  # type: ignore[return-value]

    return middleware


client_address.async_capable = True  # type: ignore[attr-defined]
client_address.sync_capable = True  # type: ignore[attr-defined]


def _policy() -> str:
    # No inline script anywhere (htmx is configured not to eval); frames only from the API's
    # own origin (the live views and recordings the engine serves, dashboard/live); connections
    # only to the console itself (its websockets included) and the API's origin, in its http(s)
    # and ws(s) forms.
    api_origin = "/".join(settings.BCTRL_API_URL.split("/")[:3])
    api_socket_origin = api_origin.replace("http", "ws", 1)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            f"connect-src 'self' {api_origin} {api_socket_origin}",
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
