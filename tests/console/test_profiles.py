"""Browser profile pages against the real engine: list, detail, create, edit, delete (and in use)."""

import html
import uuid
from collections.abc import Iterator

import httpx
import pytest
from django.test import Client

from dashboard.audit.models import AuditEntry
from tests.support.extensions import extension_zip

PROXY_PASSWORD = "pr0xy&secret-never-in-html"


@pytest.fixture
def profile(api: httpx.Client) -> Iterator[dict]:
    body = {
        "name": f"profile-{uuid.uuid4().hex[:6]}",
        "description": "Logged in to the CRM",
        "config": {
            "viewport": {"width": 1280, "height": 800},
            "locale": "en-GB",
            "proxy": {"server": "http://127.0.0.1:3128", "username": "proxyuser", "password": PROXY_PASSWORD},
        },
    }
    response = api.post("/browser-profiles", json=body)
    assert response.status_code == 201, response.text
    yield response.json()
    api.delete(f"/browser-profiles/{response.json()['id']}")


@pytest.fixture
def extension(api: httpx.Client) -> Iterator[dict]:
    response = api.post(
        "/browser-extensions/upload",
        files={"file": ("e.zip", extension_zip("Picker ext"), "application/zip")},
    )
    assert response.status_code == 201, response.text
    yield response.json()
    api.delete(f"/browser-extensions/{response.json()['id']}")


def _form(**fields: object) -> dict[str, object]:
    base = {
        "idempotency_key": uuid.uuid4().hex,
        "name": "p",
        "description": "",
        "viewport_width": "",
        "viewport_height": "",
        "user_agent": "",
        "locale": "",
        "timezone_id": "",
        "proxy_server": "",
        "proxy_username": "",
        "proxy_password": "",
        "idle_timeout_seconds": "",
    }
    return {**base, **fields}


def _no_password(body: str) -> bool:
    return PROXY_PASSWORD not in body and html.escape(PROXY_PASSWORD) not in body


def test_it_lists_profiles_from_the_api(viewer_client: Client, profile: dict) -> None:
    body = viewer_client.get("/profiles/", {"q": profile["name"]}).content.decode()
    assert profile["name"] in body and _no_password(body)


def test_it_renders_only_the_table_for_htmx(viewer_client: Client) -> None:
    body = viewer_client.get("/profiles/", {"q": "zzz-none"}, headers={"HX-Request": "true"}).content.decode()
    assert 'id="profile-table"' in body and "<html" not in body and "No profile matches" in body


def test_it_shows_a_profile_without_its_proxy_password(viewer_client: Client, profile: dict) -> None:
    body = viewer_client.get(f"/profiles/{profile['id']}/").content.decode()
    assert "1280 \u00d7 800" in body and "en-GB" in body and "proxyuser" in body and "password set" in body
    assert _no_password(body)


def test_it_creates_a_profile_with_launch_config_and_extensions(
    admin_client: Client, api: httpx.Client, extension: dict
) -> None:
    name = f"made-{uuid.uuid4().hex[:6]}"
    form = _form(
        name=name,
        viewport_width="1024",
        viewport_height="768",
        timezone_id="Europe/Paris",
        idle_timeout_seconds="600",
        extension_ids=[extension["id"]],
    )
    response = admin_client.post("/profiles/new/", form)
    assert response.status_code == 302, response.content.decode()
    created = api.get("/browser-profiles", params={"q": name}).json()["profiles"]
    try:
        assert len(created) == 1
        stored = created[0]
        assert stored["config"]["viewport"] == {"width": 1024, "height": 768}
        assert (
            stored["config"]["timezoneId"] == "Europe/Paris" and stored["config"]["idleTimeoutSeconds"] == 600
        )
        assert stored["extensionIds"] == [extension["id"]]
        audit = AuditEntry.objects.get(action="browser_profile.create")
        assert audit.target_id == stored["id"] and audit.username == "alice"
    finally:
        for p in created:
            api.delete(f"/browser-profiles/{p['id']}")


