"""Model auth of agent calls (`config.auth`): platform, saved (allowed or refused by the mount),
inline (used once, never stored), and the mount's defaults. Refusals happen before any step runs.
"""

import uuid

import httpx
import pytest

from tests.engine.conftest import PLATFORM_KEY, AgentWorkspace
from tests.support.engine_process import EngineProcess
from tests.support.model_server import ModelServer, element_id, tool

SAVE = lambda seen: tool("click", element=element_id(seen, "button", "Save"))  # noqa: E731


def _act(agents: AgentWorkspace, options: dict) -> httpx.Response:
    return agents.api.post(
        f"/workspaces/{agents.id}/execute",
        json={"runtime": "agent", "steps": [{"call": "stagehand.act", "args": ["Save", options]}]},
    )


def test_platform_uses_the_engines_own_credential(agents: AgentWorkspace, model_server: ModelServer) -> None:
    agents.goto("agent-act.html")
    model_server.script("platform-model", SAVE)
    response = _act(agents, {"auth": "platform"})
    assert response.json()["steps"][0]["result"]["success"] is True, response.text
    (seen,) = model_server.seen("platform-model")
    assert seen.api_key == PLATFORM_KEY and seen.provider == "openai"


def test_platform_without_a_configured_credential_is_a_clear_400(
    engine: EngineProcess, api: httpx.Client, workspace: dict
) -> None:
    assert api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "plain"}).status_code == 200
    response = api.post(
        f"/workspaces/{workspace['id']}/execute",
        json={"runtime": "plain", "steps": [{"call": "stagehand.act", "args": ["x", {"auth": "platform"}]}]},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "agent.platform_credential_missing" and "ENGINE_AI_API_KEY" in error["message"]


def test_a_saved_credential_the_mount_does_not_allow_is_403(
    agents: AgentWorkspace, model_server: ModelServer, model: str, credentials: dict
) -> None:
    outsider = f"outsider-{uuid.uuid4().hex[:6]}"
    created = agents.api.post(
        "/ai-credentials",
        json={
            "id": outsider,
            "provider": "openai",
            "label": "not mounted",
            "apiKey": "sk-outsider-key",
            "baseUrl": model_server.base_url("openai"),
        },
    )
    assert created.status_code == 201
    try:
        response = _act(agents, {"auth": {"credential": outsider}, "model": model})
        assert response.status_code == 403 and response.json()["error"]["code"] == "auth.forbidden"
        # A narrowing of the call's own mounts is honoured: anthropic is allowed by the
        # workspace but not by this call's narrowing.
        narrowed = _act(
            agents,
            {
                "auth": {"credential": credentials["anthropic"]["id"]},
                "model": model,
                "mounts": {"ai": {"allow": [credentials["openai"]["id"]]}},
            },
        )
        assert narrowed.status_code == 403
        # ...and a call cannot widen them.
        widened = _act(agents, {"auth": {"credential": outsider}, "mounts": {"ai": {"allow": [outsider]}}})
        assert widened.status_code == 403
        assert model_server.seen(model) == []  # refused before any model request
    finally:
        agents.api.delete(f"/ai-credentials/{outsider}")


def test_no_auth_uses_the_mounts_default_for_the_provider(
    agents: AgentWorkspace, model_server: ModelServer, model: str, credentials: dict
) -> None:
    agents.goto("agent-act.html")
    model_server.script(model, SAVE)
    assert _act(agents, {"model": model}).json()["steps"][0]["result"]["success"] is True
    (seen,) = model_server.seen(model)
    assert seen.api_key == credentials["openai"]["key"]
    # No default for anthropic in this workspace: a clear 400 naming the way out.
    response = _act(agents, {"provider": "anthropic", "model": model})
    assert response.status_code == 400 and response.json()["error"]["code"] == "agent.no_default_credential"


def test_the_credentials_default_model_is_used_without_a_model(
    agents: AgentWorkspace, model_server: ModelServer, credentials: dict
) -> None:
    agents.goto("agent-act.html")
    model_server.script("default-google", SAVE)
    response = _act(agents, {"auth": {"credential": credentials["google"]["id"]}})
    assert response.json()["steps"][0]["result"]["success"] is True, response.text
    assert model_server.seen("default-google")[-1].provider == "google"


def test_bad_options_are_refused_with_their_paths(agents: AgentWorkspace) -> None:
    response = _act(agents, {"auth": {"apiKey": "k"}, "maxSteps": 3})
    assert response.status_code == 400
    paths = {f["path"] for f in response.json()["error"]["details"]["fields"]}
    assert "steps.0.args.1.maxSteps" in paths  # act has no loop to limit
    assert any(p.startswith("steps.0.args.1.auth") for p in paths)


def test_an_inline_key_is_used_once_and_never_stored(
    agents: AgentWorkspace, agent_engine: EngineProcess, model_server: ModelServer, model: str
) -> None:
    inline_key = f"sk-inline-{uuid.uuid4().hex}"
    agents.goto("agent-act.html")
    model_server.script(model, SAVE, tool("done", success=True, answer="saved"))
    body = agents.execute(
        {
            "call": "stagehand.agent.execute",
            "args": [
                "Save the draft",
                {
                    "auth": {
                        "apiKey": inline_key,
                        "provider": "anthropic",
                        "baseUrl": model_server.base_url("anthropic"),
                    },
                    "model": model,
                },
            ],
        }
    )
    operation = agents.wait(body["operation"]["id"])
    assert operation["status"] == "succeeded", operation
    assert operation["result"]["auth"] == "inline" and operation["result"]["provider"] == "anthropic"
    assert {s.api_key for s in model_server.seen(model)} == {inline_key}

    seen_by_api = [
        agents.api.get(f"/operations/{operation['id']}").text,
        agents.api.get(f"/operations/{operation['id']}/trace").text,
        agents.api.get(f"/workspaces/{agents.id}/runtimes/agent/events", params={"limit": 500}).text,
        agents.api.get("/updates", params={"after": 0, "limit": 500}).text,
    ]
    assert not any(inline_key in text for text in seen_by_api)
    assert inline_key not in agent_engine.log()
    database = b"".join(p.read_bytes() for p in agent_engine.var_dir.glob("engine.sqlite3*") if p.is_file())
    assert database and inline_key.encode() not in database


@pytest.mark.parametrize("auth", [{"credential": "no-such-credential"}, "platform"])
def test_auth_is_checked_for_agent_execute_before_an_operation_exists(
    agents: AgentWorkspace, auth: object, model: str
) -> None:
    before = agents.api.get(f"/workspaces/{agents.id}/operations", params={"limit": 500}).json()["operations"]
    options = {"auth": auth, "model": model}
    if auth == "platform":
        options["mounts"] = {"ai": {"allow": ["widen-me"]}}
    response = agents.api.post(
        f"/workspaces/{agents.id}/execute",
        json={"runtime": "agent", "steps": [{"call": "browserUse.agent.execute", "args": ["x", options]}]},
    )
    assert response.status_code == 403
    after = agents.api.get(f"/workspaces/{agents.id}/operations", params={"limit": 500}).json()["operations"]
    assert len(after) == len(before)
