"""stagehand.act / extract / observe against a scripted model, with real Chromium and the suite's pages.

The scripted model reads the prompt the engine built (the page snapshot) to find the element id
it wants, as a real model would: a test passes only if the snapshot names the right elements.
"""

import re

import httpx
import pytest

from tests.engine.conftest import AgentWorkspace
from tests.support.model_server import ModelServer, Seen, element_id, tool


@pytest.mark.parametrize("provider", ["openai", "anthropic", "google"])
def test_act_clicks_the_right_button(
    agents: AgentWorkspace, model_server: ModelServer, credentials: dict, model: str, provider: str
) -> None:
    agents.goto("agent-act.html")
    model_server.script(model, lambda seen: tool("click", element=element_id(seen, "button", "Save")))
    body = agents.execute(
        {
            "call": "stagehand.act",
            "args": ["Save the draft", {"auth": {"credential": credentials[provider]["id"]}, "model": model}],
        },
        {"call": "page.textContent", "args": ["#status"]},
    )
    assert body["status"] == "succeeded", body
    result = body["steps"][0]["result"]
    assert result["success"] is True and result["action"]["method"] == "click"
    assert result["action"]["selector"] == "#save" and "Save" in result["description"]
    assert result["usage"]["requests"] == 1 and result["usage"]["inputTokens"] > 0
    assert body["steps"][1]["result"] == "saved"
    (seen,) = model_server.seen(model)
    assert seen.provider == provider and seen.api_key == credentials[provider]["key"]
    assert "Save the draft" in seen.prompt and "click" in seen.tools


def test_act_reports_an_action_the_page_refused(
    agents: AgentWorkspace, model_server: ModelServer, model: str
) -> None:
    agents.goto("agent-act.html")
    # A button is no text field: the act runs, reports the failure, and says why.
    model_server.script(
        model, lambda seen: tool("fill", element=element_id(seen, "button", "Save"), value="x")
    )
    body = agents.execute({"call": "stagehand.act", "args": ["Type x", {"model": model}]})
    result = body["steps"][0]["result"]
    assert body["status"] == "succeeded" and result["success"] is False
    assert result["description"].startswith("could not fill")


def test_a_navigation_the_egress_policy_refuses_is_reported_as_a_blocked_navigation(
    agents: AgentWorkspace, model_server: ModelServer, model: str
) -> None:
    agents.goto("agent-act.html")
    model_server.script(model, lambda seen: tool("navigate", url="file:///etc/passwd"))
    refused = agents.execute({"call": "stagehand.act", "args": ["Open the file", {"model": model}]})
    result = refused["steps"][0]["result"]
    assert result["success"] is False and "file: scheme" in result["description"], result
    events = agents.api.get(
        f"/workspaces/{agents.id}/runtimes/agent/events",
        params={"eventTypes": "navigation.blocked", "limit": 500},
    ).json()["events"]
    assert any(e["eventData"]["url"] == "file:///etc/passwd" for e in events), events
    # about:blank is a page the policy allows, as `page.goto` does.
    model_server.script(model, lambda seen: tool("navigate", url="about:blank"))
    opened = agents.execute({"call": "stagehand.act", "args": ["Open a blank page", {"model": model}]})
    assert opened["steps"][0]["result"]["success"] is True, opened


PRODUCTS_SCHEMA = {
    "type": "object",
    "properties": {
        "products": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "price": {"type": "number"}},
                "required": ["name", "price"],
            },
        }
    },
    "required": ["products"],
}


def _products_from(seen: Seen, price_type: type = float) -> dict:
    """What a model reading the page would answer: the table rows as the prompt shows them."""
    rows = [
        line.removeprefix("| ").split(" | ") for line in seen.prompt.splitlines() if line.startswith("| ")
    ]
    return {"data": {"products": [{"name": name, "price": price_type(price)} for name, price in rows[1:]]}}


def test_extract_returns_data_that_validates_against_a_schema(
    agents: AgentWorkspace, model_server: ModelServer, model: str
) -> None:
    agents.goto("agent-products.html")
    model_server.script(
        model,
        lambda seen: tool("extract", **_products_from(seen, str)),  # prices as strings: not the schema
        lambda seen: tool("extract", **_products_from(seen)),
    )
    body = agents.execute(
        {"call": "stagehand.extract", "args": ["The products and prices", PRODUCTS_SCHEMA, {"model": model}]}
    )
    assert body["status"] == "succeeded", body
    assert body["steps"][0]["result"] == {
        "products": [{"name": "Kettle", "price": 24.5}, {"name": "Toaster", "price": 31.0}]
    }
    first, retry = model_server.seen(model)
    assert "did not match" not in first.prompt
    assert "did not match the requested schema" in retry.prompt
    assert re.search(r"products/[01]/price: .24\.50.|products/[01]/price: .31\.00.", retry.prompt)


