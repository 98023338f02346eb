"""A launch refused by a limit says which limit and what to change, on an engine with small ones:
the per-key limit for a script's key, the engine's own limit for a team key (a console's)."""

import uuid
from collections.abc import Iterator

import httpx
import pytest
from django.test import Client

from dashboard.bctrl.client import reset_clients
from dashboard.devserver.management.commands.up import Command
from engine.egress import launcher
from tests.support.engine_process import EngineProcess, one_uid


@pytest.fixture(scope="module")
def small_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    limits = {
        "ENGINE_MAX_ACTIVE_RUNTIMES": "2",
        "ENGINE_MAX_RUNTIMES_PER_KEY": "1",
        "ENGINE_WARM_POOL_SIZE": "0",
    }
    process = EngineProcess(tmp_path_factory.mktemp("small"), extra_env=limits).start()
    process.keys["team"] = process.create_key("admin", "team console", team=True)
    yield process
    process.stop()


def _use(settings, engine: EngineProcess, key: str) -> None:
    settings.BCTRL_API_URL = f"{engine.url}/v1"
    settings.BCTRL_API_KEY = engine.keys[key]
    reset_clients()


def _launch(client: Client, workspace_id: str, alias: str) -> tuple[int, str]:
    form = {
        "alias": alias,
        "driver": "playwright",
        "launch_mode": "ephemeral",
        "idempotency_key": uuid.uuid4().hex,
    }
    response = client.post(f"/workspaces/{workspace_id}/launch/", form)
    return response.status_code, response.content.decode()


def test_each_refusal_names_the_limit_that_refused_and_what_to_change(
    operator_client: Client, small_engine: EngineProcess, settings
) -> None:
    with small_engine.client("admin") as api:
        workspace = api.post("/workspaces", json={"name": "limits"}).json()
        try:
            # a script's key: its per-key share (1) comes first
            _use(settings, small_engine, "admin")
            assert _launch(operator_client, workspace["id"], "first")[0] == 302
            status, body = _launch(operator_client, workspace["id"], "second")
            assert status == 422 and "ENGINE_MAX_RUNTIMES_PER_KEY" in body and "make this a team key" in body
            assert "wait a moment" not in body and "waiting alone will not free it" in body
            # a team key (a console's, as `manage.py up` makes it): the engine's own limit (2) only
            _use(settings, small_engine, "team")
            assert _launch(operator_client, workspace["id"], "second")[0] == 302
            status, body = _launch(operator_client, workspace["id"], "third")
            assert status == 422 and "ENGINE_MAX_ACTIVE_RUNTIMES" in body and "raise the limit" in body
            assert "wait a moment" not in body
            usage = operator_client.get("/usage/").content.decode()
            assert "The team may run up to <strong>2</strong> runtimes at once" in usage
        finally:
            api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})


def test_a_rate_is_still_a_rate() -> None:
    """Only a capacity limit reads as "waiting will not help": the per-minute rate says wait."""
    from dashboard.bctrl.errors import RateLimited

    rate = RateLimited(429, "rate_limited", "Too many.", details={"limit": "ENGINE_RATE_LIMIT_PER_MINUTE"})
    assert rate.capacity_limit is None and "wait a moment and retry" in rate.user_message
    held = RateLimited(429, "rate_limited", "Too many held.", details={"limit": "ENGINE_MAX_WAITS_PER_KEY"})
    assert held.capacity_limit == "ENGINE_MAX_WAITS_PER_KEY" and "waiting alone" in held.user_message
    unnamed = RateLimited(429, "rate_limited", "Slow down.")
    assert "free what its message names, or wait" in unnamed.user_message


def test_the_key_manage_py_up_makes_for_the_console_is_a_team_key(
    small_engine: EngineProcess, settings, tmp_path
) -> None:
    """With the defaults, the team reaches the engine's own limit: `up` gives the console a team key."""
    settings.BCTRL_API_KEY_PATH = tmp_path / "secrets" / "bctrl_api_key"
    env = {k: v for k, v in small_engine.env.items() if k != "BCTRL_API_KEY"}
    key = Command()._ensure_engine_key(f"{small_engine.url}/v1", env)
    limits = httpx.get(f"{small_engine.url}/v1/limits", headers={"Authorization": f"Bearer {key}"}).json()
    assert limits["teamKey"] is True and limits["maxActiveRuntimes"] == 2


def test_a_launch_without_a_free_browser_uid_names_the_setting(
    operator_client: Client, tmp_path_factory: pytest.TempPathFactory, settings
) -> None:
    """The engine's capacity refusal (503 runtime.capacity_exhausted) reads as a capacity limit,
    not as a failed API or a Chromium that did not start. The engine's one uid is held here, as
    another engine of the host would hold it (leases are host-wide)."""
    uid = one_uid()
    engine = EngineProcess(
        tmp_path_factory.mktemp("one-uid-console"),
        {"ENGINE_BROWSER_UID": str(uid), "ENGINE_BROWSER_UID_COUNT": "1", "ENGINE_WARM_POOL_SIZE": "0"},
    ).start()
    held = None
    try:
        with engine.client("admin") as api:
            workspace_id = api.post("/workspaces", json={"name": "one uid"}).json()["id"]
        held = launcher.Uids(uid, 1).lease()
        _use(settings, engine, "admin")
        status, body = _launch(operator_client, workspace_id, "first")
    finally:
        if held is not None:
            held.release()
        engine.stop()
    assert status == 422 and "ENGINE_BROWSER_UID_COUNT" in body, body
    assert "waiting alone will not free it" in body
    assert "The API failed" not in body and "CHROMIUM_PATH" not in body


def test_a_launch_that_failed_in_the_engine_says_why_not_that_it_runs(
    operator_client: Client, tmp_path_factory: pytest.TempPathFactory, settings
) -> None:
    """A 503 launch is looked for (it may have been made); found failed, the form says why it
    failed rather than "is running"."""
    engine = EngineProcess(
        tmp_path_factory.mktemp("no-chromium"),
        {"CHROMIUM_PATH": "/bin/false", "ENGINE_ALLOW_UNISOLATED": "true", "ENGINE_WARM_POOL_SIZE": "0"},
    ).start()
    try:
        with engine.client("admin") as api:
            workspace_id = api.post("/workspaces", json={"name": "no chromium"}).json()["id"]
        _use(settings, engine, "admin")
        status, body = _launch(operator_client, workspace_id, "doomed")
        with engine.client("admin") as api:
            runs = api.get(f"/workspaces/{workspace_id}/runtimes", params={"status": "failed"}).json()
    finally:
        engine.stop()
    assert status == 422, body
    assert "is running" not in body
    assert any(run["alias"] == "doomed" for run in runs["runtimes"]), runs
