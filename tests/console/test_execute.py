"""The step runner against the real engine: compose or paste steps, run them, see each result."""

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from django.test import AsyncClient, Client

from dashboard.audit.models import AuditEntry
from tests.console.runtime_support import LiveRuntime, live_runtime
from tests.support import site as served
from tests.support.engine_process import EngineProcess
from tests.support.html import attribute


@pytest.fixture(scope="module")
def live(engine: EngineProcess) -> Iterator[LiveRuntime]:
    with live_runtime(engine, "runner") as runtime:
        yield runtime


def _run(client: Client, live: LiveRuntime, data: dict) -> tuple[int, str]:
    response = client.post(
        f"{live.url}execute/", {"idempotency_key": uuid.uuid4().hex, **data}, headers={"HX-Request": "true"}
    )
    return response.status_code, response.content.decode()


def _step_events(api: httpx.Client, live: LiveRuntime) -> int:
    events = api.get(f"{live.api_path}/events", params={"eventTypes": "step.started", "limit": 500}).json()
    return len(events["events"])


def test_it_runs_composed_steps_and_shows_each_result(
    operator_client: Client, live: LiveRuntime, site: served.TestSite
) -> None:
    status, body = _run(
        operator_client,
        live,
        {
            "source": "builder",
            "step-0-call": "page.goto",
            "step-0-arg-0": f"{site.url}/index.html",
            "step-0-arg-0-type": "string",
            "step-1-call": "page.textContent",
            "step-1-arg-0": "#title",
            "step-1-arg-0-type": "string",
        },
    )
    assert status == 200
    assert 'id="step-results"' in body and "<html" not in body
    assert "badge-succeeded" in body and body.count("badge-ok") == 2
    assert "page.goto" in body and "page.textContent" in body
    assert "Hello from the test site" in body and " ms</span>" in body
    assert "2 step(s) succeeded." in body
    entry = AuditEntry.objects.get(action="runtime.execute")
    assert entry.username == "oscar" and entry.outcome == "succeeded" and "page.textContent" in entry.message


def test_a_step_result_names_the_download_it_set_off(
    operator_client: Client, live: LiveRuntime, site: served.TestSite
) -> None:
    steps = [
        {"call": "page.goto", "args": [f"{site.url}/download.html"]},
        {"call": "page.click", "args": ["#get"]},
    ]
    status, body = _run(operator_client, live, {"source": "json", "steps_json": json.dumps(steps)})
    assert status == 200
    assert "Started a download: <strong>report.bin</strong>" in body and "kind=download" in body


def test_it_runs_pasted_json_steps(operator_client: Client, live: LiveRuntime, site: served.TestSite) -> None:
    steps = [{"call": "page.goto", "args": [f"{site.url}/form.html"]}, {"call": "page.title", "args": []}]
    status, body = _run(operator_client, live, {"source": "json", "steps_json": json.dumps(steps)})
    assert status == 200
    assert "Test form" in body and "badge-succeeded" in body


def test_it_shows_a_failing_step_and_stops_there(
    operator_client: Client, live: LiveRuntime, site: served.TestSite
) -> None:
    steps = [
        {"call": "page.goto", "args": [f"{site.url}/index.html"]},
        {"call": "page.textContent", "args": ["#missing"], "options": {"timeoutMs": 300}},
        {"call": "page.title", "args": []},
    ]
    status, body = _run(operator_client, live, {"source": "json", "steps_json": json.dumps(steps)})
    assert status == 200
    assert "badge-failed" in body and "badge-error" in body
    # fail-fast: the third step never ran, and the runner says so
    assert 'page.title</strong> <span class="badge">skipped</span>' in body
    # the timeout names what the step waited for
    assert "within 300 ms (waiting for selector &#x27;#missing&#x27;)" in body
    assert "A step failed" in body


