"""Per-key limits over real HTTP, on an engine configured with small ones.

Each refusal is the contract's error body: 429 `rate_limited` with Retry-After, or 400 naming the
setting to change. Idempotency records expire (here after 2 s).
"""

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.engine_process import EngineProcess
from tests.support.site import TestSite as Site
from tests.support.workspaces import new_workspace


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, site: Site) -> Iterator[EngineProcess]:
    limits = {
        "ENGINE_MAX_RUNTIMES_PER_KEY": "1",
        "ENGINE_MAX_ACTIVE_RUNTIMES": "3",
        "ENGINE_MAX_WAITS_PER_KEY": "1",
        "ENGINE_MAX_EXECUTE_SECONDS": "2",
        "ENGINE_MAX_IDLE_TIMEOUT_SECONDS": "60",
        "ENGINE_IDEMPOTENCY_TTL_SECONDS": "2",
    }
    process = EngineProcess(
        tmp_path_factory.mktemp("limited"), extra_env=limits, allow=site.host_port
    ).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def workspace_id(limited: EngineProcess) -> Iterator[str]:
    # on the module's limited engine (not `client`'s), one for the module
    with limited.client("admin") as admin, new_workspace(admin, "limits") as workspace_id:
        yield workspace_id


def refused(response: httpx.Response, status: int, setting: str) -> None:
    assert response.status_code == status, response.text
    assert setting in response.json()["error"]["message"] and response.json()["requestId"]
    if status == 429:
        assert (
            response.json()["error"]["code"] == "rate_limited" and int(response.headers["Retry-After"]) >= 1
        )


def test_a_key_runs_at_most_its_share_of_runtimes(limited: EngineProcess, workspace_id: str) -> None:
    runtimes = f"/workspaces/{workspace_id}/runtimes"
    with limited.client("operator") as operator, limited.client("admin") as admin:
        assert operator.post(runtimes, json={"alias": "mine"}).status_code == 200
        refusal = operator.post(runtimes, json={"alias": "more"})
        refused(refusal, 429, "ENGINE_MAX_RUNTIMES_PER_KEY")
        assert refusal.json()["error"]["details"]["limit"] == "ENGINE_MAX_RUNTIMES_PER_KEY"
        assert admin.post(runtimes, json={"alias": "theirs"}).status_code == 200  # another key's share
        operator.post(f"{runtimes}/mine/stop")
        assert operator.post(runtimes, json={"alias": "more"}).status_code == 200
        operator.post(f"{runtimes}/more/stop")
        admin.post(f"{runtimes}/theirs/stop")
        refused(
            operator.post(
                runtimes,
                json={"alias": "idle", "launch": {"mode": "ephemeral", "config": {"idleTimeoutSeconds": 61}}},
            ),
            400,
            "ENGINE_MAX_IDLE_TIMEOUT_SECONDS",
        )


def test_a_team_key_runs_as_many_runtimes_as_the_engine_allows_and_no_more(
    limited: EngineProcess, workspace_id: str
) -> None:
    """A console's key is shared by its whole team: the per-key caps (here 1 runtime, 1 wait) are
    for one script's key; the team is held to the engine's own limit (here 3 runtimes)."""
    runtimes = f"/workspaces/{workspace_id}/runtimes"
    with limited.client("admin") as admin:
        created = admin.post("/api-keys", json={"name": "console", "scope": "operator", "team": True})
        assert created.status_code == 201 and created.json()["apiKey"]["team"] is True
    team = httpx.Client(
        base_url=f"{limited.url}/v1",
        headers={"Authorization": f"Bearer {created.json()['secret']}"},
        timeout=120,
    )
    with team:
        limits = team.get("/limits").json()
        assert (
            limits["teamKey"] is True
            and limits["maxRuntimesPerKey"] == 1
            and limits["maxActiveRuntimes"] == 3
        )
        try:
            for alias in ("a", "b", "c"):
                assert team.post(runtimes, json={"alias": alias}).status_code == 200
            refusal = team.post(runtimes, json={"alias": "d"})
            refused(refusal, 429, "ENGINE_MAX_ACTIVE_RUNTIMES")
            assert refusal.json()["error"]["details"]["limit"] == "ENGINE_MAX_ACTIVE_RUNTIMES"
            with team.stream("GET", "/updates/stream") as stream:  # past the per-key wait cap of 1
                assert stream.status_code == 200
                assert team.post(f"{runtimes}/a/events/wait", json={"timeoutMs": 100}).status_code == 200
        finally:
            for alias in ("a", "b", "c"):
                team.post(f"{runtimes}/{alias}/stop")


def test_a_key_holds_at_most_its_share_of_waits_and_streams(
    limited: EngineProcess, workspace_id: str
) -> None:
    with limited.client("read") as reader, limited.client("operator") as operator:
        with reader.stream("GET", "/updates/stream") as stream:
            assert stream.status_code == 200  # the stream now holds the read key's one slot
            waited = reader.post(
                "/operations/00000000-0000-0000-0000-000000000000/wait", json={"timeoutMs": 100}
            )
            refused(waited, 429, "ENGINE_MAX_WAITS_PER_KEY")
            other = operator.post(
                "/operations/00000000-0000-0000-0000-000000000000/wait", json={"timeoutMs": 100}
            )
            assert other.status_code == 404  # another key is not held back
        deadline = time.monotonic() + 10
        while (
            again := reader.post(
                "/operations/00000000-0000-0000-0000-000000000000/wait", json={"timeoutMs": 100}
            )
        ).status_code == 429:
            assert time.monotonic() < deadline, "the closed stream never gave its slot back"
            time.sleep(0.1)
        assert again.status_code == 404


def test_an_execute_has_a_total_time_budget(limited: EngineProcess, workspace_id: str) -> None:
    with limited.client("admin") as admin:
        admin.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": "budget"})
        url = f"/workspaces/{workspace_id}/execute"
        pause = {"call": "page.waitForTimeout", "args": [1500]}
        result = admin.post(url, json={"runtime": "budget", "steps": [pause, pause]}).json()
        assert [s["ok"] for s in result["steps"]] == [True, False]
        assert result["steps"][1]["error"]["code"] == "step.timeout"
        assert "ENGINE_MAX_EXECUTE_SECONDS" in result["steps"][1]["error"]["message"]
        long_step = {**pause, "options": {"timeoutMs": 5000}}
        refused(
            admin.post(url, json={"runtime": "budget", "steps": [long_step]}),
            400,
            "ENGINE_MAX_EXECUTE_SECONDS",
        )


def test_idempotency_records_expire(limited: EngineProcess) -> None:
    with limited.client("admin") as admin:
        headers = {"Idempotency-Key": "expiring"}
        first = admin.post("/workspaces", json={"name": "once"}, headers=headers)
        again = admin.post("/workspaces", json={"name": "once"}, headers=headers)
        assert again.headers.get("Idempotent-Replayed") == "true" and again.json()["id"] == first.json()["id"]
        time.sleep(2.5)  # past ENGINE_IDEMPOTENCY_TTL_SECONDS
        later = admin.post("/workspaces", json={"name": "once"}, headers=headers)
        assert later.status_code == 201 and "Idempotent-Replayed" not in later.headers
        assert later.json()["id"] != first.json()["id"]
