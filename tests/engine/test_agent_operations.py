"""The two `*.agent.execute` calls as operations: real loops against a scripted model and Chromium.

A run completes a three-screen sign-up form (fill the name, Next, choose a plan, Continue,
Confirm, done): the operation's progress advances step by step, its result lists the actions,
its trace keeps every model request, and the updates stream tells it in order. Then the ways a
run ends early: cancel, a provider 500, a provider that does not answer, a malformed tool call;
after each the runtime still works.
"""

import json
import threading
import time
from typing import Any

import httpx
import pytest

from tests.engine.conftest import AgentWorkspace
from tests.support.engine_process import EngineProcess
from tests.support.model_server import ModelServer, element_id, error, malformed, slow, tool
from tests.support.updates import newest_update

WIZARD_REPLIES = (
    lambda seen: tool("fill", element=element_id(seen, "textbox", "Name"), value="Ada"),
    lambda seen: tool("click", element=element_id(seen, "button", "Next")),
    lambda seen: tool("select", element=element_id(seen, "combobox", "Plan"), values=["Pro"]),
    lambda seen: tool("click", element=element_id(seen, "button", "Continue")),
    lambda seen: tool("click", element=element_id(seen, "button", "Confirm")),
    lambda seen: tool("done", success=True, answer="Signed up Ada on Pro"),
)


def _start(agents: AgentWorkspace, call: str, task: str, config: dict[str, Any]) -> dict[str, Any]:
    body = agents.execute({"call": call, "args": [task, config]})
    assert body["status"] == "succeeded", body
    operation = body["operation"]
    assert body["steps"][0]["result"] == {"operationId": operation["id"]}
    assert operation["call"] == call and operation["runtime"] == "agent"
    return operation


def _read_stream(
    api: httpx.Client, after: int, operation_id: str, out: list[dict], done: threading.Event
) -> None:
    """Collect the operation's updates from the SSE stream until its final status arrives."""
    with api.stream("GET", "/updates/stream", params={"after": after}, timeout=90) as response:
        event: dict[str, str] = {}
        for line in response.iter_lines():
            if line.startswith(":"):
                continue
            if line:
                field, _, value = line.partition(": ")
                event[field] = value
                continue
            if "data" in event:
                update = json.loads(event["data"])
                if update["data"].get("id") == operation_id:
                    out.append(update)
                    if update["type"] in ("operation.succeeded", "operation.failed", "operation.cancelled"):
                        done.set()
                        return
            event = {}


@pytest.mark.parametrize(
    ("call", "provider"), [("stagehand.agent.execute", "openai"), ("stagehand.agent.execute", "anthropic")]
)
def test_an_agent_completes_a_three_screen_form_as_an_operation(
    agents: AgentWorkspace,
    agent_engine: EngineProcess,
    model_server: ModelServer,
    credentials: dict,
    model: str,
    call: str,
    provider: str,
) -> None:
    agents.goto("agent-wizard.html")
    start = newest_update(agents.api)
    streamed: list[dict] = []
    finished = threading.Event()
    with agent_engine.client("read", timeout=90) as reader:
        stream = threading.Thread(
            target=lambda: _read_stream(reader, start, operation["id"], streamed, finished), daemon=True
        )
        model_server.script(model, *WIZARD_REPLIES)
        operation = _start(
            agents,
            call,
            "Sign up as Ada on the Pro plan",
            {"auth": {"credential": credentials[provider]["id"]}, "model": model, "maxSteps": 10},
        )
        stream.start()
        assert operation["status"] in ("queued", "running") and operation["progress"]["totalSteps"] == 10
        ended = agents.wait(operation["id"])
        assert finished.wait(30), streamed

    assert ended["status"] == "succeeded", ended
    assert ended["progress"]["step"] == 6 and ended["progress"]["lastEventType"] == "agent.step"
    result = ended["result"]
    assert result["success"] is True and result["completed"] is True
    assert result["answer"] == "Signed up Ada on Pro"
    assert [a["action"]["method"] for a in result["actions"][:5]] == [
        "fill",
        "click",
        "select",
        "click",
        "click",
    ]
    assert all(a["ok"] for a in result["actions"]) and result["actions"][-1]["method"] == "done"
    assert result["usage"]["requests"] == 6 and result["usage"]["totalTokens"] > 0
    assert result["provider"] == provider and result["model"] == model
    page = agents.execute({"call": "page.textContent", "args": ["#result"]})
    assert page["steps"][0]["result"] == "Welcome Ada on Pro"

    # Each step is a runtime event and a progress update; the stream tells the run in order.
    events = agents.api.get(
        f"/workspaces/{agents.id}/runtimes/agent/events", params={"eventTypes": "agent.step", "limit": 500}
    ).json()["events"]
    mine = [e for e in events if e["operationId"] == operation["id"]]
    assert [e["eventData"]["step"] for e in mine] == [1, 2, 3, 4, 5, 6]
    assert mine[0]["eventData"]["action"] == "fill"
    types = [u["type"] for u in streamed]
    assert types[0] == "operation.created" and types[1] == "operation.started"
    assert types[2:-1] == ["operation.progress"] * 6 and types[-1] == "operation.succeeded"
    assert [u["id"] for u in streamed] == sorted(u["id"] for u in streamed)

    trace = agents.api.get(f"/operations/{operation['id']}/trace").json()
    assert [e["step"] for e in trace["entries"]] == [1, 2, 3, 4, 5, 6]
    first = trace["entries"][0]
    assert (
        "Sign up as Ada on the Pro plan" in first["request"]["prompt"]
        and "(none yet)" in first["request"]["prompt"]
    )
    assert first["response"]["toolCalls"][0]["name"] == "fill" and first["outcome"]["ok"] is True
    assert "filled" in trace["entries"][1]["request"]["prompt"]  # the history the model saw
    assert "Your plan" in trace["entries"][2]["request"]["prompt"]  # the second screen
    assert first["provider"] == provider and first["usage"]["inputTokens"] > 0


