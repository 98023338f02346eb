"""Usage of the organisation's browsers (this engine's `GET /usage`), typed."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dashboard.bctrl.client import get_client
from dashboard.bctrl.errors import UnexpectedAnswer
from dashboard.bctrl.pages import items_of, parse_time

BUCKETS = ("day", "hour")


@dataclass(frozen=True)
class UsageBucket:
    start: datetime
    browser_seconds: float
    runtimes_started: int
    runtimes_failed: int
    peak_active: int

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> "UsageBucket":
        start = parse_time(body["start"])
        if start is None:
            raise ValueError("a bucket without its start")
        return cls(
            start=start,
            browser_seconds=float(body.get("browserSeconds") or 0),
            runtimes_started=int(body.get("runtimesStarted") or 0),
            runtimes_failed=int(body.get("runtimesFailed") or 0),
            peak_active=int(body.get("peakActive") or 0),
        )


@dataclass(frozen=True)
class WorkspaceUsage:
    workspace_id: str
    browser_seconds: float


@dataclass(frozen=True)
class FailureCount:
    code: str
    count: int


@dataclass(frozen=True)
class Usage:
    buckets: list[UsageBucket]
    by_workspace: list[WorkspaceUsage]
    failures: list[FailureCount]
    max_active_runtimes: int | None


async def get_usage(first: date, last: date, bucket: str = "day") -> Usage:
    """Usage over the UTC days `first` to `last` (both included), by day or hour."""
    body = await get_client().get(
        "usage", params={"from": first.isoformat(), "to": last.isoformat(), "bucket": bucket}
    )
    limits = body.get("limits") if isinstance(body, dict) else None
    if not isinstance(limits, dict):
        raise UnexpectedAnswer(502, "api.unexpected_answer", "The API answered usage without its limits.")
    return Usage(
        buckets=items_of(body, "buckets", UsageBucket.from_api),
        by_workspace=items_of(
            body, "byWorkspace", lambda w: WorkspaceUsage(w["workspaceId"], float(w["browserSeconds"]))
        ),
        # `failures` is this engine's addition to the contract's shape: absent means none told.
        failures=items_of(body, "failures", lambda f: FailureCount(f["code"], int(f["count"])))
        if "failures" in body
        else [],
        max_active_runtimes=limits.get("maxActiveRuntimes"),
    )
