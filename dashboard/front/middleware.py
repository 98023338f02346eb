"""Console-wide middleware: who the client is (behind trusted proxies), the security headers, the
page for a wrong method, and Django's own middleware without their thread hops.

Under ASGI, Django runs each hook of its built-in middleware (`process_request`,
`process_response`, `process_view`) in a worker thread, in case it blocks: about twenty hops per
page, most of the console's fixed cost. The hooks below do no I/O once the session and the user
are in memory (dashboard/accounts/identity.py loads them in one hop), so the subclasses here run
them on the event loop, and hop only for what may still block: saving a changed session, and
reading a posted body.
"""

import ipaddress
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware import clickjacking, common, csrf, security
from django.template.response import TemplateResponse
from django.utils.deprecation import MiddlewareMixin

from dashboard import logs
from dashboard.bctrl import timing

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


def server_timing(
    get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]],
) -> Callable[[HttpRequest], Awaitable[HttpResponseBase]]:
    """`Server-Timing: app, identity, upstream, render` on every response when CONSOLE_SERVER_TIMING
    is set (bench/console_pages.py reads it); otherwise nothing is counted."""
    assert iscoroutinefunction(get_response), "the console's middleware chain is async (ASGI)"
    enabled = settings.CONSOLE_SERVER_TIMING

    async def middleware(request: HttpRequest) -> HttpResponseBase:
        if not enabled:
            return await get_response(request)
        spent = timing.start()
        started = time.perf_counter()
        response = await get_response(request)
        response["Server-Timing"] = spent.header(time.perf_counter() - started)
        return response

    markcoroutinefunction(middleware)
    return middleware


server_timing.async_capable = True  # type: ignore[attr-defined]
server_timing.sync_capable = False  # type: ignore[attr-defined]


def request_id(
    get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]],
) -> Callable[[HttpRequest], Awaitable[HttpResponseBase]]:
    """Every request's id (dashboard/logs.py): the X-Request-Id a trusted proxy set, else a new
    one; on every log line and API call the request causes, and on its response."""
    assert iscoroutinefunction(get_response), "the console's middleware chain is async (ASGI)"

    async def middleware(request: HttpRequest) -> HttpResponseBase:
        given = request.headers.get("X-Request-Id", "")
        trusted = _trusted(request.META.get("REMOTE_ADDR") or "")  # the peer: before client_address
        token = logs.current_request_id.set(
            given if trusted and logs.ACCEPTED_REQUEST_ID.match(given) else logs.new_request_id()
        )
        started = time.perf_counter()
        try:
            response = await get_response(request)
            response["X-Request-Id"] = logs.current_request_id.get()
            if settings.ACCESS_LOG:
                logs.access_line(request.method or "", request.path, response.status_code, started)
            return response
        finally:
            logs.current_request_id.reset(token)

    markcoroutinefunction(middleware)
    return middleware


request_id.async_capable = True  # type: ignore[attr-defined]
request_id.sync_capable = False  # type: ignore[attr-defined]


class OnTheLoop(MiddlewareMixin):
    """For a built-in MiddlewareMixin whose request and response hooks never block: call them
    directly instead of in a worker thread (the sync path, for the test Client, is Django's)."""

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)  # type: ignore[misc]
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response  # type: ignore[no-any-return]


class SecurityMiddleware(OnTheLoop, security.SecurityMiddleware):
    pass


class CommonMiddleware(OnTheLoop, common.CommonMiddleware):
    pass


class XFrameOptionsMiddleware(OnTheLoop, clickjacking.XFrameOptionsMiddleware):
    pass


class AuthenticationMiddleware(OnTheLoop, auth.AuthenticationMiddleware):
    """Sets the lazy `request.user`; identity_middleware, right after it, resolves it."""


class MessageMiddleware(OnTheLoop, messages.MessageMiddleware):
    """Messages live in the cookie, and past its size in the session: in memory either way once
    identity_middleware has loaded the session (saving it is SessionMiddleware's hop)."""


class SessionMiddleware(sessions.SessionMiddleware):
    """The session store is made lazily (no I/O); its response hook hops only to save a change."""

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        self.process_request(request)
        response = await self.get_response(request)  # type: ignore[misc]
        session = request.session  # type: ignore[attr-defined]
        if session.modified or settings.SESSION_SAVE_EVERY_REQUEST:
            return await sync_to_async(self.process_response)(request, response)  # type: ignore[no-any-return]
        return self.process_response(request, response)  # type: ignore[no-any-return]


class CsrfViewMiddleware(OnTheLoop, csrf.CsrfViewMiddleware):
    """The token comes from a cookie (no I/O). A change's token may be in a posted form, whose
    parsing can spool files to disk: that part reads the body in a worker thread first."""

    async def process_view(  # type: ignore[override]
        self, request: HttpRequest, callback: Any, callback_args: Any, callback_kwargs: Any
    ) -> HttpResponseBase | None:
        if request.method in SAFE_METHODS:
            return super().process_view(request, callback, callback_args, callback_kwargs)
        return await sync_to_async(super().process_view)(request, callback, callback_args, callback_kwargs)


class LoginRequiredMiddleware(auth.LoginRequiredMiddleware):
    """Django's, asking `request.auser()` (already resolved by identity_middleware) instead of the
    lazy `request.user` in a worker thread."""

    async def process_view(  # type: ignore[override]
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> HttpResponseBase | None:
        user = await request.auser()  # type: ignore[attr-defined]
        if user.is_authenticated or not getattr(view_func, "login_required", True):
            return None
        return self.handle_no_permission(request, view_func)  # type: ignore[no-any-return]


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
