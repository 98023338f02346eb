"""An agent logs in with a vault entry it never sees: the secret reaches the page and nothing else.

The scripted model asks for `fill_secret` by key; the engine fills with `vault.fill`'s rules.
Then: no model request the server received, no operation, trace, event, update or log line,
carries the username or password; the page did get them.
"""

import secrets
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

from tests.engine.conftest import AgentWorkspace
from tests.support.engine_process import EngineProcess
from tests.support.model_server import ModelServer, Seen, element_id, tool


def test_a_secret_filled_by_the_agent_reaches_no_model_request(
    agents: AgentWorkspace, agent_engine: EngineProcess, model_server: ModelServer, model: str
) -> None:
    username = f"ada-{secrets.token_hex(6)}"
    password = f"pw-{secrets.token_hex(12)}"
    key = f"{agents.vault_prefix}/crm"
    origin = f"http://{urlsplit(agents.site.url).netloc}"
    assert (
        agents.api.put(
            f"/vault/{key}", json={"username": username, "password": password, "origins": [origin]}
        ).status_code
        == 200
    )
    agents.goto("vault-login.html")
    model_server.script(
        model,
        lambda seen: tool(
            "fill_secret",
            key=key,
            usernameElement=element_id(seen, "textbox", "user"),
            passwordElement=element_id(seen, "textbox", "pass"),
        ),
        lambda seen: tool("click", element=element_id(seen, "button", "Sign in")),
        tool("done", success=True, answer="signed in"),
    )
    body = agents.execute(
        {"call": "stagehand.agent.execute", "args": ["Sign in to the CRM", {"model": model}]}
    )
    operation = agents.wait(body["operation"]["id"])
    assert operation["status"] == "succeeded", operation
    assert (
        operation["result"]["actions"][0]["description"] == f"filled vault entry {key!r} (username, password)"
    )

    requests = model_server.seen(model)
    assert len(requests) == 3
    assert key in requests[0].prompt and "fill_secret" in requests[0].tools  # offered by key only
    assert (
        '"user" (secret, filled)' in requests[1].prompt
        and '"pass" type=password (secret, filled)' in requests[1].prompt
    )
    for request in requests:
        assert username.encode() not in request.raw and password.encode() not in request.raw

    page = agents.execute(
        {"call": "page.textContent", "args": ["#done"]},
        {
            "call": "page.evaluate",
            "args": [
                "[document.querySelector('#user').value.length, document.querySelector('#pass').value.length]"
            ],
        },
    )
    assert [s["result"] for s in page["steps"]] == ["submitted", [len(username), len(password)]]

    outputs = [
        agents.api.get(f"/operations/{operation['id']}").text,
        agents.api.get(f"/operations/{operation['id']}/trace").text,
        agents.api.get(f"/workspaces/{agents.id}/runtimes/agent/events", params={"limit": 500}).text,
        agents.api.get("/updates", params={"after": 0, "limit": 500}).text,
        agent_engine.log(),
    ]
    for text in outputs:
        assert username not in text and password not in text
    agents.api.delete(f"/vault/{key}")


def test_the_vault_mount_and_origin_rules_hold_for_an_agent(
    agents: AgentWorkspace, model_server: ModelServer, model: str
) -> None:
    outside = f"elsewhere-{uuid.uuid4().hex[:6]}/crm"
    wrong_origin = f"{agents.vault_prefix}/other-{uuid.uuid4().hex[:6]}"
    agents.api.put(f"/vault/{outside}", json={"username": "u", "password": "p"})
    agents.api.put(
        f"/vault/{wrong_origin}", json={"username": "u", "password": "p", "origins": ["https://crm.example"]}
    )
    agents.goto("vault-login.html")

    def fill(key: str) -> Callable[[Seen], dict]:
        return lambda seen: tool("fill_secret", key=key, passwordElement=element_id(seen, "textbox", "pass"))

    model_server.script(
        model, fill(outside), fill(wrong_origin), tool("done", success=False, answer="no login")
    )
    body = agents.execute({"call": "stagehand.agent.execute", "args": ["Sign in", {"model": model}]})
    operation = agents.wait(body["operation"]["id"])
    first, second, _done = operation["result"]["actions"]
    assert first["ok"] is False and first["error"].startswith("vault.forbidden")
    assert second["ok"] is False and second["error"].startswith("vault.origin_mismatch")
    assert operation["result"]["success"] is False
    # The model was told what failed, so it could stop.
    assert "vault.forbidden" in model_server.seen(model)[1].prompt
    for key in (outside, wrong_origin):
        agents.api.delete(f"/vault/{key}")


def test_an_agent_cannot_fill_a_page_its_caller_scripted(
    agents: AgentWorkspace, agent_engine: EngineProcess, model_server: ModelServer, model: str
) -> None:
    """The agent loop is under vault.fill's use-without-read rules: an operator who planted a
    listener first gets `vault.document_tainted`, and the page never gets the secret."""
    key = f"{agents.vault_prefix}/tainted-{uuid.uuid4().hex[:6]}"
    origin = f"http://{urlsplit(agents.site.url).netloc}"
    agents.api.put(f"/vault/{key}", json={"username": "u", "password": "pw-tainted", "origins": [origin]})
    model_server.script(
        model,
        lambda seen: tool("fill_secret", key=key, passwordElement=element_id(seen, "textbox", "pass")),
        tool("done", success=False, answer="could not sign in"),
    )
    with agent_engine.client("operator") as operator:

        def execute(*steps: dict) -> dict:
            response = operator.post(
                f"/workspaces/{agents.id}/execute", json={"runtime": "agent", "steps": list(steps)}
            )
            assert response.status_code == 200, response.text
            return response.json()

        planted = execute(
            {"call": "page.goto", "args": [f"{agents.site.url}/vault-login.html"]},
            {
                "call": "page.evaluate",
                "args": [
                    "document.querySelector('#pass').addEventListener('input', e => { window.got = e.target.value })"
                ],
            },
        )
        assert planted["status"] == "succeeded", planted["steps"][-1]["error"]
        started = execute({"call": "stagehand.agent.execute", "args": ["Sign in", {"model": model}]})
        operation = agents.wait(started["operation"]["id"])
        first = operation["result"]["actions"][0]
        assert first["ok"] is False and first["error"].startswith("vault.document_tainted"), first
        assert (
            execute({"call": "page.evaluate", "args": ["window.got ?? null"]})["steps"][0]["result"] is None
        )
    agents.api.delete(f"/vault/{key}")