def test_it_checks_the_form_before_calling_the_api(admin_client: Client, api: httpx.Client) -> None:
    name = f"half-{uuid.uuid4().hex[:6]}"
    response = admin_client.post(
        "/profiles/new/",
        _form(name=name, viewport_width="1024", proxy_password="x"),
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert (
        response.status_code == 422
        and "Give both width and height" in body
        and "needs a proxy server" in body
    )
    assert api.get("/browser-profiles", params={"q": name}).json()["profiles"] == []


def test_an_edit_with_a_blank_proxy_password_keeps_it(
    admin_client: Client, api: httpx.Client, profile: dict
) -> None:
    form_page = admin_client.get(f"/profiles/{profile['id']}/edit/").content.decode()
    assert 'placeholder="unchanged"' in form_page and _no_password(form_page)
    response = admin_client.post(
        f"/profiles/{profile['id']}/edit/",
        _form(
            name="renamed",
            viewport_width="1280",
            viewport_height="800",
            locale="fr-FR",
            proxy_server="http://127.0.0.1:3128",
            proxy_username="proxyuser",
        ),
    )
    assert response.status_code == 302, response.content.decode()
    stored = api.get(f"/browser-profiles/{profile['id']}").json()
    assert stored["name"] == "renamed" and stored["config"]["locale"] == "fr-FR"
    assert _proxy_password_kept(stored)


def _proxy_password_kept(stored: dict) -> bool:
    proxy = stored["config"]["proxy"]
    return proxy.get("password") == PROXY_PASSWORD or proxy.get("hasPassword") is True


def test_it_deletes_a_profile(admin_client: Client, api: httpx.Client, profile: dict) -> None:
    response = admin_client.post(f"/profiles/{profile['id']}/delete/", headers={"HX-Request": "true"})
    assert response.status_code == 200 and response["HX-Redirect"] == "/profiles/"
    assert api.get(f"/browser-profiles/{profile['id']}").status_code == 404
    assert AuditEntry.objects.get(action="browser_profile.delete").outcome == "succeeded"


def test_it_explains_why_a_profile_in_use_cannot_be_deleted(
    admin_client: Client, api: httpx.Client, workspace: dict
) -> None:
    profile = api.post("/browser-profiles", json={"name": f"busy-{uuid.uuid4().hex[:6]}"}).json()
    runtime = api.post(
        f"/workspaces/{workspace['id']}/runtimes",
        json={
            "alias": "busy",
            "kind": "browser",
            "driver": "playwright",
            "launch": {"mode": "profile", "profileId": profile["id"]},
        },
    )
    assert runtime.status_code == 200, runtime.text
    try:
        detail = admin_client.get(f"/profiles/{profile['id']}/").content.decode()
        assert "in use" in detail and "busy" in detail
        response = admin_client.post(f"/profiles/{profile['id']}/delete/", headers={"HX-Request": "true"})
        assert response.status_code == 409 and "in use by an active runtime" in response.content.decode()
        assert api.get(f"/browser-profiles/{profile['id']}").status_code == 200
    finally:
        api.post(f"/workspaces/{workspace['id']}/runtimes/busy/stop")
        api.delete(f"/browser-profiles/{profile['id']}")


def test_an_operator_creates_a_profile_as_an_operator_key_may(
    operator_client: Client, api: httpx.Client
) -> None:
    name = f"operator-made-{uuid.uuid4().hex[:6]}"
    response = operator_client.post("/profiles/new/", _form(name=name))
    assert response.status_code == 302
    made = api.get("/browser-profiles", params={"q": name}).json()["profiles"]
    assert [p["name"] for p in made] == [name]
    api.delete(f"/browser-profiles/{made[0]['id']}")


def test_a_viewer_sees_profile_changes_disabled_and_cannot_make_them(
    viewer_client: Client, api: httpx.Client, profile: dict
) -> None:
    client = viewer_client
    page = client.get(f"/profiles/{profile['id']}/").content.decode()
    assert "/edit/" not in page and "/delete/" not in page and "/launch/" not in page
    assert page.count("needs the operator role") >= 2
    name = f"denied-{uuid.uuid4().hex[:6]}"
    assert client.post("/profiles/new/", _form(name=name)).status_code == 403
    assert client.post(f"/profiles/{profile['id']}/edit/", _form(name="changed")).status_code == 403
    assert client.post(f"/profiles/{profile['id']}/delete/").status_code == 403
    assert api.get("/browser-profiles", params={"q": name}).json()["profiles"] == []
    assert api.get(f"/browser-profiles/{profile['id']}").json()["name"] == profile["name"]


def test_it_shows_an_api_outage_as_a_state(viewer_client: Client, settings) -> None:
    from dashboard.bctrl.client import reset_clients
    from tests.support.engine_process import free_port

    settings.BCTRL_API_URL = f"http://127.0.0.1:{free_port()}/v1"
    reset_clients()
    response = viewer_client.get("/profiles/")
    assert response.status_code == 200 and "could not be reached" in response.content.decode()


def test_launch_with_this_profile_launches_a_runtime_and_opens_it(
    operator_client: Client, api: httpx.Client, workspace: dict
) -> None:
    profile = api.post("/browser-profiles", json={"name": f"Sales CRM {uuid.uuid4().hex[:4]}"}).json()
    try:
        response = operator_client.post(
            f"/profiles/{profile['id']}/launch/", {"workspace": workspace["id"], "name": profile["name"]}
        )
        assert response.status_code == 302
        runtimes = api.get(f"/workspaces/{workspace['id']}/runtimes", params={"status": "active"}).json()
        [runtime] = runtimes["runtimes"]
        assert runtime["alias"].startswith("sales-crm-")
        assert response["Location"] == f"/workspaces/{workspace['id']}/runtimes/{runtime['alias']}/"
        entry = AuditEntry.objects.get(action="runtime.launch")
        assert (
            entry.outcome == "succeeded" and entry.target_name == f"{workspace['name']} / {runtime['alias']}"
        )
        # "Other settings…" opens the launch form filled in with the profile instead
        form = operator_client.post(
            f"/profiles/{profile['id']}/launch/", {"workspace": workspace["id"], "then": "form"}
        )
        assert form["Location"] == f"/workspaces/{workspace['id']}/launch/?profile={profile['id']}"
        # the profile runs in one browser at a time: a second launch says why, on the profile's page
        again = operator_client.post(
            f"/profiles/{profile['id']}/launch/", {"workspace": workspace["id"], "name": "x"}, follow=True
        )
        assert "The profile was not launched" in again.content.decode()
    finally:
        for active in api.get(f"/workspaces/{workspace['id']}/runtimes", params={"status": "active"}).json()[
            "runtimes"
        ]:
            api.post(f"/workspaces/{workspace['id']}/runtimes/{active['alias']}/stop")
        api.delete(f"/browser-profiles/{profile['id']}")
