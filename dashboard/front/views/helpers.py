"""What every console view shares: rendering a page or its region, upstream failures, feedback."""

from collections.abc import Awaitable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django_htmx.http import HttpResponseClientRedirect

from dashboard.bctrl.errors import BctrlError

T = TypeVar("T")


def render_page(
    request: HttpRequest, template: str, context: dict[str, Any], region: str | None = None, status: int = 200
) -> HttpResponse:
    """The whole page, or only its `region` partial when htmx asks for it (not on boosted navigation)."""
    htmx = getattr(request, "htmx", None)
    if region and htmx and not htmx.boosted:
        template = f"{template}#{region}"
    return TemplateResponse(request, template, context, status=status)


def error_status(error: BctrlError) -> int:
    """The status the console answers with when the API failed: 4xx passes through, the rest is 502."""
    if 400 <= error.status < 500:
        return error.status
    return 504 if error.status == 504 else 502


def toast_html(text: str, level: str = "success") -> str:
    # no request: the toast needs no context processors (and so no database on the event loop)
    return render_to_string("includes/toast.html", {"text": text, "level": level})


async def with_toast(
    response: HttpResponse, request: HttpRequest, text: str, level: str = "success"
) -> HttpResponse:
    """Append an out-of-band toast to an htmx response, so every action gives feedback."""
    if isinstance(response, TemplateResponse) and not response.is_rendered:
        # context processors read the session and user from the database: off the event loop
        await sync_to_async(response.render)()
    response.content += toast_html(text, level).encode()
    return response


def redirect_after_form(request: HttpRequest, url: str) -> HttpResponse:
    """After a successful form: htmx navigates the whole page, a plain post redirects."""
    return HttpResponseClientRedirect(url) if getattr(request, "htmx", False) else redirect(url)


async def settle(call: Awaitable[T]) -> T | BctrlError:
    """Await one upstream call and hand back its BctrlError instead of raising it.

    Pages gather their independent calls with this, so each region renders its own failure
    while the rest of the page renders (only the API's errors are caught: a bug still raises).
    """
    try:
        return await call
    except BctrlError as error:
        return error
