"""The warm pool over real HTTP and real Chromium: fresh browsers, started exactly as cold ones.

The engine here keeps one browser warm. Whether a runtime got a pooled browser is in its
`runtime.started` event (`warm`); `/healthz` says when the pool is full again.
"""

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.engine_process import EngineProcess, browser_pid, eventually
from tests.support.site import TestSite


@pytest.fixture(scope="module")
def warm_engine(tmp_path_factory: pytest.TempPathFactory, site: TestSite) -> Iterator[EngineProcess]:
    process = EngineProcess(
        tmp_path_factory.mktemp("warm-engine"), {"ENGINE_WARM_POOL_SIZE": "1"}, allow=site.host_port
    ).start()
    yield process
    process.stop()


@pytest.fixture
def client(warm_engine: EngineProcess) -> Iterator[httpx.Client]:
    with warm_engine.client("operator") as client:
        yield client


def pool_full(engine: EngineProcess) -> bool:
    state = httpx.get(f"{engine.url}/healthz").json()["warmPool"]
    return bool(state["ready"] == state["size"] == 1)


def launch(client: httpx.Client, workspace_id: str, alias: str, **launch: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"alias": alias}
    if launch:
        body["launch"] = {"mode": "ephemeral", **launch}
    response = client.post(f"/workspaces/{workspace_id}/runtimes", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def was_warm(client: httpx.Client, workspace_id: str, alias: str) -> bool:
    events = client.get(
        f"/workspaces/{workspace_id}/runtimes/{alias}/events", params={"eventTypes": "runtime.started"}
    ).json()["events"]
    return bool(events[0]["eventData"]["warm"])


def run(client: httpx.Client, workspace_id: str, alias: str, *steps: dict[str, Any]) -> list[Any]:
    response = client.post(
        f"/workspaces/{workspace_id}/execute", json={"runtime": alias, "steps": list(steps)}
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "succeeded", result
    return [step["result"] for step in result["steps"]]


def evaluate(expression: str) -> dict[str, Any]:
    return {"call": "page.evaluate", "args": [expression]}


def test_a_pooled_runtime_shares_no_cookies_storage_or_history_with_a_previous_one(
    warm_engine: EngineProcess, client: httpx.Client, workspace_id: str, site: TestSite
) -> None:
    assert eventually(lambda: pool_full(warm_engine))
    first = launch(client, workspace_id, "first")
    assert was_warm(client, workspace_id, "first")
    run(
        client,
        workspace_id,
        "first",
        {"call": "page.goto", "args": [f"{site.url}/form.html"]},
        evaluate("document.cookie = 'session=first; max-age=3600'"),
        evaluate("localStorage.setItem('left', 'behind'); sessionStorage.setItem('also', 'this')"),
        {"call": "page.goto", "args": [f"{site.url}/events.html"]},
    )
    assert run(client, workspace_id, "first", evaluate("document.cookie"))[0] == "session=first"
    client.post(f"/workspaces/{workspace_id}/runtimes/first/stop")
    assert not (warm_engine.var_dir / "runtimes" / first["id"]).exists()  # its browser died with it

    assert eventually(lambda: pool_full(warm_engine))
    second = launch(client, workspace_id, "second")
    assert was_warm(client, workspace_id, "second") and second["id"] != first["id"]
    # A blank page with no history, then the same site: no cookie, nothing stored.
    assert run(client, workspace_id, "second", {"call": "page.url"}, evaluate("history.length")) == [
        "about:blank",
        1,
    ]
    stored = run(
        client,
        workspace_id,
        "second",
        {"call": "page.goto", "args": [f"{site.url}/form.html"]},
        evaluate("document.cookie"),
        evaluate("localStorage.length + sessionStorage.length"),
        evaluate("history.length"),
    )
    assert stored[1:] == ["", 0, 2]


def _browser(engine: EngineProcess, runtime_id: str) -> dict[str, Any]:
    pid = browser_pid(engine.var_dir / "runtimes" / runtime_id)
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    proxy = next(arg for arg in argv if arg.startswith("--proxy-server="))
    normalised = sorted(
        arg.replace(runtime_id, "<runtime>") for arg in argv if arg and not arg.startswith("--proxy-server=")
    )
    status = Path(f"/proc/{pid}/status").read_text()
    uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
    return {
        "argv": normalised,
        "proxy": proxy,
        "uid": uid,
        "namespaces": {
            kind: os.readlink(f"/proc/{pid}/ns/{kind}") != os.readlink(f"/proc/self/ns/{kind}")
            for kind in ("mnt", "net")
        },
        "net": os.readlink(f"/proc/{pid}/ns/net"),
    }


def test_a_pooled_browser_starts_exactly_as_a_cold_one(
    warm_engine: EngineProcess, client: httpx.Client, workspace_id: str
) -> None:
    assert eventually(lambda: pool_full(warm_engine))
    # Two launches at once against a pool of one: one is served warm, the other starts cold.
    launched: dict[str, dict[str, Any]] = {}
    threads = [
        threading.Thread(target=lambda a=alias: launched.__setitem__(a, launch(client, workspace_id, a)))
        for alias in ("one", "two")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    warm = {alias: was_warm(client, workspace_id, alias) for alias in launched}
    assert sorted(warm.values()) == [False, True], warm
    pooled = _browser(warm_engine, next(launched[a]["id"] for a, w in warm.items() if w))
    cold = _browser(warm_engine, next(launched[a]["id"] for a, w in warm.items() if not w))
    # The same flags and isolation: each in namespaces of its own (its proxy alone in its
    # network), each as a uid of its own.
    assert pooled["argv"] == cold["argv"]
    assert pooled["namespaces"] == cold["namespaces"] == {"mnt": True, "net": True}
    assert pooled["net"] != cold["net"] and pooled["uid"] != cold["uid"]


def test_a_launch_that_changes_how_chromium_starts_is_cold_and_leaves_the_pool(
    warm_engine: EngineProcess, client: httpx.Client, workspace_id: str
) -> None:
    assert eventually(lambda: pool_full(warm_engine))
    launch(client, workspace_id, "german", config={"locale": "de-DE"})
    assert not was_warm(client, workspace_id, "german")
    assert pool_full(warm_engine)  # still waiting for a launch it fits
    # Settings the browser does not start with (idle timeout, recording) still fit the pool.
    launch(client, workspace_id, "patient", config={"idleTimeoutSeconds": 600, "recording": False})
    assert was_warm(client, workspace_id, "patient")
