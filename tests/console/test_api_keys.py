"""The API keys page (admins): the console's key marked and kept, a new key's secret shown once."""

import httpx
from django.test import Client

from dashboard.audit.models import AuditEntry
from tests.support.engine_process import EngineProcess
from tests.support.html import elements, link_query, region, row, text


def _keys(api: httpx.Client) -> dict[str, dict]:
    return {k["id"]: k for k in api.get("/api-keys", params={"limit": 500}).json()["apiKeys"]}


def test_it_lists_the_keys_and_marks_the_consoles_own(admin_client: Client, api: httpx.Client) -> None:
    console_key = api.get("/auth/whoami").json()["apiKey"]
    newest = api.post("/api-keys", json={"name": "listed newest", "scope": "read"}).json()["apiKey"]
    body = admin_client.get("/api-keys/").content.decode()
    said = region(body, "console-key")
    assert console_key["name"] in said and console_key["id"] in said and "cannot be revoked from here" in said
    assert f'action="/api-keys/{newest["id"]}/revoke/"' in body and "listed newest" in body
    # the console's own key, wherever it is listed, is marked and has no revoke form
    cursor = None
    while True:
        page = admin_client.get("/api-keys/", {"cursor": cursor} if cursor else {}).content.decode()
        table = region(page, "api-key-table")
        if console_key["id"] in table:
            own = row(table, console_key["id"])
            break
        cursor = link_query(table, "Next page")["cursor"]
    assert "the console uses it" in own and "/revoke/" not in own


def test_a_new_key_is_shown_once_and_works(
    admin_client: Client, engine: EngineProcess, api: httpx.Client
) -> None:
    response = admin_client.post("/api-keys/new/", {"name": "nightly export", "scope": "read"})
    body = response.content.decode()
    assert response.status_code == 201 and "no-store" in response["Cache-Control"]
    secret = text(region(body, "new-key-secret"))
    assert secret.startswith("bctrl_") and "shown this once" in body
    with httpx.Client(base_url=f"{engine.url}/v1", headers={"Authorization": f"Bearer {secret}"}) as ci:
        assert ci.get("/auth/whoami").json()["apiKey"]["name"] == "nightly export"
    # never again: not on the page, not in the audit log
    assert secret not in admin_client.get("/api-keys/").content.decode()
    entry = AuditEntry.objects.get(action="api_key.create")
    assert entry.target_name == "nightly export" and secret not in str(entry.__dict__)


def test_it_revokes_a_key(admin_client: Client, engine: EngineProcess, api: httpx.Client) -> None:
    created = api.post("/api-keys", json={"name": "to revoke", "scope": "operator"}).json()
    key_id = created["apiKey"]["id"]
    response = admin_client.post(f"/api-keys/{key_id}/revoke/", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200 and "Revoked to revoke" in body and "badge-stopped" in body
    assert _keys(api)[key_id]["revokedAt"] is not None
    with httpx.Client(
        base_url=f"{engine.url}/v1", headers={"Authorization": f"Bearer {created['secret']}"}
    ) as c:
        assert c.get("/workspaces").status_code == 401
    assert AuditEntry.objects.get(action="api_key.revoke").target_name == "to revoke"


def test_the_console_will_not_revoke_its_own_key(admin_client: Client, api: httpx.Client) -> None:
    own = api.get("/auth/whoami").json()["apiKey"]["id"]
    response = admin_client.post(f"/api-keys/{own}/revoke/", headers={"HX-Request": "true"})
    assert response.status_code == 409 and "the console&#x27;s own key" in response.content.decode()
    assert _keys(api)[own]["revokedAt"] is None
    assert AuditEntry.objects.get(action="api_key.revoke").outcome == "denied"


def test_only_admins(operator_client: Client, viewer_client: Client, api: httpx.Client) -> None:
    for client in (operator_client, viewer_client):
        assert client.get("/api-keys/").status_code == 403
        assert client.post("/api-keys/new/", {"name": "x", "scope": "admin"}).status_code == 403
    assert not [k for k in _keys(api).values() if k["name"] == "x"]
    assert not [
        nav for nav in elements(operator_client.get("/").content.decode(), "nav") if "API keys" in nav
    ]


def test_a_team_key_is_made_and_shown_as_one(admin_client: Client, api: httpx.Client) -> None:
    response = admin_client.post("/api-keys/new/", {"name": "second console", "scope": "admin", "team": "on"})
    assert response.status_code == 201
    made = next(k for k in api.get("/api-keys").json()["apiKeys"] if k["name"] == "second console")
    assert made["team"] is True
    assert "team key: the engine's own" in response.content.decode()
    api.delete(f"/api-keys/{made['id']}")
