"""AI credential pages against the real engine; the Test button talks to a local OpenAI-style server."""

import html
import http.server
import json
import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest
from django.test import Client

from dashboard.audit.models import AuditEntry
from tests.support.model_server import PROVIDERS_HOST

API_KEY = "sk-test-" + "k3y&never-in-html"


class ModelsServer:
    """A local server speaking the OpenAI wire format: GET /v1/models answers 200 to the one key
    it accepts and 401 to any other, and remembers the keys it was shown."""

    def __init__(self, accepted_key: str) -> None:
        self.accepted_key = accepted_key
        self.seen_keys: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                key = self.headers.get("Authorization", "").removeprefix("Bearer ")
                server.seen_keys.append(key)
                if key == server.accepted_key and self.path.rstrip("/").endswith("/models"):
                    status, body = 200, {"object": "list", "data": [{"id": "gpt-test", "object": "model"}]}
                else:
                    status, body = (
                        401,
                        {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}},
                    )
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        # on the loopback address the session engine may call (its calls obey its egress rules)
        self.httpd = http.server.ThreadingHTTPServer((PROVIDERS_HOST, 0), Handler)
        self.base_url = f"http://{PROVIDERS_HOST}:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "ModelsServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def provider() -> Iterator[ModelsServer]:
    with ModelsServer(API_KEY) as server:
        yield server


@pytest.fixture
def credential(api: httpx.Client, provider: ModelsServer) -> Iterator[dict]:
    """An openai-compatible credential pointed at the local provider, deleted after the test."""
    body = {
        "id": f"cred-{uuid.uuid4().hex[:8]}",
        "provider": "openai-compatible",
        "label": "Local models",
        "apiKey": API_KEY,
        "baseUrl": provider.base_url,
        "defaultModel": "gpt-test",
    }
    response = api.post("/ai-credentials", json=body)
    assert response.status_code == 200, response.text
    yield response.json()
    api.delete(f"/ai-credentials/{body['id']}")


def _no_key(body: str) -> bool:
    return API_KEY not in body and html.escape(API_KEY) not in body


def _form(**fields: str) -> dict[str, str]:
    return {
        "idempotency_key": uuid.uuid4().hex,
        "label": "Local models",
        "default_model": "",
        "enabled": "on",
        **fields,
    }


def test_it_creates_a_credential_whose_key_no_page_shows(
    admin_client: Client, api: httpx.Client, provider: ModelsServer
) -> None:
    credential_id = f"made-{uuid.uuid4().hex[:6]}"
    response = admin_client.post(
        "/ai-credentials/new/",
        _form(id=credential_id, provider="openai-compatible", api_key=API_KEY, base_url=provider.base_url),
    )
    assert response.status_code == 302, response.content.decode()
    try:
        stored = api.get(f"/ai-credentials/{credential_id}").json()
        assert stored["provider"] == "openai-compatible" and stored["baseUrl"] == provider.base_url
        for url in (
            "/ai-credentials/",
            f"/ai-credentials/{credential_id}/",
            f"/ai-credentials/{credential_id}/edit/",
        ):
            body = admin_client.get(url).content.decode()
            assert credential_id in body and _no_key(body), url
        audit = AuditEntry.objects.get(action="ai_credential.create")
        assert (
            audit.target_id == credential_id and audit.outcome == "succeeded" and API_KEY not in audit.message
        )
    finally:
        api.delete(f"/ai-credentials/{credential_id}")


