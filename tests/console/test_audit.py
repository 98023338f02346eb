"""The audit log page: admins only, filters, keyset pages, empty state, no secrets."""

import uuid

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import Client

from dashboard.audit.models import AuditEntry
from tests.support.html import link_query

pytestmark = pytest.mark.database  # run again on PostgreSQL (bin/test)


def _entry(
    username: str = "oscar", action: str = "workspace.create", outcome: str = "succeeded", **kw
) -> AuditEntry:
    return AuditEntry.objects.create(username=username, action=action, outcome=outcome, **kw)


def test_it_shows_an_empty_state(admin_client: Client) -> None:
    body = admin_client.get("/audit/").content.decode()
    assert "Nothing has been changed through the console yet." in body


def test_it_shows_what_the_console_did(
    admin_client: Client, operator_client: Client, api: httpx.Client
) -> None:
    name = f"audited-{uuid.uuid4().hex[:6]}"
    operator_client.post("/workspaces/new/", {"name": name})
    body = admin_client.get("/audit/").content.decode()
    assert "<code>workspace.create</code>" in body and "oscar" in body and "succeeded" in body
    # the target by its name (the id stays in the entry, as the name's title)
    entry = AuditEntry.objects.get(action="workspace.create")
    assert f'<span title="{entry.target_id}">{name}</span>' in body


def test_it_shows_failures_with_the_request_id(admin_client: Client) -> None:
    _entry(outcome="failed", status=409, request_id="req_abc123", message="Conflict.")
    body = admin_client.get("/audit/").content.decode()
    assert "failed" in body and "req_abc123" in body and "409" in body


def test_it_filters_by_user_action_and_outcome(admin_client: Client) -> None:
    _entry("oscar", "workspace.create", target_id="ws-one")
    _entry("alice", "user.create", target_id="user-two")
    _entry("oscar", "workspace.delete", "failed", target_id="ws-three")
    by_user = admin_client.get("/audit/", {"user": "alice"}).content.decode()
    assert "user-two" in by_user and "ws-one" not in by_user
    by_action = admin_client.get("/audit/", {"action": "workspace.delete"}).content.decode()
    assert "ws-three" in by_action and "ws-one" not in by_action
    by_outcome = admin_client.get("/audit/", {"outcome": "failed", "user": "oscar"}).content.decode()
    assert "ws-three" in by_outcome and "ws-one" not in by_outcome


def test_a_filter_that_matches_nothing_offers_a_way_back(admin_client: Client) -> None:
    _entry()
    body = admin_client.get("/audit/", {"user": "nobody"}).content.decode()
    assert "No entry matches these filters." in body and 'href="/audit/"' in body


def test_it_pages_from_newest_to_oldest(admin_client: Client) -> None:
    for n in range(60):
        _entry(target_id=f"target-{n:02}")
    first = admin_client.get("/audit/").content.decode()
    assert "target-59" in first and "target-10" in first and "target-09" not in first
    older = int(link_query(first, "Older")["before"])
    second = admin_client.get("/audit/", {"before": older}).content.decode()
    assert "target-09" in second and "target-00" in second and "target-10" not in second
    assert "before=" not in second  # the oldest page has no "Older" link


def test_htmx_gets_only_the_table(admin_client: Client) -> None:
    _entry()
    body = admin_client.get("/audit/", {"user": "oscar"}, headers={"HX-Request": "true"}).content.decode()
    assert 'id="audit-table"' in body and "<html" not in body


def test_user_admin_actions_are_audited(admin_client: Client, vera: User) -> None:
    admin_client.post(
        "/users/new/", {"username": "nina", "role": "viewer", "password": "a long enough passphrase"}
    )
    admin_client.post(f"/users/{vera.pk}/role/", {"role": "operator"})
    body = admin_client.get("/audit/").content.decode()
    assert "<code>user.create</code>" in body and "<code>user.role</code>" in body
    assert "a long enough passphrase" not in body


def test_operators_and_viewers_cannot_read_it(operator_client: Client, viewer_client: Client) -> None:
    _entry(target_id="hidden-target")
    for client in (operator_client, viewer_client):
        response = client.get("/audit/")
        assert response.status_code == 403 and "hidden-target" not in response.content.decode()
