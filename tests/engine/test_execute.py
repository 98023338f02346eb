"""Execute over real HTTP: steps run in one real Chromium against the suite's own site.

One runtime serves the whole module (launching a browser per test would dominate the run);
each test starts by navigating, so none depends on another's page state.
"""

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.site import TestSite as Site
from tests.support.workspaces import new_workspace


@pytest.fixture(scope="module")
def workspace_id(client: httpx.Client) -> Iterator[str]:
    # module-wide, with its runtime `runner`: one Chromium for the module's tests, not one each
    with new_workspace(client, "execute tests", runtime="runner") as workspace_id:
        yield workspace_id


def execute(client: httpx.Client, workspace_id: str, *steps: dict, **body: object) -> httpx.Response:
    return client.post(
        f"/workspaces/{workspace_id}/execute", json={"runtime": "runner", "steps": list(steps), **body}
    )


def test_it_fills_and_submits_a_form(client: httpx.Client, workspace_id: str, site: Site) -> None:
    response = execute(
        client,
        workspace_id,
        {"call": "page.goto", "args": [f"{site.url}/form.html"]},
        {"call": "page.fill", "args": ["#name", "Ann"]},
        {"call": "page.check", "args": ["#agree"]},
        {"call": "page.selectOption", "args": ["#color", "blue"]},
        {"call": "page.click", "args": ["#submit"]},
        {"call": "page.textContent", "args": ["#out"]},
        {"call": "page.inputValue", "args": ["#color"]},
        {"call": "page.querySelectorAll", "args": [".item", {"attributes": ["data-id"]}]},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "succeeded" and body["operation"] is None
    assert [s["result"] for s in body["steps"][5:]] == [
        "Hi Ann",
        "blue",
        [{"text": "One", "attributes": {"data-id": "1"}}, {"text": "Two", "attributes": {"data-id": "2"}}],
    ]


def test_it_opens_a_bound_page_and_acts_on_it_by_ref(
    client: httpx.Client, workspace_id: str, site: Site
) -> None:
    body = execute(
        client,
        workspace_id,
        {"call": "context.newPage", "bind": "second"},
        {"call": "page.goto", "args": [f"{site.url}/index.html"], "ref": "second"},
        {"call": "page.title", "ref": "second"},
        {"call": "page.close", "ref": "second"},
    ).json()
    assert body["steps"][0]["binding"]["alias"] == "second"
    assert body["steps"][2]["result"] == "Test home"
    missing = execute(client, workspace_id, {"call": "page.title", "ref": "second"}).json()
    assert missing["steps"][0]["error"]["code"] == "step.invalid_ref"


def test_it_refuses_an_unknown_call_before_running_anything(client: httpx.Client, workspace_id: str) -> None:
    response = execute(client, workspace_id, {"call": "page.url"}, {"call": "page.teleport", "args": []})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "step.unknown_call"
    assert error["details"]["fields"][0]["path"] == "steps.1.call"


def test_it_refuses_arguments_of_the_wrong_shape(client: httpx.Client, workspace_id: str) -> None:
    response = execute(
        client, workspace_id, {"call": "page.fill", "args": ["#name"]}, {"call": "page.goto", "args": [42]}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "step.invalid_args"
    assert [f["path"] for f in error["details"]["fields"]] == ["steps.0.args", "steps.1.args.0"]


def test_it_stops_at_the_first_failing_step(client: httpx.Client, workspace_id: str, site: Site) -> None:
    body = execute(
        client,
        workspace_id,
        {"call": "page.goto", "args": [f"{site.url}/form.html"]},
        {"call": "page.click", "args": ["#not-there"], "options": {"timeoutMs": 300}},
        {"call": "page.evaluate", "args": ["window.reached = true"]},
    ).json()
    assert body["status"] == "failed"
    assert [s["ok"] for s in body["steps"]] == [True, False]
    assert body["steps"][1]["error"]["code"] == "step.timeout"
    assert (
        execute(client, workspace_id, {"call": "page.evaluate", "args": ["window.reached"]}).json()["steps"][
            0
        ]["result"]
        is None
    )


def test_it_refuses_options_it_does_not_know_and_names_them(client: httpx.Client, workspace_id: str) -> None:
    response = execute(
        client,
        workspace_id,
        {"call": "page.url"},
        {"call": "page.click", "args": ["#x"], "options": {"timeout": 500, "retries": 2, "timeoutMs": 500}},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "request.invalid"
    assert {f["path"] for f in error["details"]["fields"]} == {
        "steps.1.options.timeout",
        "steps.1.options.retries",
    }
    assert "steps.1.options.timeout" in error["message"]


def test_it_runs_a_public_request_whose_steps_name_their_script(
    client: httpx.Client, workspace_id: str, site: Site
) -> None:
    """What a client of the public reference sends: options.scriptId / scriptName label the steps."""
    labels = {"scriptId": "checkout-v2", "scriptName": "Checkout, happy path"}
    response = execute(
        client,
        workspace_id,
        {"call": "page.goto", "args": [f"{site.url}/index.html"], "options": {**labels, "timeoutMs": 10_000}},
        {"call": "page.title", "args": [], "options": labels},
        mode="fail-fast",
        idempotencyKey=f"public-{uuid.uuid4()}",
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "succeeded"
    events = client.get(
        f"/workspaces/{workspace_id}/runtimes/runner/events",
        params={"eventTypes": "step.finished", "limit": 500},
    ).json()["events"]
    labelled = [e["eventData"] for e in events if e["eventData"].get("scriptId") == "checkout-v2"]
    assert [(d["call"], d["scriptName"]) for d in labelled] == [
        ("page.goto", "Checkout, happy path"),
        ("page.title", "Checkout, happy path"),
    ]


def test_it_honours_each_steps_own_timeout_and_names_what_it_waited_for(
    client: httpx.Client, workspace_id: str, site: Site
) -> None:
    body = execute(
        client,
        workspace_id,
        {"call": "page.goto", "args": [f"{site.url}/form.html"]},
        {"call": "page.waitForSelector", "args": ["#never-there"], "options": {"timeoutMs": 250}},
    ).json()
    step = body["steps"][1]
    assert step["error"]["code"] == "step.timeout"
    # The budget in the message is the step's own, not the 30 s default.
    assert "within 250 ms" in step["error"]["message"] and "'#never-there'" in step["error"]["message"]


def test_it_reports_a_browser_error_as_a_failed_step(client: httpx.Client, workspace_id: str) -> None:
    body = execute(
        client, workspace_id, {"call": "page.evaluate", "args": ["(() => { throw new Error('nope') })()"]}
    ).json()
    assert body["steps"][0]["error"]["code"] == "step.failed"
    assert "nope" in body["steps"][0]["error"]["message"]


def test_it_times_out_a_step_without_a_timeout_of_its_own(client: httpx.Client, workspace_id: str) -> None:
    body = execute(
        client, workspace_id, {"call": "page.waitForTimeout", "args": [5000], "options": {"timeoutMs": 100}}
    ).json()
    assert body["steps"][0]["error"]["code"] == "step.timeout"


def test_a_dry_run_validates_without_acting(client: httpx.Client, workspace_id: str, site: Site) -> None:
    execute(client, workspace_id, {"call": "page.goto", "args": [f"{site.url}/form.html"]})
    body = execute(
        client,
        workspace_id,
        {"call": "page.goto", "args": [f"{site.url}/index.html"], "options": {"dryRun": True}},
    ).json()
    assert body["steps"][0]["ok"] is True
    assert (
        execute(client, workspace_id, {"call": "page.url"})
        .json()["steps"][0]["result"]
        .endswith("/form.html")
    )


def test_it_captures_console_lines_when_asked(client: httpx.Client, workspace_id: str) -> None:
    step = {"call": "page.evaluate", "args": ["console.warn('careful')"], "options": {"logs": "capture"}}
    body = execute(client, workspace_id, step).json()
    assert {"level": "warning", "text": "careful"} in body["steps"][0]["logs"]


def test_it_replays_an_execute_with_the_same_idempotency_key(client: httpx.Client, workspace_id: str) -> None:
    key = uuid.uuid4().hex
    count = {"call": "page.evaluate", "args": ["window.count = (window.count || 0) + 1"]}
    first = execute(client, workspace_id, count, idempotencyKey=key).json()
    again = execute(client, workspace_id, count, idempotencyKey=key)
    assert again.json() == first and again.headers["Idempotent-Replayed"] == "true"
    assert (
        execute(client, workspace_id, {"call": "page.evaluate", "args": ["window.count"]}).json()["steps"][0][
            "result"
        ]
        == first["steps"][0]["result"]
    )
    conflict = execute(client, workspace_id, {"call": "page.url"}, idempotencyKey=key)
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "idempotency.conflict"


def test_it_answers_404_for_an_unknown_runtime(client: httpx.Client, workspace_id: str) -> None:
    response = client.post(
        f"/workspaces/{workspace_id}/execute", json={"runtime": "ghost", "steps": [{"call": "page.url"}]}
    )
    assert response.status_code == 404 and response.json()["error"]["code"] == "runtime.not_found"


def test_it_stores_a_screenshot_as_an_artifact(client: httpx.Client, workspace_id: str, site: Site) -> None:
    body = execute(
        client,
        workspace_id,
        {"call": "page.goto", "args": [f"{site.url}/index.html"]},
        {"call": "page.screenshot", "args": [{"name": "home"}]},
    ).json()
    result = body["steps"][1]["result"]
    assert result["contentType"] == "image/png" and result["name"] == "home.png"
    artifact = result["artifact"]
    assert artifact["kind"] == "screenshot" and artifact["runtime"] == "runner"
    assert artifact["sizeBytes"] == result["sizeBytes"] > 0


def test_help_describes_each_call(client: httpx.Client, workspace_id: str) -> None:
    calls = client.get(f"/workspaces/{workspace_id}/help", params={"runtime": "runner"}).json()["calls"]
    names = {c["name"] for c in calls}
    assert {"page.goto", "page.fill", "context.newPage", "page.screenshot"} <= names
    assert {"stagehand.act", "stagehand.agent.execute", "browserUse.agent.execute"} <= names
    goto = client.get(f"/workspaces/{workspace_id}/help", params={"call": "page.goto"}).json()["calls"]
    assert goto[0]["args"][0] == {"name": "url", "type": "string", "required": True, "description": ""}
    assert goto[0]["ref"] == "page" and goto[0]["longRunning"] is False
    unknown = client.get(f"/workspaces/{workspace_id}/help", params={"call": "page.fly"})
    assert unknown.status_code == 404