def test_the_test_button_shows_the_providers_answer_inline(
    operator_client: Client, credential: dict, provider: ModelsServer
) -> None:
    response = operator_client.post(
        f"/ai-credentials/{credential['id']}/test/", headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert (
        response.status_code == 200 and f'id="test-result-{credential["id"]}"' in body and "<html" not in body
    )
    assert "badge-ok" in body and _no_key(body)
    assert provider.seen_keys == [API_KEY]
    assert AuditEntry.objects.get(action="ai_credential.test").outcome == "succeeded"


def test_the_test_button_shows_a_refused_key(
    operator_client: Client, api: httpx.Client, credential: dict, provider: ModelsServer
) -> None:
    provider.accepted_key = "some-other-key"
    body = operator_client.post(
        f"/ai-credentials/{credential['id']}/test/", headers={"HX-Request": "true"}
    ).content.decode()
    assert "badge-error" in body and "badge-ok" not in body
    assert AuditEntry.objects.get(action="ai_credential.test").outcome == "failed"


def test_an_edit_with_a_blank_key_keeps_the_old_one(
    admin_client: Client, api: httpx.Client, credential: dict, provider: ModelsServer
) -> None:
    form = admin_client.get(f"/ai-credentials/{credential['id']}/edit/").content.decode()
    assert 'placeholder="unchanged"' in form and _no_key(form)
    response = admin_client.post(
        f"/ai-credentials/{credential['id']}/edit/",
        _form(label="Renamed", api_key="", base_url=provider.base_url),
    )
    assert response.status_code == 302, response.content.decode()
    assert api.get(f"/ai-credentials/{credential['id']}").json()["label"] == "Renamed"
    assert api.post(f"/ai-credentials/{credential['id']}/test").json()["ok"] is True
    assert provider.seen_keys[-1] == API_KEY


def test_an_edit_with_a_new_key_replaces_it(
    admin_client: Client, api: httpx.Client, credential: dict, provider: ModelsServer
) -> None:
    admin_client.post(
        f"/ai-credentials/{credential['id']}/edit/", _form(api_key="sk-rotated", base_url=provider.base_url)
    )
    api.post(f"/ai-credentials/{credential['id']}/test")
    assert provider.seen_keys[-1] == "sk-rotated"


def test_it_shows_a_bad_id_next_to_the_field(admin_client: Client) -> None:
    response = admin_client.post(
        "/ai-credentials/new/",
        _form(id="9 bad", provider="openai", api_key="x"),
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert response.status_code == 422 and 'id="credential-form"' in body and "field-error" in body


def test_it_deletes_a_credential(admin_client: Client, api: httpx.Client, credential: dict) -> None:
    response = admin_client.post(
        f"/ai-credentials/{credential['id']}/delete/", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and response["HX-Redirect"] == "/ai-credentials/"
    assert api.get(f"/ai-credentials/{credential['id']}").status_code == 404
    assert AuditEntry.objects.get(action="ai_credential.delete").outcome == "succeeded"


def test_it_explains_why_a_mounted_credential_cannot_be_deleted(
    admin_client: Client, api: httpx.Client, credential: dict
) -> None:
    workspace = api.post(
        "/workspaces", json={"name": "mounts it", "mounts": {"ai": {"allow": [credential["id"]]}}}
    ).json()
    try:
        response = admin_client.post(
            f"/ai-credentials/{credential['id']}/delete/", headers={"HX-Request": "true"}
        )
        body = response.content.decode()
        assert response.status_code == 409 and "AI mount names this credential" in body
        assert api.get(f"/ai-credentials/{credential['id']}").status_code == 200
    finally:
        api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})


def test_it_filters_by_provider(viewer_client: Client, credential: dict) -> None:
    assert (
        credential["id"]
        in viewer_client.get("/ai-credentials/", {"provider": "openai-compatible"}).content.decode()
    )
    body = viewer_client.get(
        "/ai-credentials/", {"provider": "anthropic"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert credential["id"] not in body and 'id="credential-table"' in body


@pytest.mark.parametrize("persona", ["operator_client", "viewer_client"])
def test_only_admins_change_credentials(
    persona: str, request: pytest.FixtureRequest, api: httpx.Client, credential: dict
) -> None:
    client: Client = request.getfixturevalue(persona)
    page = client.get(f"/ai-credentials/{credential['id']}/").content.decode()
    assert "/edit/" not in page and "/delete/" not in page
    new_id = f"denied-{uuid.uuid4().hex[:6]}"
    assert (
        client.post("/ai-credentials/new/", _form(id=new_id, provider="openai", api_key="x")).status_code
        == 403
    )
    assert (
        client.post(
            f"/ai-credentials/{credential['id']}/edit/", _form(label="changed", api_key="x")
        ).status_code
        == 403
    )
    assert client.post(f"/ai-credentials/{credential['id']}/delete/").status_code == 403
    assert api.get(f"/ai-credentials/{new_id}").status_code == 404
    assert api.get(f"/ai-credentials/{credential['id']}").json()["label"] == "Local models"


def test_a_viewer_cannot_test(viewer_client: Client, credential: dict, provider: ModelsServer) -> None:
    assert "Test</button>" not in viewer_client.get(f"/ai-credentials/{credential['id']}/").content.decode()
    assert viewer_client.post(f"/ai-credentials/{credential['id']}/test/").status_code == 403
    assert provider.seen_keys == []