@pytest.mark.django_db(transaction=True)
async def test_it_shows_a_screenshot_inline_served_by_the_console(
    oscar, live: LiveRuntime, site: served.TestSite
) -> None:
    # The async test client, because the image route streams its body.
    client = AsyncClient()
    await client.aforce_login(oscar)
    steps = [
        {"call": "page.goto", "args": [f"{site.url}/index.html"]},
        {"call": "page.screenshot", "args": []},
    ]
    response = await client.post(
        f"{live.url}execute/",
        {"source": "json", "steps_json": json.dumps(steps), "idempotency_key": uuid.uuid4().hex},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert response.status_code == 200
    src = attribute(body, "img.screenshot", "src")
    assert src.startswith("/artifacts/") and src.endswith("/content/")
    image = await client.get(src)
    content = b"".join([chunk async for chunk in image.streaming_content])
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert content.startswith(b"\x89PNG")


def test_it_refuses_steps_that_are_not_a_json_array(
    operator_client: Client, api: httpx.Client, live: LiveRuntime
) -> None:
    before = _step_events(api, live)
    status, body = _run(operator_client, live, {"source": "json", "steps_json": '{"call": "page.title"'})
    assert status == 422
    assert "not valid JSON" in body
    assert _step_events(api, live) == before


def test_the_same_key_runs_the_steps_once(
    operator_client: Client, api: httpx.Client, live: LiveRuntime
) -> None:
    before = _step_events(api, live)
    data = {
        "source": "json",
        "steps_json": '[{"call": "page.title", "args": []}]',
        "idempotency_key": uuid.uuid4().hex,
    }
    for _ in range(2):
        response = operator_client.post(f"{live.url}execute/", data, headers={"HX-Request": "true"})
        assert response.status_code == 200
    assert _step_events(api, live) == before + 1


def test_each_run_hands_out_a_fresh_key(operator_client: Client, live: LiveRuntime) -> None:
    status, body = _run(
        operator_client, live, {"source": "json", "steps_json": '[{"call": "page.url", "args": []}]'}
    )
    assert status == 200
    assert 'id="execute-key-builder"' in body and 'hx-swap-oob="true"' in body


def test_choosing_a_call_returns_its_argument_inputs(operator_client: Client, live: LiveRuntime) -> None:
    response = operator_client.get(
        f"{live.url}steps/row/", {"row": 3, "step-3-call": "page.fill"}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="step-row-3"' in body and 'name="step-3-arg-0"' in body and 'name="step-3-arg-1"' in body
    assert 'value="page.fill" selected' in body


def test_choosing_a_call_redraws_only_its_arguments_not_the_picker(
    operator_client: Client, live: LiveRuntime
) -> None:
    response = operator_client.get(
        f"{live.url}steps/row/",
        {"row": 2, "part": "args", "step-2-call": "page.goto"},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert 'name="step-2-arg-0"' in body and 'id="step-2-call"' not in body and "<fieldset" not in body


def test_a_vault_key_is_chosen_from_the_keys_the_runtime_may_use(
    operator_client: Client, api: httpx.Client, live: LiveRuntime
) -> None:
    def key_input() -> str:
        return operator_client.get(
            f"{live.url}steps/row/",
            {"row": 0, "part": "args", "step-0-call": "vault.fill"},
            headers={"HX-Request": "true"},
        ).content.decode()

    assert "No vault entry is allowed to this runtime" in key_input()
    tag = uuid.uuid4().hex[:6]
    api.put(f"/vault/picker-{tag}/crm", json={"username": "u", "password": "p"})
    api.put(f"/vault/other-{tag}/crm", json={"username": "u", "password": "p"})
    api.patch(f"/workspaces/{live.workspace_id}", json={"mounts": {"vault": {"allow": [f"picker-{tag}/"]}}})
    try:
        body = key_input()  # the running runtime follows its workspace: the new prefix is offered
        assert f'<option value="picker-{tag}/crm">' in body and f"other-{tag}" not in body
        assert '<select id="step-0-arg-0" name="step-0-arg-0"' in body
    finally:
        api.patch(f"/workspaces/{live.workspace_id}", json={"mounts": {}})
        api.delete(f"/vault/picker-{tag}/crm")
        api.delete(f"/vault/other-{tag}/crm")


def test_adding_a_step_returns_a_blank_row_and_the_next_add_button(
    operator_client: Client, live: LiveRuntime
) -> None:
    response = operator_client.get(
        f"{live.url}steps/row/", {"row": 1, "add": 1}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert 'id="step-row-1"' in body and 'name="step-1-call"' in body
    assert 'id="add-step"' in body and "row=2&add=1" in body and 'hx-swap-oob="true"' in body


def test_the_runner_lists_the_catalogue(operator_client: Client, live: LiveRuntime) -> None:
    body = operator_client.get(live.url).content.decode()
    for call in ("page.goto", "page.textContent", "page.screenshot"):
        assert f'<option value="{call}">' in body


def test_a_viewer_cannot_run_steps(viewer_client: Client, api: httpx.Client, live: LiveRuntime) -> None:
    before = _step_events(api, live)
    status, _ = _run(
        viewer_client, live, {"source": "json", "steps_json": '[{"call": "page.title", "args": []}]'}
    )
    assert status == 403
    assert viewer_client.get(f"{live.url}steps/row/", {"row": 0}).status_code == 403
    assert _step_events(api, live) == before
    assert not AuditEntry.objects.filter(action="runtime.execute").exists()


def test_a_builder_row_sets_its_own_timeout(
    operator_client: Client, live: LiveRuntime, site: served.TestSite
) -> None:
    status, body = _run(
        operator_client,
        live,
        {
            "source": "builder",
            "step-0-call": "page.goto",
            "step-0-arg-0": f"{site.url}/index.html",
            "step-0-arg-0-type": "string",
            "step-1-call": "page.waitForSelector",
            "step-1-arg-0": "#never",
            "step-1-arg-0-type": "string",
            "step-1-timeout": "250",
        },
    )
    assert status == 200 and "within 250 ms (waiting for selector &#x27;#never&#x27;)" in body
    # and the run as code carries it as the contract's option
    assert "&quot;timeoutMs&quot;: 250" in body


def test_a_bad_timeout_is_refused_before_anything_runs(operator_client: Client, live: LiveRuntime) -> None:
    status, body = _run(
        operator_client,
        live,
        {"source": "builder", "step-0-call": "page.title", "step-0-timeout": "soon"},
    )
    assert status == 422 and "the timeout is milliseconds" in body


def test_an_unknown_option_is_refused_by_the_engine_naming_it(
    operator_client: Client, live: LiveRuntime
) -> None:
    steps = [{"call": "page.title", "options": {"timeout": 500}}]
    status, body = _run(operator_client, live, {"source": "json", "steps_json": json.dumps(steps)})
    assert status == 400 and "steps.0.options.timeout" in body


def test_a_failed_run_is_audited_as_failed_and_can_screenshot_the_page(
    operator_client: Client, live: LiveRuntime, site: served.TestSite
) -> None:
    steps = [
        {"call": "page.goto", "args": [f"{site.url}/index.html"]},
        {"call": "page.click", "args": ["#missing"], "options": {"timeoutMs": 200}},
    ]
    status, body = _run(
        operator_client,
        live,
        {"source": "json", "steps_json": json.dumps(steps), "screenshot_on_failure": "1"},
    )
    assert status == 200 and "The page when the step failed" in body
    assert 'alt="Screenshot of the page after the failed step"' in body and "/artifacts/" in body
    entry = AuditEntry.objects.get(action="runtime.execute")
    assert entry.outcome == "failed" and "step 2 page.click failed" in entry.message
    assert entry.target_name.endswith(f"/ {live.alias}")


def test_a_run_comes_as_curl_python_and_json_without_the_key(
    operator_client: Client, live: LiveRuntime, settings
) -> None:
    steps = [{"call": "page.title"}]
    status, body = _run(operator_client, live, {"source": "json", "steps_json": json.dumps(steps)})
    assert status == 200
    execute_url = f"{settings.BCTRL_API_URL}/workspaces/{live.workspace_id}/execute"
    assert f"curl -X POST &quot;{execute_url}&quot;" in body and "$BCTRL_API_KEY" in body
    assert "import httpx" in body and "os.environ[" in body and "&#x27;page.title&#x27;" in body
    assert 'data-download="steps.json"' in body and 'name="from_run"' in body
    assert settings.BCTRL_API_KEY not in body
