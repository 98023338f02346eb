"""Workspace pages against the real engine."""

import uuid

import httpx
from django.test import Client

from dashboard.audit.models import AuditEntry


def test_it_lists_workspaces_from_the_api(viewer_client: Client, api: httpx.Client) -> None:
    name = f"listed-{uuid.uuid4().hex[:6]}"
    api.post("/workspaces", json={"name": name})
    response = viewer_client.get("/workspaces/", {"q": name})
    assert response.status_code == 200
    assert name in response.content.decode()


def test_it_renders_only_the_table_for_htmx(viewer_client: Client) -> None:
    response = viewer_client.get("/workspaces/", {"q": "zzz-none"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert 'id="workspace-table"' in body and "<html" not in body
    assert "No workspace matches" in body


def test_it_creates_a_workspace_and_audits_it(operator_client: Client, api: httpx.Client) -> None:
    name = f"made-{uuid.uuid4().hex[:6]}"
    response = operator_client.post("/workspaces/new/", {"name": name, "idempotency_key": uuid.uuid4().hex})
    assert response.status_code == 302
    listed = api.get("/workspaces", params={"q": name}).json()["workspaces"]
    assert len(listed) == 1
    entry = AuditEntry.objects.get(action="workspace.create")
    assert entry.username == "oscar" and entry.outcome == "succeeded" and entry.target_id == listed[0]["id"]


def test_a_double_submit_creates_one_workspace(operator_client: Client, api: httpx.Client) -> None:
    name = f"twice-{uuid.uuid4().hex[:6]}"
    key = uuid.uuid4().hex
    for _ in range(2):
        operator_client.post("/workspaces/new/", {"name": name, "idempotency_key": key})
    assert len(api.get("/workspaces", params={"q": name}).json()["workspaces"]) == 1


def test_a_viewer_cannot_create(viewer_client: Client, api: httpx.Client) -> None:
    name = f"denied-{uuid.uuid4().hex[:6]}"
    response = viewer_client.post("/workspaces/new/", {"name": name})
    assert response.status_code == 403
    assert api.get("/workspaces", params={"q": name}).json()["workspaces"] == []


def test_it_shows_an_api_outage_as_a_state(viewer_client: Client, settings) -> None:
    from dashboard.bctrl.client import reset_clients
    from tests.support.engine_process import free_port

    settings.BCTRL_API_URL = f"http://127.0.0.1:{free_port()}/v1"
    reset_clients()
    response = viewer_client.get("/workspaces/")
    assert response.status_code == 200
    assert "could not be reached" in response.content.decode()


def test_it_requires_login(client: Client) -> None:
    response = client.get("/workspaces/")
    assert response.status_code == 302 and "/login/" in response["Location"]
