"""Operation pages. The list, its empty state, a missing operation and a real agent run's trace
run against the real engine (its agent talks to the suite's scripted model server).

Operation states an agent run would take long to reach (a running one with a given progress, a
cancel that fails) are shown against contract-shaped operations served by httpx.MockTransport
(the fault-free fake the conventions allow for states we cannot cause quickly).
"""

import html
import json
import uuid
from typing import Any

import httpx
import pytest
from django.test import Client

from dashboard.audit.models import AuditEntry
from dashboard.bctrl.client import use_transport
from tests.support.model_server import ModelServer, element_id, tool
from tests.support.site import TestSite

WORKSPACE_ID = str(uuid.uuid4())


def _operation(status: str = "running", **changes: Any) -> dict[str, Any]:
    body = {
        "id": str(uuid.uuid4()),
        "workspaceId": WORKSPACE_ID,
        "runtime": "shop",
        "call": "stagehand.agent.execute",
        "status": status,
        "progress": {
            "step": 3,
            "totalSteps": 8,
            "currentCall": "page.click",
            "lastEventType": "page.navigated",
            "message": "Opening the cart",
        },
        "result": None,
        "error": None,
        "createdAt": "2026-11-28T12:00:00.000Z",
        "startedAt": "2026-11-28T12:00:01.000Z",
        "finishedAt": None,
    }
    body.update(changes)
    return body


class FakeOperations:
    """An API that knows some operations and records every cancel it is asked for."""

    def __init__(self, *operations: dict[str, Any]) -> None:
        self.operations = {o["id"]: o for o in operations}
        self.cancelled: list[str] = []
        self.trace_status, self.trace_code = 404, "request.not_found"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.rstrip("/").split("/")  # /v1/operations/<id>[/cancel]
        if parts[2] == "workspaces":
            workspace = {
                "id": WORKSPACE_ID,
                "name": "Checkout team",
                "mounts": {},
                "runtimeCount": 1,
                "activeRuntimeCount": 1,
            }
            return httpx.Response(200, json={"workspaces": [workspace], "nextCursor": None})
        if len(parts) == 3:
            listed = [
                o for o in self.operations.values() if request.url.params.get("status") in (None, o["status"])
            ]
            return httpx.Response(200, json={"operations": listed, "nextCursor": "next-page"})
        if parts[-1] == "trace":
            # The trace is the engine's own route: a hosted API answers it like any unknown path,
            # unless a test sets trace_status to make it fail another way.
            return httpx.Response(
                self.trace_status,
                json={
                    "error": {"code": self.trace_code, "message": "No.", "details": None},
                    "requestId": "r",
                },
            )
        operation = self.operations.get(parts[3]) if len(parts) > 3 else None
        if operation is None:
            return httpx.Response(
                404,
                json={
                    "error": {
                        "code": "operation.not_found",
                        "message": "Operation does not exist.",
                        "details": None,
                    },
                    "requestId": "req_fake404",
                },
            )
        if parts[-1] == "cancel" and request.method == "POST":
            self.cancelled.append(operation["id"])
            operation["status"] = "cancelling"
        return httpx.Response(200, json=operation, headers={"X-Request-Id": "req_fake"})


@pytest.fixture
def fake() -> FakeOperations:
    api = FakeOperations(
        _operation("running"),
        _operation("succeeded", result={"answer": 42}, finishedAt="2026-11-28T12:01:00.000Z"),
        _operation(
            "failed",
            error={
                "code": "agent.gave_up",
                "message": "The agent could not find the cart.",
                "details": {"steps": 8},
            },
        ),
    )
    use_transport(httpx.MockTransport(api))
    return api


def _by_status(fake: FakeOperations, status: str) -> dict[str, Any]:
    return next(o for o in fake.operations.values() if o["status"] == status)


def test_it_shows_the_empty_state(viewer_client: Client) -> None:
    response = viewer_client.get("/operations/")
    assert response.status_code == 200
    assert "No operations yet" in response.content.decode()


