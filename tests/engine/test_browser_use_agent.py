"""browserUse.agent.execute runs browser-use's own Agent (the PyPI package) against the runtime,
through the CDP gateway's rules, with a scripted model speaking OpenAI's structured output."""

import re
import time
from typing import Any

from tests.engine.conftest import AgentWorkspace
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
