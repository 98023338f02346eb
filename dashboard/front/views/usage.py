"""Usage: browser time per day and per workspace, concurrency against the engine's limit, and
failures with their reasons, drawn as server-side SVG from the API's `GET /usage` (computed
from the runtimes' own records). Everyone may read it.
"""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from dashboard.accounts.roles import role_required
from dashboard.bctrl import meta as meta_api
from dashboard.bctrl import usage as api
from dashboard.bctrl.errors import BctrlError
from dashboard.bctrl.workspaces import list_workspaces
from dashboard.front.charts import bar_chart, bar_rows
from dashboard.pages import HtmxHttpRequest, render_page, settle
from dashboard.templatetags.console import duration

RANGES = {
    "7d": ("Last 7 days", 7, "day"),
    "30d": ("Last 30 days", 30, "day"),
    "today": ("Today, by hour", 1, "hour"),
}
FAILURE_WORDS = {
    "runtime.browser_crashed": "The browser process crashed or was killed.",
    "runtime.capacity_exhausted": "Every browser uid of the engine's range was in use.",
    "runtime.engine_restarted": "The engine restarted while the runtime ran.",
    "runtime.launch_failed": "The browser did not start.",
}


def _minutes(minutes: float) -> str:
    return f"{minutes:,.0f} min" if minutes >= 10 or minutes == 0 else f"{minutes:,.1f} min"


@require_GET
@role_required("viewer")
async def usage(request: HtmxHttpRequest) -> HttpResponse:
    chosen = request.GET.get("range", "7d")
    chosen = chosen if chosen in RANGES else "7d"
    title, days, bucket = RANGES[chosen]
    last = datetime.now(UTC).date()
    first = last - timedelta(days=days - 1)
    found, workspaces, limits = await asyncio.gather(
        settle(api.get_usage(first, last, bucket)),
        settle(list_workspaces(limit=500)),
        settle(meta_api.limits()),
    )
    context: dict[str, Any] = {
        "ranges": RANGES,
        "chosen": chosen,
        "title": title,
        "first": first,
        "last": last,
    }
    if isinstance(found, BctrlError):
        context["error"] = found
        return render_page(request, "front/usage.html", context)
    names = {w.id: w.name for w in workspaces.items} if not isinstance(workspaces, BctrlError) else {}
    applies = _limit_that_applies(found, limits)
    context.update(_charts(found, bucket, names, applies["limit"] if applies else None), applies=applies)
    return render_page(request, "front/usage.html", context)


def _limit_that_applies(found: api.Usage, limits: meta_api.Limits | BctrlError) -> dict[str, Any] | None:
    """The limit on runtimes the console's launches meet, and which setting sets it."""
    known = limits.runtimes_for_this_key if isinstance(limits, meta_api.Limits) else None
    if known is None:
        if found.max_active_runtimes is None:
            return None
        return {"limit": found.max_active_runtimes, "setting": "", "team_key": None}
    limit, setting = known
    return {"limit": limit, "setting": setting, "team_key": limits.team_key}  # type: ignore[union-attr]


def _label(moment: datetime, bucket: str) -> str:
    return moment.strftime("%H:00") if bucket == "hour" else moment.strftime("%b %d")


def _charts(found: api.Usage, bucket: str, names: dict[str, str], limit: int | None) -> dict[str, Any]:
    every = max(1, len(found.buckets) // 12)
    labelled = [(_label(b.start, bucket), b) for b in found.buckets]
    total_seconds = sum(b.browser_seconds for b in found.buckets)
    return {
        "usage": found,
        "total_time": duration(total_seconds),
        "total_started": sum(b.runtimes_started for b in found.buckets),
        "total_failed": sum(b.runtimes_failed for b in found.buckets),
        "peak": max((b.peak_active for b in found.buckets), default=0),
        "limit": limit,
        "minutes_chart": bar_chart(
            [(name, b.browser_seconds / 60) for name, b in labelled],
            label=f"Browser minutes per {bucket}",
            value_text=_minutes,
            every_nth_label=every,
        ),
        "concurrency_chart": bar_chart(
            [(name, b.peak_active) for name, b in labelled],
            label=f"Most runtimes active at once per {bucket}, against the limit the console's launches meet",
            value_text=lambda v: f"{v:g}",
            counts=True,
            limit=limit,
            limit_text=f"limit {limit}" if limit else "",
            every_nth_label=every,
        ),
        "failures_chart": bar_chart(
            [(name, b.runtimes_failed) for name, b in labelled],
            label=f"Runtimes that failed per {bucket}",
            value_text=lambda v: f"{v:g}",
            every_nth_label=every,
            css="bar bar-failed",
            counts=True,
            height=140,
        ),
        "workspace_rows": bar_rows(
            [(names.get(w.workspace_id, w.workspace_id), w.browser_seconds / 60) for w in found.by_workspace],
            _minutes,
        ),
        "failures": [(f.code, f.count, FAILURE_WORDS.get(f.code, "")) for f in found.failures],
    }


urlpatterns = [path("usage/", usage, name="usage")]