def test_cancel_stops_a_run_mid_step_and_the_runtime_still_works(
    agents: AgentWorkspace, model_server: ModelServer, model: str
) -> None:
    agents.goto("agent-wizard.html")
    model_server.script(
        model,
        lambda seen: tool("fill", element=element_id(seen, "textbox", "Name"), value="Ada"),
        slow(60),  # the model "thinks" for a minute: cancel must not wait for it
    )
    operation = _start(agents, "stagehand.agent.execute", "Sign up", {"model": model})
    deadline = time.monotonic() + 30
    while len(model_server.seen(model)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(model_server.seen(model)) == 2
    cancelled = agents.api.post(f"/operations/{operation['id']}/cancel").json()
    assert cancelled["status"] in ("cancelling", "cancelled")
    # "Within a second" is the promise; the wait allows more so a loaded machine cannot fail it,
    # while the model's minute-long answer could never fit.
    ended = agents.wait(operation["id"], timeout_ms=10_000)
    assert ended["status"] == "cancelled" and ended["error"]["code"] == "operation.cancelled"
    assert [a["action"]["method"] for a in ended["result"]["actions"]] == ["fill"]
    after = agents.execute({"call": "page.inputValue", "args": ["#name"]}, {"call": "page.title"})
    assert [s["result"] for s in after["steps"]] == ["Ada", "Sign-up wizard"]


def test_stopping_the_runtime_ends_its_agent_operation_at_once(
    agents: AgentWorkspace, model_server: ModelServer, model: str
) -> None:
    launched = agents.api.post(f"/workspaces/{agents.id}/runtimes", json={"alias": "stoppable"})
    assert launched.status_code == 200, launched.text
    agents.goto("agent-wizard.html", runtime="stoppable")
    model_server.script(
        model,
        lambda seen: tool("fill", element=element_id(seen, "textbox", "Name"), value="Ada"),
        slow(60),  # the loop waits for the model: only the stop can end it before a minute
    )
    body = agents.execute(
        {"call": "stagehand.agent.execute", "args": ["Sign up", {"model": model}]}, runtime="stoppable"
    )
    operation = body["operation"]
    deadline = time.monotonic() + 30
    while len(model_server.seen(model)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(model_server.seen(model)) == 2
    stopped = agents.api.post(f"/workspaces/{agents.id}/runtimes/stoppable/stop")
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    # The stop waited for the operation to record its end: it is over as the stop answers.
    ended = agents.api.get(f"/operations/{operation['id']}").json()
    assert ended["status"] == "failed", ended
    assert ended["error"]["code"] == "runtime.not_active"
    assert "stopped (requested)" in ended["error"]["message"]
    assert [a["action"]["method"] for a in ended["result"]["actions"]] == ["fill"]


@pytest.mark.parametrize(
    ("reply", "config", "code"),
    [
        (error(500, "upstream exploded"), {"maxRetries": 1}, "agent.provider_error"),
        (slow(5), {"requestTimeoutMs": 300, "maxRetries": 0}, "agent.timeout"),
        (malformed("click"), {}, "agent.invalid_output"),
    ],
    ids=["provider-500", "provider-timeout", "malformed-tool-call"],
)
def test_a_failing_model_ends_the_operation_failed_and_the_runtime_still_works(
    agents: AgentWorkspace,
    model_server: ModelServer,
    model: str,
    reply: dict,
    config: dict,
    code: str,
) -> None:
    agents.goto("agent-act.html")
    model_server.script(model, reply, reply)
    operation = _start(agents, "stagehand.agent.execute", "Save the draft", {"model": model, **config})
    ended = agents.wait(operation["id"])
    assert ended["status"] == "failed" and ended["error"]["code"] == code, ended
    assert ended["result"]["actions"] == [] and ended["result"]["completed"] is False
    if code == "agent.provider_error":
        # the status, never the body: whatever answers at a baseUrl is not echoed
        assert "HTTP 500" in ended["error"]["message"] and "upstream exploded" not in str(ended)
        assert len(model_server.seen(model)) == 2  # one retry, as configured
    trace = agents.api.get(f"/operations/{operation['id']}/trace").json()["entries"]
    assert trace[-1]["error"]["code"] == code
    after = agents.execute(
        {"call": "page.click", "args": ["#save"]}, {"call": "page.textContent", "args": ["#status"]}
    )
    assert after["steps"][1]["result"] == "saved"


def test_max_steps_without_done_fails_with_the_actions_taken(
    agents: AgentWorkspace, model_server: ModelServer, model: str
) -> None:
    agents.goto("agent-act.html")
    scroll = tool("scroll", direction="down")
    model_server.script(model, scroll, scroll)
    operation = _start(agents, "stagehand.agent.execute", "Keep scrolling", {"model": model, "maxSteps": 2})
    ended = agents.wait(operation["id"])
    assert ended["status"] == "failed" and ended["error"]["code"] == "agent.max_steps"
    assert [a["action"]["method"] for a in ended["result"]["actions"]] == ["scroll", "scroll"]


def test_a_long_running_call_must_be_the_last_step(agents: AgentWorkspace) -> None:
    response = agents.api.post(
        f"/workspaces/{agents.id}/execute",
        json={
            "runtime": "agent",
            "steps": [{"call": "stagehand.agent.execute", "args": ["x"]}, {"call": "page.title"}],
        },
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "step.invalid_args"
    assert "last step" in response.json()["error"]["message"]
