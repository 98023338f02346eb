"""Usage: the arithmetic over runs (pure, here in the test process) and the route over real runs."""

import os
import signal
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import httpx

from engine.runtimes.usage import Run, summarise
from tests.support.engine_process import EngineProcess, browser_pid, eventually

DAY = datetime(2026, 11, 28, tzinfo=UTC)
HOUR = timedelta(hours=1)
SHOP, CRM = uuid4(), uuid4()


def run(workspace: UUID, up: float | None, down: float | None, failure: str = "") -> Run:
    """A run up from hour `up` to hour `down` of DAY (None: never came up / still running)."""
    return Run(
        workspace_id=workspace,
        up_from=DAY + up * HOUR if up is not None else None,
        up_until=DAY + (down if down is not None else 24) * HOUR,
        ended_at=DAY + down * HOUR if down is not None else None,
        failure_code=failure,
    )


def test_it_splits_browser_time_across_the_buckets_a_run_spans() -> None:
    usage = summarise([run(SHOP, 1.5, 3.25)], DAY, DAY + 6 * HOUR, HOUR)
    seconds = [b.browser_seconds for b in usage["buckets"]]
    assert seconds == [0, 1800, 3600, 900, 0, 0]
    assert [b.runtimes_started for b in usage["buckets"]] == [0, 1, 0, 0, 0, 0]
    assert usage["byWorkspace"] == [(SHOP, 6300.0)]


def test_it_counts_only_the_part_of_a_run_inside_the_range() -> None:
    usage = summarise([run(SHOP, -2, 1), run(CRM, 5, None)], DAY, DAY + 6 * HOUR, HOUR)
    assert [b.browser_seconds for b in usage["buckets"]] == [3600, 0, 0, 0, 0, 3600]
    # It came up before the range: browser time counts, its launch does not.
    assert sum(b.runtimes_started for b in usage["buckets"]) == 1


def test_peak_active_is_the_most_browsers_up_at_one_moment() -> None:
    runs = [run(SHOP, 0.1, 0.5), run(SHOP, 0.6, 0.9), run(CRM, 0.2, 2.5), run(CRM, 1.0, 1.2)]
    usage = summarise(runs, DAY, DAY + 3 * HOUR, HOUR)
    # Hour 0: three runs but at most two at once; hour 1: the CRM run and the one inside it;
    # hour 2: the CRM run alone.
    assert [b.peak_active for b in usage["buckets"]] == [2, 2, 1]


def test_a_run_ending_as_another_begins_does_not_make_two() -> None:
    usage = summarise([run(SHOP, 0, 1), run(SHOP, 1, 2)], DAY, DAY + 2 * HOUR, HOUR)
    assert [b.peak_active for b in usage["buckets"]] == [1, 1]


def test_it_counts_failures_by_code_in_the_bucket_they_ended() -> None:
    runs = [
        run(SHOP, 0.5, 1.5, "runtime.browser_crashed"),
        run(SHOP, None, 2.1, "runtime.launch_failed"),
        run(CRM, 0.2, 2.9, "runtime.browser_crashed"),
        run(CRM, 0.2, 0.4),
    ]
    usage = summarise(runs, DAY, DAY + 3 * HOUR, HOUR)
    assert [b.runtimes_failed for b in usage["buckets"]] == [0, 1, 2]
    assert usage["failures"] == [("runtime.browser_crashed", 2), ("runtime.launch_failed", 1)]


def test_the_route_reports_real_runs(engine: EngineProcess, api: httpx.Client, workspace: dict) -> None:
    runtimes = f"/workspaces/{workspace['id']}/runtimes"
    doomed = api.post(runtimes, json={"alias": "doomed"}).json()
    assert api.post(runtimes, json={"alias": "steady"}).status_code == 200
    os.kill(browser_pid(engine.var_dir / "runtimes" / doomed["id"]), signal.SIGKILL)
    assert eventually(lambda: api.get(f"{runtimes}/doomed").json()["status"] == "failed")
    api.post(f"{runtimes}/steady/stop")

    today = datetime.now(UTC).date()
    params = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat(), "bucket": "hour"}
    response = api.get("/usage", params=params)
    assert response.status_code == 200, response.text
    usage = response.json()
    assert len(usage["buckets"]) == 48 and usage["buckets"][0]["start"].endswith("T00:00:00.000Z")
    assert sum(b["runtimesStarted"] for b in usage["buckets"]) >= 2
    assert max(b["peakActive"] for b in usage["buckets"]) >= 2
    mine = next(w for w in usage["byWorkspace"] if w["workspaceId"] == workspace["id"])
    assert mine["browserSeconds"] > 0
    assert any(f["code"] == "runtime.browser_crashed" for f in usage["failures"])
    assert usage["limits"]["maxActiveRuntimes"] >= 1
    by_day = api.get("/usage", params={**params, "bucket": "day"}).json()
    assert [b["start"][:10] for b in by_day["buckets"]] == [params["from"], params["to"]]


def test_the_route_refuses_a_bad_range(api: httpx.Client) -> None:
    for params in (
        {"from": "2026-11-08", "to": "2026-11-01"},
        {"from": "2020-01-01", "to": "2026-01-01", "bucket": "hour"},
        {"from": "yesterday"},
        {"bucket": "minute"},
    ):
        response = api.get("/usage", params=params)
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] == "request.invalid"


def test_it_defaults_to_the_last_seven_days(api: httpx.Client) -> None:
    buckets = api.get("/usage").json()["buckets"]
    assert len(buckets) == 7 and buckets[-1]["start"][:10] == datetime.now(UTC).date().isoformat()
    assert date.fromisoformat(buckets[0]["start"][:10]) == datetime.now(UTC).date() - timedelta(days=6)