def test_extract_fails_after_a_second_answer_that_does_not_validate(
    agents: AgentWorkspace, model_server: ModelServer, model: str
) -> None:
    agents.goto("agent-products.html")
    wrong = tool("extract", data={"products": "two of them"})
    model_server.script(model, wrong, wrong)
    body = agents.execute(
        {"call": "stagehand.extract", "args": ["The products", PRODUCTS_SCHEMA, {"model": model}]}
    )
    assert body["status"] == "failed"
    assert body["steps"][0]["error"]["code"] == "agent.invalid_output"
    assert len(model_server.seen(model)) == 2


def test_extract_without_a_schema_answers_an_extraction(
    agents: AgentWorkspace, model_server: ModelServer, model: str
) -> None:
    agents.goto("agent-products.html")
    model_server.script(model, tool("extract", data={"extraction": "Kettle and Toaster"}))
    body = agents.execute({"call": "stagehand.extract", "args": ["What is sold?", None, {"model": model}]})
    assert body["steps"][0]["result"] == {"extraction": "Kettle and Toaster"}


def test_a_schema_that_is_not_json_schema_is_refused_before_anything_runs(
    agents: AgentWorkspace, agent_api: httpx.Client
) -> None:
    response = agent_api.post(
        f"/workspaces/{agents.id}/execute",
        json={"runtime": "agent", "steps": [{"call": "stagehand.extract", "args": ["x", {"type": 12}]}]},
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"][0]["path"] == "steps.0.args.1"


def test_observe_lists_candidates_whose_selectors_work(
    agents: AgentWorkspace, model_server: ModelServer, model: str
) -> None:
    agents.goto("agent-act.html")
    model_server.script(
        model,
        lambda seen: tool(
            "report_candidates",
            candidates=[
                {
                    "element": element_id(seen, "button", "Save"),
                    "description": "Save the draft",
                    "method": "click",
                },
                {
                    "element": element_id(seen, "button", "Discard"),
                    "description": "Throw it away",
                    "method": "click",
                },
            ],
        ),
    )
    body = agents.execute(
        {"call": "stagehand.observe", "args": ["Buttons that end editing", {"model": model}]}
    )
    assert body["steps"][0]["result"] == [
        {"selector": "#save", "description": "Save the draft", "method": "click", "args": []},
        {"selector": "#discard", "description": "Throw it away", "method": "click", "args": []},
    ]
    # observe does not act; its selectors are usable as they are.
    after = agents.execute(
        {"call": "page.textContent", "args": ["#status"]},
        {"call": "page.click", "args": ["#discard"]},
        {"call": "page.textContent", "args": ["#status"]},
    )
    assert [s["result"] for s in after["steps"]] == ["", None, "discarded"]


def test_a_model_that_names_no_element_on_the_page_is_invalid_output(
    agents: AgentWorkspace, model_server: ModelServer, model: str
) -> None:
    agents.goto("agent-act.html")
    model_server.script(model, tool("click", element="e99999"))
    body = agents.execute({"call": "stagehand.act", "args": ["Save", {"model": model}]})
    assert body["steps"][0]["error"]["code"] == "agent.invalid_output"


def test_help_lists_the_agent_calls(agents: AgentWorkspace, agent_api: httpx.Client) -> None:
    calls = {c["name"]: c for c in agent_api.get(f"/workspaces/{agents.id}/help").json()["calls"]}
    assert calls["stagehand.agent.execute"]["longRunning"] is True
    assert calls["browserUse.agent.execute"]["longRunning"] is True
    assert [a["name"] for a in calls["browserUse.agent.execute"]["args"]] == ["task", "config"]
    for name in ("stagehand.act", "stagehand.extract", "stagehand.observe"):
        assert calls[name]["longRunning"] is False and calls[name]["result"]
    assert [a["name"] for a in calls["stagehand.extract"]["args"]] == ["instruction", "schema", "options"]
