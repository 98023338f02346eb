"""What every console page shares, whichever app serves it: rendering a page or its htmx region,
the status an upstream failure answers with, out-of-band toasts, the redirect after a form, and
`settle` for a page's concurrent upstream calls.

The pages (`front`), the user admin (`accounts`), the audit log (`audit`) and the live relay
(`live`) build on this module; it builds only on the API client (`bctrl`).
"""

from collections.abc import Awaitable, Callable, Collection
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from dashboard.bctrl import timing
from dashboard.bctrl.errors import BctrlError
from dashboard.bctrl.pages import Page

T = TypeVar("T")


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware (every console request does).

    `request.htmx` is falsy unless htmx sent the request, so views test it directly.
    """

    htmx: HtmxDetails


def render_page(
    request: HtmxHttpRequest,
    template: str,
    context: dict[str, Any],
    region: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """The whole page, or only its `region` partial when htmx asks for it (not on boosted navigation).

    Rendered here, on the event loop for async views: what templates and context processors read
    (the session, the user and their role) is in memory by now (dashboard/accounts/identity.py),
    so a worker-thread hop would only add its cost. A template that still reached for the database
    fails loudly (SynchronousOnlyOperation): a view hands templates data, not querysets."""
    # a history restore (back to a pushed URL, nothing cached) wants the whole page
    if region and request.htmx and not request.htmx.boosted and not request.htmx.history_restore_request:
        template = f"{template}#{region}"
    with timing.timed("render"):
        return HttpResponse(render_to_string(template, context, request), status=status)


def render_form(
    request: HtmxHttpRequest, template: str, context: dict[str, Any], region: str | None = "form"
) -> HttpResponse:
    """A form page (its `region` for htmx): 422 while `context["form"]` has errors, else 200."""
    status = 422 if context["form"].errors else 200
    return render_page(request, template, context, region=region, status=status)


def chosen(request: HttpRequest, name: str, choices: Collection[str]) -> str:
    """A list filter's value from the query string: one of `choices`, else "" (no filter)."""
    value = request.GET.get(name, "")
    return value if value in choices else ""


async def search_listing(
    request: HtmxHttpRequest, list_page: Callable[..., Awaitable[Page[Any]]], page_size: int
) -> dict[str, object]:
    """A searchable list's context: the search (`q`), the `cursor`, and the `page` or its `error`."""
    q = request.GET.get("q", "").strip()
    cursor = request.GET.get("cursor") or None
    context: dict[str, object] = {"q": q, "cursor": cursor}
    try:
        context["page"] = await list_page(q=q or None, cursor=cursor, limit=page_size)
    except BctrlError as error:
        context["error"] = error
    return context


def error_status(error: BctrlError) -> int:
    """The status the console answers with when the API failed: 4xx passes through, the rest is 502;
    a route the API does not offer is 404 (its 405 or 501 is about the API's routes, not this page)."""
    if error.not_offered:
        return 404
    if 400 <= error.status < 500:
        return error.status
    return 504 if error.status == 504 else 502


def toast_html(text: str, level: str = "success") -> str:
    # no request: the toast needs no context processors (and so no database on the event loop)
    return render_to_string("includes/toast.html", {"text": text, "level": level})


async def with_toast(
    response: HttpResponse, request: HtmxHttpRequest, text: str, level: str = "success"
) -> HttpResponse:
    """Append an out-of-band toast to an htmx response, so every action gives feedback."""
    if isinstance(response, TemplateResponse) and not response.is_rendered:
        # context processors read the session and user from the database: off the event loop
        await sync_to_async(response.render)()
    response.content += toast_html(text, level).encode()
    return response


def redirect_after_form(request: HtmxHttpRequest, url: str) -> HttpResponse:
    """After a successful form: htmx navigates the whole page, a plain post redirects."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


async def settle(call: Awaitable[T]) -> T | BctrlError:
    """Await one upstream call and hand back its BctrlError instead of raising it.

    Pages gather their independent calls with this, so each region renders its own failure
    while the rest of the page renders (only the API's errors are caught: a bug still raises).
    """
    try:
        return await call
    except BctrlError as error:
        return error


def settled(value: T | BctrlError) -> T | None:
    """What `settle` gave back when the call succeeded, else None."""
    return None if isinstance(value, BctrlError) else value


def failure(value: object) -> BctrlError | None:
    """The BctrlError `settle` gave back, else None."""
    return value if isinstance(value, BctrlError) else None
