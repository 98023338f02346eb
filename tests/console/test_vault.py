"""Vault pages against the real engine: the tree, entries, TOTP, reveal, and secrets never in a page."""

import html
import uuid

import httpx
import pyotp
import pytest
from django.test import Client

from dashboard.audit.models import AuditEntry
from tests.support.html import element, text

PASSWORD = "Tr0ub4dor&3-never-in-html"  # the '&' checks the escaped form as well as the raw one
SEED = pyotp.random_base32()


def _in_page(secret: str, body: str) -> bool:
    return secret in body or html.escape(secret) in body


@pytest.fixture
def folder(api: httpx.Client) -> str:
    """A fresh top-level folder, emptied after the test."""
    name = f"t{uuid.uuid4().hex[:8]}"
    yield name
    for entry in api.get("/vault", params={"prefix": f"{name}/", "limit": 500}).json()["entries"]:
        api.delete(f"/vault/{entry['key']}")


def _put(api: httpx.Client, key: str, **fields: object) -> dict:
    body = {"username": "bob", "password": PASSWORD, **fields}
    response = api.put(f"/vault/{key}", json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


def _form(**fields: str) -> dict[str, str]:
    return {
        "idempotency_key": uuid.uuid4().hex,
        "username": "bob",
        "label": "",
        "match_origins": "",
        "notes": "",
        **fields,
    }


def test_it_creates_an_entry_whose_secrets_no_page_shows(
    admin_client: Client, api: httpx.Client, folder: str
) -> None:
    key = f"{folder}/crm/admin"
    response = admin_client.post(
        "/vault/new/",
        _form(
            key=key,
            password=PASSWORD,
            totp=SEED,
            label="CRM admin",
            match_origins="https://crm.example.com\nhttps://*.example.com",
        ),
    )
    assert response.status_code == 302, response.content.decode()
    stored = api.get(f"/vault/{key}").json()
    assert stored["hasPassword"] and stored["hasTotp"] and stored["origins"] == ["https://crm.example.com"]
    assert stored["originPatterns"] == ["https://*.example.com"]
    for url in ("/vault/", f"/vault/?prefix={folder}/crm/", f"/vault/entry/{key}", f"/vault/edit/{key}"):
        response = admin_client.get(url)
        body = response.content.decode()
        assert response.status_code == 200 and (folder in body or "admin" in body), url
        assert not _in_page(PASSWORD, body) and SEED not in body, url
    entry = AuditEntry.objects.get(action="vault.entry.create")
    assert entry.target_id == key and entry.outcome == "succeeded"
    assert PASSWORD not in entry.message and SEED not in entry.message


def test_it_reveals_the_password_once_to_an_admin_and_audits_it_without_the_value(
    admin_client: Client, api: httpx.Client, folder: str
) -> None:
    key = f"{folder}/mail"
    _put(api, key, totp=SEED)
    assert "Reveal secrets" in admin_client.get(f"/vault/entry/{key}").content.decode()
    response = admin_client.post(f"/vault/reveal/{key}", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200 and _in_page(PASSWORD, body) and SEED in body
    assert "no-store" in response["Cache-Control"]
    entry = AuditEntry.objects.get(action="vault.reveal")
    assert entry.target_id == key and entry.username == "alice"
    assert all(PASSWORD not in str(value) for value in entry.__dict__.values())
    assert not _in_page(PASSWORD, admin_client.get(f"/vault/entry/{key}").content.decode())


@pytest.mark.parametrize("persona", ["operator_client", "viewer_client"])
def test_only_admins_may_reveal(
    persona: str, request: pytest.FixtureRequest, api: httpx.Client, folder: str
) -> None:
    client: Client = request.getfixturevalue(persona)
    key = f"{folder}/mail"
    _put(api, key)
    assert "Reveal secrets" not in client.get(f"/vault/entry/{key}").content.decode()
    response = client.post(f"/vault/reveal/{key}", headers={"HX-Request": "true"})
    assert response.status_code == 403 and not _in_page(PASSWORD, response.content.decode())
    assert not AuditEntry.objects.filter(action="vault.reveal").exists()


def test_an_edit_with_blank_secrets_keeps_them(admin_client: Client, api: httpx.Client, folder: str) -> None:
    key = f"{folder}/shop"
    _put(api, key, totp=SEED, label="old")
    form = admin_client.get(f"/vault/edit/{key}").content.decode()
    assert 'placeholder="unchanged"' in form and not _in_page(PASSWORD, form)
    response = admin_client.post(f"/vault/edit/{key}", _form(label="new", password="", totp=""))
    assert response.status_code == 302, response.content.decode()
    revealed = api.post(f"/vault/{key}/reveal").json()
    assert revealed["password"] == PASSWORD and revealed["totp"] == SEED
    assert api.get(f"/vault/{key}").json()["label"] == "new"


def test_an_edit_with_a_new_password_replaces_it(
    admin_client: Client, api: httpx.Client, folder: str
) -> None:
    key = f"{folder}/shop"
    _put(api, key)
    admin_client.post(f"/vault/edit/{key}", _form(password="a-new-one"))
    assert api.post(f"/vault/{key}/reveal").json()["password"] == "a-new-one"
    assert AuditEntry.objects.get(action="vault.entry.update").outcome == "succeeded"


def test_an_edit_may_remove_the_totp_seed(admin_client: Client, api: httpx.Client, folder: str) -> None:
    key = f"{folder}/otp"
    _put(api, key, totp=SEED)
    admin_client.post(f"/vault/edit/{key}", _form(remove_totp="on"))
    assert api.get(f"/vault/{key}").json()["hasTotp"] is False
    assert api.post(f"/vault/{key}/reveal").json()["password"] == PASSWORD


def test_it_shows_a_bad_key_next_to_the_field(admin_client: Client, api: httpx.Client, folder: str) -> None:
    response = admin_client.post(
        "/vault/new/", _form(key=f"{folder}//bad key", password="x"), headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 422 and 'id="vault-form"' in body and "field-error" in body
    assert api.get("/vault", params={"prefix": f"{folder}/"}).json()["entries"] == []


def test_a_create_does_not_overwrite_an_existing_entry(
    admin_client: Client, api: httpx.Client, folder: str
) -> None:
    key = f"{folder}/taken"
    _put(api, key)
    response = admin_client.post(
        "/vault/new/", _form(key=key, password="other"), headers={"HX-Request": "true"}
    )
    assert response.status_code == 422 and "already exists" in response.content.decode()
    assert api.post(f"/vault/{key}/reveal").json()["password"] == PASSWORD


def test_it_shows_folders_from_keys(viewer_client: Client, api: httpx.Client, folder: str) -> None:
    _put(api, f"{folder}/crm/admin")
    _put(api, f"{folder}/crm/reader")
    _put(api, f"{folder}/mail")
    body = viewer_client.get("/vault/", {"prefix": f"{folder}/"}).content.decode()
    assert "crm/" in body and "2 entries" in body and f"/vault/entry/{folder}/mail" in body
    assert f"/vault/entry/{folder}/crm/admin" not in body
    inner = viewer_client.get(
        "/vault/", {"prefix": f"{folder}/crm/"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert 'id="vault-tree"' in inner and "<html" not in inner and f"/vault/entry/{folder}/crm/admin" in inner


def test_it_shows_an_empty_folder(viewer_client: Client, folder: str) -> None:
    body = viewer_client.get("/vault/", {"prefix": f"{folder}/"}).content.decode()
    assert f"Nothing in {folder}/" in body


def test_it_shows_the_totp_code_with_a_refresh_when_it_expires(
    admin_client: Client, api: httpx.Client, folder: str
) -> None:
    key = f"{folder}/otp"
    _put(api, key, totp=SEED)
    body = admin_client.get(f"/vault/entry/{key}").content.decode()
    assert 'class="totp"' in body and "data-countdown" in body
    fragment = admin_client.get(f"/vault/totp/{key}", headers={"HX-Request": "true"}).content.decode()
    code = text(element(fragment, '[aria-label="Current one-time code"]'))
    assert pyotp.TOTP(SEED).verify(code, valid_window=1)
    assert "load delay:" in fragment and "<html" not in fragment


def test_below_admin_nobody_sees_a_totp_code(
    viewer_client: Client, operator_client: Client, api: httpx.Client, folder: str
) -> None:
    key = f"{folder}/otp"
    _put(api, key, totp=SEED)
    for client in (viewer_client, operator_client):
        body = client.get(f"/vault/entry/{key}").content.decode()
        assert 'class="totp"' not in body and "Show the one-time code" in body
        assert client.get(f"/vault/totp/{key}", headers={"HX-Request": "true"}).status_code == 403


def test_it_deletes_an_entry(admin_client: Client, api: httpx.Client, folder: str) -> None:
    key = f"{folder}/gone"
    _put(api, key)
    response = admin_client.post(f"/vault/delete/{key}", headers={"HX-Request": "true"})
    assert response.status_code == 200 and response["HX-Redirect"] == f"/vault/?prefix={folder}%2F"
    assert api.get(f"/vault/{key}").status_code == 404
    assert AuditEntry.objects.get(action="vault.entry.delete").target_id == key


def test_it_shows_a_missing_entry_as_a_state(viewer_client: Client, folder: str) -> None:
    response = viewer_client.get(f"/vault/entry/{folder}/nothing")
    assert response.status_code == 404 and "no longer exists" in response.content.decode()


@pytest.mark.parametrize("persona", ["operator_client", "viewer_client"])
def test_only_admins_change_the_vault(
    persona: str, request: pytest.FixtureRequest, api: httpx.Client, folder: str
) -> None:
    client: Client = request.getfixturevalue(persona)
    key = f"{folder}/kept"
    _put(api, key, label="before")
    page = client.get(f"/vault/entry/{key}").content.decode()
    assert "/vault/edit/" not in page and "/vault/delete/" not in page
    assert client.post("/vault/new/", _form(key=f"{folder}/new", password="x")).status_code == 403
    assert client.post(f"/vault/edit/{key}", _form(label="after", password="x")).status_code == 403
    assert client.post(f"/vault/delete/{key}").status_code == 403
    assert [e["key"] for e in api.get("/vault", params={"prefix": f"{folder}/"}).json()["entries"]] == [key]
    assert api.get(f"/vault/{key}").json()["label"] == "before"
    assert api.post(f"/vault/{key}/reveal").json()["password"] == PASSWORD


def test_it_shows_an_api_outage_as_a_state(viewer_client: Client, settings) -> None:
    from dashboard.bctrl.client import reset_clients
    from tests.support.engine_process import free_port

    settings.BCTRL_API_URL = f"http://127.0.0.1:{free_port()}/v1"
    reset_clients()
    response = viewer_client.get("/vault/")
    assert response.status_code == 200 and "could not be reached" in response.content.decode()
