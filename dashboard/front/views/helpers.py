"""What every console view shares: rendering a page or its region, upstream failures, feedback."""

from collections.abc import Awaitable
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse

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


def toast_html(request: HttpRequest, text: str, level: str = "success") -> str:
    return render_to_string("includes/toast.html", {"text": text, "level": level}, request=request)


def with_toast(
    response: HttpResponse, request: HttpRequest, text: str, level: str = "success"
) -> HttpResponse:
    """Append an out-of-band toast to an htmx response, so every action gives feedback."""
    if hasattr(response, "render") and not getattr(response, "is_rendered", True):
        response.render()  # type: ignore[attr-defined]
    response.content += toast_html(request, text, level).encode()
    return response


async def settle(call: Awaitable[T]) -> T | BctrlError:
    """Await one upstream call and hand back its BctrlError instead of raising it.

    Pages gather their independent calls with this, so each region renders its own failure
    while the rest of the page renders (only the API's errors are caught: a bug still raises).
    """
    try:
        return await call
    except BctrlError as error:
        return error
