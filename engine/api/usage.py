"""Usage of the organisation's browsers over a range of UTC days, computed from runtime rows.

`from` and `to` are ISO dates, both included (`from=2026-11-01&to=2026-11-07` is one week);
buckets are UTC hours or days. Defaults: the last seven days, by day.
"""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema
from pydantic import BaseModel, Field

from engine.api.auth import READ
from engine.api.common import Timestamp
from engine.errors import invalid
from engine.models import Runtime
from engine.runtimes import usage

router = Router(tags=["usage"])

DEFAULT_DAYS = 7


class UsageFilters(Schema):
    from_: date | None = Field(
        default=None, alias="from", description="First UTC day (default: 6 days before `to`)."
    )
    to: date | None = Field(default=None, description="Last UTC day, included (default: today).")
    bucket: usage.Bucket = "day"


class UsageBucket(BaseModel):
    start: Timestamp
    browserSeconds: float
    runtimesStarted: int
    runtimesFailed: int
    peakActive: int


class WorkspaceUsage(BaseModel):
    workspaceId: UUID
    browserSeconds: float


class FailureCount(BaseModel):
    code: str
    count: int


class UsageLimits(BaseModel):
    maxActiveRuntimes: int


class Usage(BaseModel):
    buckets: list[UsageBucket]
    byWorkspace: list[WorkspaceUsage] = Field(
        description="Browser time per workspace over the range, most first."
    )
    failures: list[FailureCount] = Field(description="Runs that ended failed in the range, by failure code.")
    limits: UsageLimits


@router.get(
    "",
    operation_id="usage-get",
    auth=READ,
    response=Usage,
    summary="Browser time, launches, failures and concurrency per hour or day",
)
async def get_usage(request: HttpRequest, filters: Query[UsageFilters]) -> dict[str, Any]:
    last = filters.to or datetime.now(UTC).date()
    first = filters.from_ or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise invalid("`from` is after `to`.", [{"path": "from", "message": "After `to`."}])
    start = datetime.combine(first, time.min, tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)
    size = usage.BUCKET_SIZES[filters.bucket]
    if (end - start) / size > usage.MAX_BUCKETS:
        raise invalid(
            f"That range has more than {usage.MAX_BUCKETS} {filters.bucket}s; ask for a shorter one "
            "or for days.",
            [{"path": "to", "message": "Range too long for this bucket."}],
        )
    summary = usage.summarise(await runs_between(start, end), start, end, size)
    return {
        "buckets": [
            {
                "start": b.start,
                "browserSeconds": round(b.browser_seconds, 3),
                "runtimesStarted": b.runtimes_started,
                "runtimesFailed": b.runtimes_failed,
                "peakActive": b.peak_active,
            }
            for b in summary["buckets"]
        ],
        "byWorkspace": [
            {"workspaceId": workspace_id, "browserSeconds": round(seconds, 3)}
            for workspace_id, seconds in summary["byWorkspace"]
        ],
        "failures": [{"code": code, "count": count} for code, count in summary["failures"]],
        "limits": {"maxActiveRuntimes": settings.MAX_ACTIVE_RUNTIMES},
    }


async def runs_between(start: datetime, end: datetime) -> list[usage.Run]:
    """Every run whose life overlaps [start, end)."""
    now = timezone.now()
    queryset = Runtime.objects.filter(created_at__lt=end).filter(
        Q(stopped_at__isnull=True) | Q(stopped_at__gte=start)
    )
    return [
        usage.Run(
            workspace_id=row.workspace_id,
            up_from=row.started_at,
            up_until=row.stopped_at or now,
            ended_at=row.stopped_at,
            failure_code=row.failure_code if row.status == Runtime.Status.FAILED else "",
        )
        async for row in queryset.only("workspace_id", "started_at", "stopped_at", "status", "failure_code")
    ]