def test_it_filters_by_workspace_and_status(viewer_client: Client, workspace: dict) -> None:
    response = viewer_client.get(
        "/operations/", {"workspace": workspace["id"], "status": "running"}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="operation-table"' in body and "<html" not in body
    assert "No operations match these filters" in body


def test_it_lists_operations_with_their_workspace_and_a_next_page(
    viewer_client: Client, fake: FakeOperations
) -> None:
    response = viewer_client.get("/operations/", {"status": "running"})
    body = response.content.decode()
    running = _by_status(fake, "running")
    assert response.status_code == 200
    assert f'href="/operations/{running["id"]}/"' in body and "Checkout team" in body
    assert body.count("badge-running") == 1 and "Opening the cart" in body
    assert "cursor=next-page" in body


def test_it_renders_a_missing_operation_as_a_state(viewer_client: Client) -> None:
    response = viewer_client.get(f"/operations/{uuid.uuid4()}/")
    body = response.content.decode()
    assert response.status_code == 404
    assert "no longer exists" in body and "Request id" in body


def test_it_shows_progress_and_refreshes_on_its_live_updates_while_running(
    viewer_client: Client, fake: FakeOperations
) -> None:
    operation = _by_status(fake, "running")
    response = viewer_client.get(f"/operations/{operation['id']}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Opening the cart" in body and "page.click" in body and "3 of 8" in body
    # the relay's updates about this operation (dashboard/live) make the region reload itself
    assert f'hx-trigger="live:operation-{operation["id"]} from:body"' in body


def test_it_stops_refreshing_a_finished_operation_and_shows_its_result(
    viewer_client: Client, fake: FakeOperations
) -> None:
    operation = _by_status(fake, "succeeded")
    response = viewer_client.get(f"/operations/{operation['id']}/", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert 'id="operation-status"' in body and "<html" not in body
    assert "live:operation-" not in body
    assert html.escape(json.dumps({"answer": 42}, indent=2)) in body
    assert "Cancel operation" not in body


def test_it_shows_an_operation_error(viewer_client: Client, fake: FakeOperations) -> None:
    operation = _by_status(fake, "failed")
    body = viewer_client.get(f"/operations/{operation['id']}/").content.decode()
    assert "The agent could not find the cart." in body and "agent.gave_up" in body


def test_an_operator_cancels_with_confirmation(operator_client: Client, fake: FakeOperations) -> None:
    operation = _by_status(fake, "running")
    page = operator_client.get(f"/operations/{operation['id']}/").content.decode()
    assert "data-confirm=" in page and "Cancel operation" in page
    response = operator_client.post(f"/operations/{operation['id']}/cancel/", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert fake.cancelled == [operation["id"]]
    assert "cancelling" in body and 'id="toasts"' in body
    entry = AuditEntry.objects.get(action="operation.cancel")
    assert entry.username == "oscar" and entry.target_id == operation["id"] and entry.outcome == "succeeded"


def test_a_viewer_cannot_cancel(viewer_client: Client, fake: FakeOperations) -> None:
    operation = _by_status(fake, "running")
    page = viewer_client.get(f"/operations/{operation['id']}/").content.decode()
    assert "/cancel/" not in page and "needs the operator role" in page
    response = viewer_client.post(f"/operations/{operation['id']}/cancel/")
    assert response.status_code == 403
    assert fake.cancelled == []
    assert not AuditEntry.objects.filter(action="operation.cancel").exists()


def test_a_failed_cancel_is_audited_and_shown(operator_client: Client, api: httpx.Client) -> None:
    missing = str(uuid.uuid4())
    response = operator_client.post(f"/operations/{missing}/cancel/", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 404
    assert "Could not cancel" in body
    entry = AuditEntry.objects.get(action="operation.cancel")
    assert entry.outcome == "failed" and entry.status == 404 and entry.request_id


def test_it_shows_a_real_agent_runs_trace(
    viewer_client: Client, api: httpx.Client, model_server: ModelServer, site: TestSite
) -> None:
    credential = f"console-{uuid.uuid4().hex[:6]}"
    model = f"console-trace-{uuid.uuid4().hex[:6]}"
    api.post(
        "/ai-credentials",
        json={
            "id": credential,
            "provider": "anthropic",
            "label": "scripted",
            "apiKey": "sk-console-test",
            "baseUrl": model_server.base_url("anthropic"),
            "defaultModel": model,
        },
    )
    workspace = api.post(
        "/workspaces", json={"name": "traced", "mounts": {"ai": {"allow": [credential]}}}
    ).json()
    try:
        assert (
            api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "traced"}).status_code == 200
        )
        model_server.script(
            model,
            lambda seen: tool("click", element=element_id(seen, "button", "Save")),
            tool("done", success=True, answer="saved"),
        )
        steps = [
            {"call": "page.goto", "args": [f"{site.url}/agent-act.html"]},
            {
                "call": "stagehand.agent.execute",
                "args": ["Save the draft", {"auth": {"credential": credential}}],
            },
        ]
        body = api.post(
            f"/workspaces/{workspace['id']}/execute", json={"runtime": "traced", "steps": steps}
        ).json()
        operation_id = body["operation"]["id"]
        assert (
            api.post(f"/operations/{operation_id}/wait", json={"timeoutMs": 60_000}).json()["timedOut"]
            is False
        )

        page = viewer_client.get(f"/operations/{operation_id}/").content.decode()
        assert "Agent trace" in page and page.count("What the model saw") == 2
        assert (
            html.escape('click(element="e') in page
            and html.escape('done(success=true, answer="saved")') in page
        )
        assert "clicked [e" in page and "Save the draft" in page and "sk-console-test" not in page
    finally:
        api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})
        api.delete(f"/ai-credentials/{credential}")


def test_a_trace_that_cannot_be_loaded_leaves_the_operation_shown(
    viewer_client: Client, fake: FakeOperations
) -> None:
    fake.trace_status, fake.trace_code = 503, "server.unavailable"
    operation = _by_status(fake, "succeeded")
    body = viewer_client.get(f"/operations/{operation['id']}/").content.decode()
    assert html.escape(json.dumps({"answer": 42}, indent=2)) in body
    assert "Agent trace" in body and "Retry" in body
