"""The audit log page: who did what, filtered by user, action and outcome, newest first."""

from urllib.parse import urlencode

from django.http import HttpResponse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from dashboard.accounts.roles import role_required
from dashboard.audit.models import AuditEntry
from dashboard.pages import HtmxHttpRequest, render_page

PAGE_SIZE = 50
FILTERS = ("user", "action", "outcome")


async def _choices(field: str) -> list[str]:
    values = AuditEntry.objects.order_by(field).values_list(field, flat=True).distinct()
    return [value async for value in values[:200]]


@vary_on_headers("HX-Request")
@require_GET
@role_required("admin")
async def audit_log(request: HtmxHttpRequest) -> HttpResponse:
    chosen = {name: request.GET.get(name, "").strip() for name in FILTERS}
    entries = AuditEntry.objects.order_by("-id")
    if chosen["user"]:
        entries = entries.filter(username=chosen["user"])
    if chosen["action"]:
        entries = entries.filter(action=chosen["action"])
    if chosen["outcome"]:
        entries = entries.filter(outcome=chosen["outcome"])
    before = request.GET.get("before", "")
    if before.isdigit():
        # keyset pages: stable while new entries arrive, and cheap however long the log grows
        entries = entries.filter(id__lt=int(before))
    rows = [entry async for entry in entries[: PAGE_SIZE + 1]]
    context = {
        "entries": rows[:PAGE_SIZE],
        "older": rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None,
        "paged": before.isdigit(),
        "chosen": chosen,
        "filter_query": urlencode(chosen),
        "filtered": any(chosen.values()),
        "usernames": await _choices("username"),
        "actions": await _choices("action"),
        "outcomes": AuditEntry.Outcome.values,
    }
    return render_page(request, "audit/log.html", context, region="table")
