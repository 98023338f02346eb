"""An engine that stops or dies while an agent runs never leaves its operation `running`.

SIGTERM: the loop is cancelled and ends its operation `failed` (`server.shutdown`) before the
browsers close. SIGKILL: nothing can run, and the next start ends it (`server.restarted`).
"""

import signal
import time
from pathlib import Path

import httpx

from tests.support.engine_process import EngineProcess
from tests.support.model_server import ModelServer, slow


def _engine(var_dir: Path, model_server: ModelServer, keys: dict[str, str] | None = None) -> EngineProcess:
    process = EngineProcess(
        var_dir,
        {
            "ENGINE_AI_PROVIDER": "anthropic",
            "ENGINE_AI_BASE_URL": model_server.base_url("anthropic"),
            "ENGINE_AI_API_KEY": "sk-restart-test",
        },
    )
    process.keys = dict(keys or {})
    return process.start()


def _start_slow_run(api: httpx.Client, model_server: ModelServer, model: str) -> str:
    """An agent run whose model takes a minute to answer its first request."""
    workspace_id = api.post("/workspaces", json={"name": model}).json()["id"]
    assert api.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": "r"}).status_code == 200
    model_server.script(model, slow(60))
    body = api.post(
        f"/workspaces/{workspace_id}/execute",
        json={
            "runtime": "r",
            "steps": [
                {"call": "stagehand.agent.execute", "args": ["Wait", {"auth": "platform", "model": model}]}
            ],
        },
    ).json()
    operation_id = body["operation"]["id"]
    deadline = time.monotonic() + 30
    while not model_server.seen(model) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert model_server.seen(model), "the agent never asked its model"
    assert api.get(f"/operations/{operation_id}").json()["status"] == "running"
    return operation_id


def test_a_stopped_or_killed_engine_never_leaves_an_agent_operation_running(
    tmp_path: Path, model_server: ModelServer
) -> None:
    engine = _engine(tmp_path / "engine", model_server)
    try:
        with engine.client("admin") as api:
            stopped = _start_slow_run(api, model_server, "restart-sigterm")
        engine.stop(signal.SIGTERM)
        engine = _engine(engine.var_dir, model_server, engine.keys)
        with engine.client("admin") as api:
            operation = api.get(f"/operations/{stopped}").json()
            assert operation["status"] == "failed" and operation["error"]["code"] == "server.shutdown"
            killed = _start_slow_run(api, model_server, "restart-sigkill")
        engine.stop(signal.SIGKILL)
        engine = _engine(engine.var_dir, model_server, engine.keys)
        with engine.client("admin") as api:
            operation = api.get(f"/operations/{killed}").json()
            assert operation["status"] == "failed" and operation["error"]["code"] == "server.restarted"
    finally:
        engine.stop(signal.SIGKILL)
