"""browserUse.agent.execute runs browser-use's own Agent (the PyPI package) against the runtime,
through the CDP gateway's rules, with a scripted model speaking OpenAI's structured output."""

import re
import time
import uuid
from typing import Any

from tests.engine.conftest import AgentWorkspace
from tests.support.engine_process import EngineProcess
from tests.support.model_server import ModelServer, Seen, output, slow


def index(seen: Seen, pattern: str) -> int:
    """The element index browser-use showed the model for the element matching `pattern`."""
    match = re.search(r"\[(\d+)\]<" + pattern, seen.prompt.split("<browser_state>")[-1])
    if match is None:
        raise AssertionError(f"no element {pattern!r} in the prompt:\n{seen.prompt[-3000:]}")
    return int(match.group(1))


def act(*actions: dict[str, Any]) -> dict[str, Any]:
    return output(
        {
            "thinking": "scripted",
            "evaluation_previous_goal": "ok",
            "memory": "",
            "next_goal": "go on",
            "action": list(actions),
        }
    )


WIZARD = (
    lambda seen: act({"input": {"index": index(seen, r"input id=name"), "text": "Ada"}}),
    lambda seen: act({"click": {"index": index(seen, r"button />\s*Next")}}),
    lambda seen: act({"select_dropdown": {"index": index(seen, r"select id=plan"), "text": "Pro"}}),
    lambda seen: act({"click": {"index": index(seen, r"button />\s*Continue")}}),
    lambda seen: act({"click": {"index": index(seen, r"button id=confirm")}}),
    lambda seen: act({"done": {"text": "Signed up Ada on Pro", "success": True}}),
)


def config(agents: AgentWorkspace, model: str, model_server: ModelServer) -> dict[str, Any]:
    key = {"apiKey": "sk-browser-use-test", "provider": "openai", "baseUrl": model_server.base_url("openai")}
    return {"model": model, "auth": key, "maxSteps": 10}


def test_browser_use_completes_a_three_screen_form(
    agents: AgentWorkspace, model_server: ModelServer, model: str
) -> None:
    agents.goto("agent-wizard.html")
    model_server.script(model, *WIZARD)
    body = agents.execute(
        {
            "call": "browserUse.agent.execute",
            "args": ["Sign up Ada on Pro", config(agents, model, model_server)],
        }
    )
    assert body["status"] == "succeeded", body
    operation = agents.wait(body["operation"]["id"], timeout_ms=120_000)
    assert operation["status"] == "succeeded", operation
    assert operation["result"]["success"] is True and operation["result"]["answer"] == "Signed up Ada on Pro"
    text = agents.execute({"call": "page.textContent", "args": ["#result"]})["steps"][0]["result"]
    assert text == "Welcome Ada on Pro"
    seen = model_server.seen(model)
    assert seen and all("response_format" in s.body for s in seen)  # browser-use's own wire
    trace = agents.api.get(f"/operations/{operation['id']}/trace").json()
    entries = trace.get("entries") or trace.get("items") or trace
    assert len(entries) >= 5
    assert operation["progress"]["step"] >= 5


def test_cancel_ends_a_browser_use_run_mid_request(
    agents: AgentWorkspace, model_server: ModelServer, model: str
) -> None:
    agents.goto("agent-wizard.html")
    model_server.script(model, WIZARD[0], slow(60))  # the model "thinks" for a minute on step 2
    body = agents.execute(
        {"call": "browserUse.agent.execute", "args": ["Sign up Ada", config(agents, model, model_server)]}
    )
    operation = body["operation"]
    deadline = time.monotonic() + 60
    while len(model_server.seen(model)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(model_server.seen(model)) == 2
    assert agents.api.post(f"/operations/{operation['id']}/cancel").json()["status"] in (
        "cancelling",
        "cancelled",
    )
    # "Within a second" is the promise; the wait allows more so a loaded machine cannot fail it,
    # while the model's minute-long answer could never fit.
    ended = agents.wait(operation["id"], timeout_ms=10_000)
    assert ended["status"] == "cancelled" and ended["error"]["code"] == "operation.cancelled", ended
    assert ended["progress"]["step"] == 1 and ended["progress"]["currentCall"] == "input"
    after = agents.execute({"call": "page.inputValue", "args": ["#name"]}, {"call": "page.title"})
    assert [s["result"] for s in after["steps"]] == ["Ada", "Sign-up wizard"]


def test_after_a_vault_fill_an_operators_model_gets_no_picture_and_no_value(
    agents: AgentWorkspace, agent_engine: EngineProcess, model_server: ModelServer, model: str
) -> None:
    """The operator's model may be its own server (`baseUrl`). Once the vault typed a password
    into the runtime and the login's answer page shows it, browser-use reads that page through the
    gateway with the value replaced, and sends no screenshot (a picture is beyond replacing).
    (A page browser-use scripted is not filled afterwards: the look before any fill is on a runtime
    of its own.)"""
    password = f"pw-{uuid.uuid4().hex[:12]}"
    key = f"{agents.vault_prefix}/echo"
    login = {"username": "ada", "password": password, "origins": [agents.site.url]}
    assert agents.api.put(f"/vault/{key}", json=login).status_code == 200
    for alias in ("unfilled", "echoer"):
        created = agents.api.post(f"/workspaces/{agents.id}/runtimes", json={"alias": alias})
        assert created.status_code == 200, created.text
    look = {
        "call": "browserUse.agent.execute",
        "args": ["Say what the page shows", config(agents, model, model_server)],
    }
    try:
        with agent_engine.client("operator", timeout=120) as operator:

            def run(runtime: str, *steps: dict[str, Any]) -> dict[str, Any]:
                body: dict[str, Any] = operator.post(
                    f"/workspaces/{agents.id}/execute", json={"runtime": runtime, "steps": list(steps)}
                ).json()
                assert body["status"] == "succeeded", body
                return body

            def looked(runtime: str) -> bytes:
                model_server.script(model, lambda _seen: act({"done": {"text": "seen", "success": True}}))
                before = len(model_server.seen(model))
                operation = run(runtime, look)["operation"]
                assert agents.wait(operation["id"], timeout_ms=120_000)["status"] == "succeeded"
                return b"".join(seen.raw for seen in model_server.seen(model)[before:])

            echo_page = {"call": "page.goto", "args": [f"{agents.site.url}/vault-login-echo.html"]}
            run("unfilled", echo_page)
            assert b"image_url" in looked("unfilled")  # without a fill the model gets the page's picture
            run(
                "echoer",
                echo_page,
                {
                    "call": "vault.fill",
                    "args": [key, {"usernameSelector": "#user", "passwordSelector": "#pass"}],
                },
                {"call": "page.click", "args": ["#go"]},
                {"call": "page.waitForURL", "args": ["**/echo"]},
                {"call": "page.waitForSelector", "args": ["#fetched:has-text('done')"]},
            )
            after = looked("echoer")
    finally:
        for alias in ("unfilled", "echoer"):
            agents.api.post(f"/workspaces/{agents.id}/runtimes/{alias}/stop")
        agents.api.delete(f"/vault/{key}")
    assert b"image_url" not in after and password.encode() not in after
    assert b"[secret]" in after  # the answer page was read, with the value replaced
