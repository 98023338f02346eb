"""Usage: browser time, launches, failures and concurrency over a time range, from runtime rows.

Nothing is metered separately: a runtime's row already says when its browser was ready
(`started_at`), when it ended (`stopped_at`, or still running) and how (`status`, `failure_code`),
so usage is computed from those rows whenever it is asked for, and can never disagree with them.
This module is the arithmetic over `Run`s (pure, so it is tested without a database); the API
reads the rows.

- `browserSeconds` of a bucket: the time each runtime's browser was up inside the bucket.
- `runtimesStarted`: browsers that came up in the bucket; `runtimesFailed`: runs that ended
  `failed` in it (launches that never came up included).
- `peakActive`: the most browsers up at the same moment in the bucket.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

Bucket = Literal["hour", "day"]
BUCKET_SIZES: dict[str, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
# Enough for a quarter by the hour or three years by the day; past that a chart is unreadable
# and the computation (one pass over the runs per bucket they touch) should not run unbounded.
MAX_BUCKETS = 24 * 92


@dataclass
class Run:
    """The part of a runtime row usage needs."""

    workspace_id: UUID
    up_from: datetime | None  # the browser was ready (None: the launch never came up)
    up_until: datetime  # it ended, or now for a running one
    ended_at: datetime | None
    failure_code: str


@dataclass
class BucketUsage:
    start: datetime
    browser_seconds: float = 0.0
    runtimes_started: int = 0
    runtimes_failed: int = 0
    peak_active: int = 0


def bucket_starts(start: datetime, end: datetime, size: timedelta) -> list[datetime]:
    starts = []
    moment = start
    while moment < end:
        starts.append(moment)
        moment += size
    return starts


def summarise(runs: list[Run], start: datetime, end: datetime, size: timedelta) -> dict[str, Any]:
    """Buckets of [start, end), browser time per workspace and failures by code."""
    buckets = [BucketUsage(s) for s in bucket_starts(start, end, size)]
    by_workspace: dict[UUID, float] = {}
    failures: dict[str, int] = {}

    def index(moment: datetime) -> int:
        return int((moment - start) / size)

    for run in runs:
        if run.failure_code and run.ended_at is not None and start <= run.ended_at < end:
            buckets[index(run.ended_at)].runtimes_failed += 1
            failures[run.failure_code] = failures.get(run.failure_code, 0) + 1
        if run.up_from is None:
            continue
        if start <= run.up_from < end:
            buckets[index(run.up_from)].runtimes_started += 1
        up_from, up_until = max(run.up_from, start), min(run.up_until, end)
        if up_until <= up_from:
            continue
        by_workspace[run.workspace_id] = by_workspace.get(run.workspace_id, 0.0) + (
            (up_until - up_from).total_seconds()
        )
        for i in range(
            index(up_from), min(index(up_until - timedelta(microseconds=1)), len(buckets) - 1) + 1
        ):
            bucket = buckets[i]
            overlap = min(up_until, bucket.start + size) - max(up_from, bucket.start)
            bucket.browser_seconds += max(overlap.total_seconds(), 0.0)
    _peaks(buckets, runs, size)
    return {
        "buckets": buckets,
        "byWorkspace": sorted(by_workspace.items(), key=lambda item: -item[1]),
        "failures": sorted(failures.items(), key=lambda item: (-item[1], item[0])),
    }


def _peaks(buckets: list[BucketUsage], runs: list[Run], size: timedelta) -> None:
    """The most browsers up at once in each bucket: one sweep over starts and ends in time order."""
    # At the same instant an end sorts before a start: a run that ends as another begins does
    # not make two.
    lives = [(run.up_from, run.up_until) for run in runs if run.up_from and run.up_until > run.up_from]
    points = sorted([(up, 1) for up, _ in lives] + [(down, -1) for _, down in lives])
    active, i = 0, 0
    for bucket in buckets:
        while i < len(points) and (
            points[i][0] < bucket.start or (points[i][0] == bucket.start and points[i][1] < 0)
        ):
            active += points[i][1]
            i += 1
        peak = active
        bucket_end = bucket.start + size
        while i < len(points) and points[i][0] < bucket_end:
            active += points[i][1]
            peak = max(peak, active)
            i += 1
        bucket.peak_active = peak
