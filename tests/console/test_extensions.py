"""Browser extension pages against the real engine: upload, detail, rename, enable/disable, delete."""

import io
import json
import uuid
import zipfile
from collections.abc import Iterator

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from dashboard.audit.models import AuditEntry
from dashboard.bctrl.client import reset_clients
from tests.support.engine_process import EngineProcess
from tests.support.extensions import extension_zip


@pytest.fixture
def extension(api: httpx.Client) -> Iterator[dict]:
    name = f"ext-{uuid.uuid4().hex[:6]}"
    response = api.post(
        "/browser-extensions/upload", files={"file": ("ext.zip", extension_zip(name), "application/zip")}
    )
    assert response.status_code == 201, response.text
    yield response.json()
    api.delete(f"/browser-extensions/{response.json()['id']}")


def _upload(client: Client, filename: str, content: bytes, **fields: str):
    upload = SimpleUploadedFile(filename, content, content_type="application/zip")
    data = {"file": upload, "name": "", "idempotency_key": uuid.uuid4().hex, **fields}
    return client.post("/extensions/upload/", data, headers={"HX-Request": "true"})


def test_it_uploads_an_extension_and_shows_its_manifest(admin_client: Client, api: httpx.Client) -> None:
    name = f"Counter {uuid.uuid4().hex[:6]}"
    response = _upload(admin_client, "counter.zip", extension_zip(name, "2.0.1"))
    assert response.status_code == 200, response.content.decode()
    extension_id = response["HX-Redirect"].rstrip("/").rsplit("/", 1)[1]
    try:
        body = admin_client.get(f"/extensions/{extension_id}/").content.decode()
        assert name in body and "2.0.1" in body and "tabs" in body and "sha256:" in body
        audit = AuditEntry.objects.get(action="browser_extension.upload")
        assert audit.target_id == extension_id and audit.outcome == "succeeded"
    finally:
        api.delete(f"/browser-extensions/{extension_id}")


def test_it_shows_an_invalid_package_next_to_the_file(admin_client: Client, api: httpx.Client) -> None:
    before = len(api.get("/browser-extensions", params={"limit": 500}).json()["extensions"])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "no manifest here")
    response = _upload(admin_client, "broken.zip", buffer.getvalue())
    body = response.content.decode()
    assert response.status_code == 422 and 'id="extension-upload"' in body and "field-error" in body
    assert len(api.get("/browser-extensions", params={"limit": 500}).json()["extensions"]) == before
    assert AuditEntry.objects.get(action="browser_extension.upload").outcome == "failed"


@pytest.fixture(scope="module")
def small_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    """An engine that takes extension packages of at most 1 KB."""
    engine = EngineProcess(
        tmp_path_factory.mktemp("small-engine"), {"ENGINE_EXTENSION_MAX_BYTES": "1024"}
    ).start()
    yield engine
    engine.stop()


def test_it_shows_the_size_limit_next_to_the_file(
    admin_client: Client, small_engine: EngineProcess, settings
) -> None:
    settings.BCTRL_API_URL, settings.BCTRL_API_KEY = f"{small_engine.url}/v1", small_engine.keys["admin"]
    reset_clients()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("manifest.json", json.dumps({"manifest_version": 3, "name": "Big", "version": "1"}))
        archive.writestr("padding.bin", uuid.uuid4().bytes * 200)
    response = _upload(admin_client, "big.zip", buffer.getvalue())
    body = response.content.decode()
    assert response.status_code == 422 and 'id="extension-upload"' in body and "field-error" in body
    with small_engine.client() as api:
        assert api.get("/browser-extensions").json()["extensions"] == []


def test_it_refuses_a_file_that_is_not_a_package(admin_client: Client) -> None:
    response = _upload(admin_client, "notes.txt", b"hello")
    assert response.status_code == 422 and "Choose a .zip or .crx file." in response.content.decode()


def test_it_lists_and_searches_extensions(viewer_client: Client, extension: dict) -> None:
    assert extension["name"] in viewer_client.get("/extensions/").content.decode()
    body = viewer_client.get(
        "/extensions/", {"q": "zzz-nothing"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert 'id="extension-table"' in body and "<html" not in body
    assert "No extension matches" in body or extension["name"] not in body


def test_it_renames_an_extension(admin_client: Client, api: httpx.Client, extension: dict) -> None:
    response = admin_client.post(
        f"/extensions/{extension['id']}/rename/", {"name": "Renamed"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and response["HX-Redirect"] == f"/extensions/{extension['id']}/"
    assert api.get(f"/browser-extensions/{extension['id']}").json()["name"] == "Renamed"


def test_it_disables_and_enables_with_a_toast(
    admin_client: Client, api: httpx.Client, extension: dict
) -> None:
    url = f"/extensions/{extension['id']}/toggle/"
    body = admin_client.post(url, {"enabled": "false"}, headers={"HX-Request": "true"}).content.decode()
    assert 'id="extension-toggle"' in body and "badge-disabled" in body and 'hx-swap-oob="beforeend"' in body
    assert api.get(f"/browser-extensions/{extension['id']}").json()["enabled"] is False
    admin_client.post(url, {"enabled": "true"}, headers={"HX-Request": "true"})
    assert api.get(f"/browser-extensions/{extension['id']}").json()["enabled"] is True
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["browser_extension.disable", "browser_extension.enable"]


def test_it_deletes_an_extension(admin_client: Client, api: httpx.Client, extension: dict) -> None:
    response = admin_client.post(f"/extensions/{extension['id']}/delete/", headers={"HX-Request": "true"})
    assert response.status_code == 200 and response["HX-Redirect"] == "/extensions/"
    assert api.get(f"/browser-extensions/{extension['id']}").status_code == 404


def test_an_operator_changes_extensions_as_an_operator_key_may(
    operator_client: Client, api: httpx.Client, extension: dict
) -> None:
    response = operator_client.post(
        f"/extensions/{extension['id']}/rename/",
        {"name": "Renamed by an operator"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert api.get(f"/browser-extensions/{extension['id']}").json()["name"] == "Renamed by an operator"


def test_a_viewer_sees_the_changes_disabled_and_cannot_make_them(
    viewer_client: Client, api: httpx.Client, extension: dict
) -> None:
    client = viewer_client
    page = client.get(f"/extensions/{extension['id']}/").content.decode()
    assert "/toggle/" not in page and "/delete/" not in page and "/rename/" not in page
    assert "needs the operator role" in page and "disabled" in page
    listing = client.get("/extensions/").content.decode()
    assert "/extensions/upload/" not in listing and "needs the operator role" in listing
    before = len(api.get("/browser-extensions", params={"limit": 500}).json()["extensions"])
    assert _upload(client, "x.zip", extension_zip("Denied")).status_code == 403
    assert client.post(f"/extensions/{extension['id']}/rename/", {"name": "Changed"}).status_code == 403
    assert client.post(f"/extensions/{extension['id']}/toggle/", {"enabled": "false"}).status_code == 403
    assert client.post(f"/extensions/{extension['id']}/delete/").status_code == 403
    stored = api.get(f"/browser-extensions/{extension['id']}").json()
    assert stored["name"] == extension["name"] and stored["enabled"] is True
    assert len(api.get("/browser-extensions", params={"limit": 500}).json()["extensions"]) == before


def test_it_shows_a_missing_extension_as_a_state(viewer_client: Client) -> None:
    response = viewer_client.get(f"/extensions/{uuid.uuid4()}/")
    assert response.status_code == 404 and "no longer exists" in response.content.decode()
