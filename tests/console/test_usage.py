"""The usage page: charts drawn from the engine's usage of real runs, names instead of ids."""

import os
import signal

import httpx
from django.test import Client

from tests.support.engine_process import EngineProcess, browser_pid, eventually
from tests.support.html import region


def test_it_draws_usage_from_real_runs(
    viewer_client: Client, engine: EngineProcess, api: httpx.Client, workspace: dict
) -> None:
    runtimes = f"/workspaces/{workspace['id']}/runtimes"
    doomed = api.post(runtimes, json={"alias": "doomed"}).json()
    os.kill(browser_pid(engine.var_dir / "runtimes" / doomed["id"]), signal.SIGKILL)
    assert eventually(lambda: api.get(f"{runtimes}/doomed").json()["status"] == "failed")

    for chosen in ("7d", "today"):
        response = viewer_client.get("/usage/", {"range": chosen})
        body = response.content.decode()
        assert response.status_code == 200
        # server-drawn SVG: bars as rects with their value as a title, no inline style or script
        assert body.count('<svg class="chart"') == 3 and '<rect class="bar"' in body
        main = region(body, "main")
        assert "style=" not in main and "<script" not in main
        # the limit the console's launches meet against concurrency (this key is a script's: the
        # per-key one), workspaces by name, failures with their reason
        assert 'class="limit"' in body and "the limit (10)" in body
        assert "limited to <strong>10</strong> runtimes at once by the engine's per-key limit" in body
        assert f"<td>{workspace['name']}</td>" in body
        assert "<code>runtime.browser_crashed</code>" in body and "The browser process crashed" in body


def test_an_api_error_is_shown_in_place(viewer_client: Client, settings) -> None:
    from dashboard.bctrl.client import use_transport
    from tests.console.faults import Faults, api_error

    use_transport(Faults({"GET /v1/usage": api_error(500, "server.error", "The engine failed.")}))
    body = viewer_client.get("/usage/").content.decode()
    assert "The engine failed." in body and ">Retry<" in body and "<svg" not in body


def test_a_team_key_meets_the_engines_own_limit(viewer_client: Client, api: httpx.Client, settings) -> None:
    from dashboard.bctrl.client import reset_clients

    created = api.post("/api-keys", json={"name": "team console", "scope": "admin", "team": True}).json()
    settings.BCTRL_API_KEY = created["secret"]
    reset_clients()
    try:
        body = viewer_client.get("/usage/").content.decode()
        assert "the limit (20)" in body
        assert "The team may run up to <strong>20</strong> runtimes at once" in body
        assert "<code>ENGINE_MAX_ACTIVE_RUNTIMES</code>" in body and "is a team key" in body
    finally:
        api.delete(f"/api-keys/{created['apiKey']['id']}")
