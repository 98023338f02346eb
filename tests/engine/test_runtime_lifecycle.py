"""A runtime's browser dying, and the engine stopping or being killed under live runtimes.

Tests that stop or kill the engine start their own; the crash test shares the session engine
and kills only its own runtime's Chromium (found by its user-data dir, which is under var_dir).
"""

import contextlib
import os
import signal
from pathlib import Path

import httpx
import pytest

from tests.support.engine_process import EngineProcess, browser_pid, chromium_pids_under, eventually


def restart(engine: EngineProcess) -> EngineProcess:
    """A new engine process on the same var dir (and database, so the same keys work)."""
    again = EngineProcess(engine.var_dir)
    again.keys = dict(engine.keys)
    return again.start()


def launch(client: httpx.Client, name: str, alias: str) -> tuple[str, dict]:
    workspace_id = client.post("/workspaces", json={"name": name}).json()["id"]
    response = client.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": alias})
    assert response.status_code == 200, response.text
    return workspace_id, response.json()


@pytest.fixture
def own_engine(tmp_path: Path) -> EngineProcess:
    engine = EngineProcess(tmp_path / "engine").start()
    yield engine
    engine.stop(signal.SIGKILL)


def test_a_killed_browser_fails_its_runtime(engine: EngineProcess, api: httpx.Client) -> None:
    workspace_id, runtime = launch(api, "crash test", "doomed")
    os.kill(browser_pid(engine.var_dir / "runtimes" / runtime["id"]), signal.SIGKILL)
    url = f"/workspaces/{workspace_id}/runtimes/doomed"
    failed = eventually(lambda: (r := api.get(url).json())["status"] == "failed" and r)
    assert failed, api.get(url).json()
    assert failed["failure"]["code"] == "runtime.browser_crashed" and failed["failure"]["message"]
    events = api.get(f"{url}/events", params={"eventTypes": "runtime.failed"}).json()["events"]
    assert events[0]["eventData"]["code"] == "runtime.browser_crashed"
    api.delete(f"/workspaces/{workspace_id}", params={"force": "true"})


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def test_a_crashed_page_is_reported_and_the_runtime_lives_on(
    engine: EngineProcess, api: httpx.Client
) -> None:
    # chrome://crash is refused by the egress policy now; a renderer killed from outside is the
    # same crash as far as the browser and the engine can tell.
    workspace_id, runtime = launch(api, "page crash test", "fragile")
    for pid in descendants(browser_pid(engine.var_dir / "runtimes" / runtime["id"])):
        with contextlib.suppress(OSError):
            if b"--type=renderer" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)
    events = api.post(
        f"/workspaces/{workspace_id}/runtimes/fragile/events/wait",
        json={"eventTypes": ["page.crashed"], "timeoutMs": 10000},
    ).json()
    assert events["event"] is not None
    assert api.get(f"/workspaces/{workspace_id}/runtimes/fragile").json()["status"] == "active"
    api.delete(f"/workspaces/{workspace_id}", params={"force": "true"})


def test_sigterm_closes_every_browser(own_engine: EngineProcess) -> None:
    with own_engine.client() as client:
        workspace_id, _ = launch(client, "shutdown test", "one")
        client.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": "two"})
        assert chromium_pids_under(own_engine.var_dir)
        own_engine.stop(signal.SIGTERM)
    assert chromium_pids_under(own_engine.var_dir) == []
    restarted = restart(own_engine)
    try:
        with restarted.client() as client:
            runtimes = client.get(f"/workspaces/{workspace_id}/runtimes").json()["runtimes"]
    finally:
        restarted.stop()
    assert {r["status"] for r in runtimes} == {"stopped"}


def test_a_killed_engine_leaves_no_runtime_active_after_restart(own_engine: EngineProcess) -> None:
    with own_engine.client() as client:
        workspace_id, _ = launch(client, "restart test", "survivor")
    own_engine.stop(signal.SIGKILL)
    restarted = restart(own_engine)
    try:
        with restarted.client() as client:
            after = client.get(f"/workspaces/{workspace_id}/runtimes/survivor").json()
            events = client.get(f"/workspaces/{workspace_id}/runtimes/survivor/events").json()["events"]
            relaunched = client.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": "survivor"})
    finally:
        restarted.stop()
    assert after["status"] == "failed" and after["failure"]["code"] == "runtime.engine_restarted"
    assert events[-1]["eventType"] == "runtime.failed"
    assert relaunched.status_code == 200


def test_the_browser_runs_as_its_own_user_with_its_sandbox(engine: EngineProcess, api: httpx.Client) -> None:
    """The engine runs as root here; its runtimes' Chromium does not (ENGINE_BROWSER_UID), and keeps its sandbox."""
    assert os.geteuid() == 0, (
        "this machine runs the suite as root; elsewhere the engine's user is unprivileged already"
    )
    workspace_id, runtime = launch(api, "sandbox test", "boxed")
    browser = browser_pid(engine.var_dir / "runtimes" / runtime["id"])
    uids = next(
        line for line in Path(f"/proc/{browser}/status").read_text().splitlines() if line.startswith("Uid:")
    )
    assert set(uids.split()[1:]) == {"61287"}, engine.log()[-500:]
    renderers = [
        pid for pid in descendants(browser) if b"--type=renderer" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]
    for pid in [browser, *renderers]:
        assert b"--no-sandbox" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    api.delete(f"/workspaces/{workspace_id}", params={"force": "true"})
