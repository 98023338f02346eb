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


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, site: Site) -> Iterator[EngineProcess]:
    limits = {
        "ENGINE_MAX_RUNTIMES_PER_KEY": "1",
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
    with limited.client("admin") as admin:
        workspace_id = admin.post("/workspaces", json={"name": "limits"}).json()["id"]
        yield workspace_id
        admin.delete(f"/workspaces/{workspace_id}", params={"force": "true"})


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
        refused(operator.post(runtimes, json={"alias": "more"}), 429, "ENGINE_MAX_RUNTIMES_PER_KEY")
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
