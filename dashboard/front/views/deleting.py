"""The console's one delete flow: the API deletes, the audit log keeps the name, a refusal shows."""

from collections.abc import Awaitable, Callable
from typing import Any

from django.http import HttpResponse

from dashboard.audit.log import audit
from dashboard.bctrl.errors import BctrlError
from dashboard.pages import HtmxHttpRequest, error_status, render_page, settle


async def audited_delete(
    request: HtmxHttpRequest,
    action: str,
    target_id: str,
    fetch: Callable[[], Awaitable[Any]],
    remove: Callable[[], Awaitable[Any]],
    message: str = "",
) -> BctrlError | None:
    """Delete through the API and audit it; the refusal, or None once deleted.

    The resource is read first: once gone, the API no longer knows the name the log keeps."""
    before = await settle(fetch())
    name = "" if isinstance(before, BctrlError) else before.name
    try:
        await remove()
    except BctrlError as error:
        await audit(request, action, target_id, target_name=name, error=error)
        return error
    await audit(request, action, target_id, target_name=name, message=message)
    return None


async def refused_delete(
    request: HtmxHttpRequest,
    template: str,
    context: dict[str, Any],
    error: BctrlError,
    fetch: Callable[[], Awaitable[Any]],
    key: str,
) -> HttpResponse:
    """The detail page's delete region with the refusal; a plain post gets the whole page, so the
    resource is read again for it (under `key`, or the page's `error`)."""
    context = {**context, "delete_error": error}
    if not request.htmx:
        found = await settle(fetch())
        context["error" if isinstance(found, BctrlError) else key] = found
    return render_page(request, template, context, region="delete", status=error_status(error))
