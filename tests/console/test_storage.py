"""Storage pages against the real engine: namespaces, folders, upload, download, preview, delete."""

import base64
import uuid
from collections.abc import Iterator

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from dashboard.audit.models import AuditEntry
from dashboard.bctrl.client import reset_clients, use_transport
from tests.console.faults import Faults, api_error
from tests.support.engine_process import EngineProcess
from tests.support.html import row

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _paths(api: httpx.Client, namespace: str, prefix: str = "") -> list[str]:
    """Every object path under `prefix`, walking the one-level listings down."""
    listing = api.get(f"/storage/{namespace}/objects", params={"prefix": prefix, "limit": 500}).json()
    paths = [o["path"] for o in listing["objects"]]
    for folder in listing.get("folders") or []:
        inner = folder.rstrip("/") + "/"
        paths += _paths(api, namespace, inner if inner.startswith(prefix) else prefix + inner)
    return paths


@pytest.fixture
def namespace(api: httpx.Client) -> Iterator[str]:
    """A fresh namespace (it springs into being on first write), emptied after the test."""
    name = f"ns-{uuid.uuid4().hex[:8]}"
    yield name
    for path in _paths(api, name):
        api.delete(f"/storage/{name}/objects/{path}")


def _put(
    api: httpx.Client, namespace: str, path: str, content: bytes, content_type: str = "text/plain"
) -> dict:
    response = api.put(
        f"/storage/{namespace}/objects/{path}", content=content, headers={"Content-Type": content_type}
    )
    assert response.status_code == 201, response.text
    return response.json()


def _download(response) -> bytes:  # the view streams asynchronously, as daphne serves it
    async def collect() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(collect)()


def test_it_lists_namespaces_with_counts_and_sizes(
    viewer_client: Client, api: httpx.Client, namespace: str
) -> None:
    _put(api, namespace, "a.txt", b"12345")
    _put(api, namespace, "b.txt", b"123")
    body = viewer_client.get("/storage/").content.decode()
    listed = row(body, f">{namespace}</a>")
    assert "<td>2</td>" in listed and "8\xa0bytes" in listed


def test_it_browses_one_folder_level_with_breadcrumbs(
    viewer_client: Client, api: httpx.Client, namespace: str
) -> None:
    _put(api, namespace, "top.txt", b"top")
    _put(api, namespace, "exports/2026/report.csv", b"a,b", "text/csv")
    _put(api, namespace, "exports/summary.txt", b"sum")
    root = viewer_client.get(f"/storage/{namespace}/").content.decode()
    assert "top.txt" in root and "exports/" in root and "summary.txt" not in root
    inner = viewer_client.get(
        f"/storage/{namespace}/", {"prefix": "exports/"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert 'id="storage-listing"' in inner and "<html" not in inner
    assert (
        "summary.txt" in inner and "2026/" in inner and "report.csv" not in inner and "top.txt" not in inner
    )
    assert f'href="/storage/{namespace}/"' in inner  # the breadcrumb back to the namespace root


def test_a_mistyped_namespace_is_a_404_naming_it(viewer_client: Client, namespace: str) -> None:
    response = viewer_client.get(f"/storage/{namespace}/")
    body = response.content.decode()
    assert response.status_code == 404
    assert f'There is no storage namespace called <strong class="mono">{namespace}</strong>' in body
    assert 'id="storage-upload"' not in body


def test_an_operator_may_start_a_new_namespace(operator_client: Client, namespace: str) -> None:
    body = operator_client.get(f"/storage/{namespace}/", {"new": "1"}).content.decode()
    assert "This namespace is empty." in body and 'id="storage-upload"' in body


def test_an_operator_uploads_into_the_current_folder(
    operator_client: Client, api: httpx.Client, namespace: str
) -> None:
    upload = SimpleUploadedFile("notes.txt", b"hello storage", content_type="text/plain")
    response = operator_client.post(
        f"/storage/{namespace}/upload/",
        {"file": upload, "folder": "docs/", "name": "", "idempotency_key": uuid.uuid4().hex},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200, response.content.decode()
    assert response["HX-Redirect"] == f"/storage/{namespace}/?prefix=docs%2F"
    stored = api.get(f"/storage/{namespace}/objects/docs/notes.txt").json()
    assert stored["sizeBytes"] == 13 and stored["contentType"].startswith("text/plain")
    assert api.get(f"/storage/{namespace}/content/docs/notes.txt").content == b"hello storage"
    audit = AuditEntry.objects.get(action="storage.object.upload")
    assert audit.username == "oscar" and audit.target_id == f"{namespace}/docs/notes.txt"


def test_it_downloads_through_the_console_as_an_attachment(
    viewer_client: Client, api: httpx.Client, namespace: str
) -> None:
    _put(api, namespace, "data/export.csv", b"id,name\n1,ada\n", "text/csv")
    response = viewer_client.get(f"/storage/{namespace}/download/data/export.csv")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="export.csv"'
    assert _download(response) == b"id,name\n1,ada\n"


def test_it_previews_text_escaped(viewer_client: Client, api: httpx.Client, namespace: str) -> None:
    _put(api, namespace, "page.html.txt", b"<script>alert(1)</script> hello")
    body = viewer_client.get(f"/storage/{namespace}/objects/page.html.txt").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; hello" in body and "<script>alert(1)" not in body


def test_it_previews_only_the_start_of_a_long_text(
    viewer_client: Client, api: httpx.Client, namespace: str
) -> None:
    _put(api, namespace, "big.log", b"x" * (64 * 1024) + b"TAIL-MARKER")
    body = viewer_client.get(f"/storage/{namespace}/objects/big.log").content.decode()
    assert "Showing the first 64 KB" in body and "TAIL-MARKER" not in body


def test_it_previews_images_inline_through_the_proxy(
    viewer_client: Client, api: httpx.Client, namespace: str
) -> None:
    _put(api, namespace, "shot.png", PNG, "image/png")
    body = viewer_client.get(f"/storage/{namespace}/objects/shot.png").content.decode()
    assert f'src="/storage/{namespace}/download/shot.png?inline=1"' in body
    response = viewer_client.get(f"/storage/{namespace}/download/shot.png", {"inline": "1"})
    assert response["Content-Type"] == "image/png" and response["Content-Disposition"].startswith("inline")
    assert _download(response) == PNG


def test_it_never_serves_markup_inline(viewer_client: Client, api: httpx.Client, namespace: str) -> None:
    _put(
        api,
        namespace,
        "evil.svg",
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        "image/svg+xml",
    )
    response = viewer_client.get(f"/storage/{namespace}/download/evil.svg", {"inline": "1"})
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Type"] == "application/octet-stream"
    _download(response)


@pytest.fixture(scope="module")
def small_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    """An engine that stores at most 1 KB per object, to meet its size limit without big files."""
    engine = EngineProcess(
        tmp_path_factory.mktemp("small-engine"), {"ENGINE_STORAGE_MAX_BYTES": "1024"}
    ).start()
    yield engine
    engine.stop()


def test_it_shows_the_size_limit_next_to_the_file(
    operator_client: Client, small_engine: EngineProcess, settings
) -> None:
    settings.BCTRL_API_URL, settings.BCTRL_API_KEY = f"{small_engine.url}/v1", small_engine.keys["admin"]
    reset_clients()
    upload = SimpleUploadedFile("big.bin", b"x" * 2048, content_type="application/octet-stream")
    response = operator_client.post(
        "/storage/limits/upload/", {"file": upload, "folder": "", "name": ""}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 422 and 'id="storage-upload"' in body and "field-error" in body
    # refused by the console against the API's own limit, before a byte is sent
    assert "This file is 2 KB; the API accepts at most 1 KB." in body
    with small_engine.client() as api:
        assert api.get("/storage/limits/objects/big.bin").status_code == 404
    page = operator_client.get("/storage/limits/", {"new": "1"}).content.decode()
    assert "Up to 1 KB." in page and 'data-max-bytes="1024"' in page


def test_an_api_that_does_not_say_its_limit_still_refuses_inline(
    operator_client: Client, small_engine: EngineProcess, settings
) -> None:
    settings.BCTRL_API_URL, settings.BCTRL_API_KEY = f"{small_engine.url}/v1", small_engine.keys["admin"]
    use_transport(
        Faults({"GET /v1/limits": api_error(404, "request.not_found", "No such resource or route.")})
    )
    upload = SimpleUploadedFile("big.bin", b"x" * 2048, content_type="application/octet-stream")
    response = operator_client.post(
        "/storage/limits/upload/", {"file": upload, "folder": "", "name": ""}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 422 and "field-error" in body and "storage.too_large" not in body
    assert AuditEntry.objects.get(action="storage.object.upload").outcome == "failed"


def test_it_deletes_an_object(operator_client: Client, api: httpx.Client, namespace: str) -> None:
    _put(api, namespace, "old/file.txt", b"bye")
    response = operator_client.post(
        f"/storage/{namespace}/delete/old/file.txt", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and response["HX-Redirect"] == f"/storage/{namespace}/?prefix=old%2F"
    assert api.get(f"/storage/{namespace}/objects/old/file.txt").status_code == 404
    assert AuditEntry.objects.get(action="storage.object.delete").outcome == "succeeded"


def test_a_viewer_cannot_upload_or_delete(viewer_client: Client, api: httpx.Client, namespace: str) -> None:
    _put(api, namespace, "keep.txt", b"keep")
    assert "/upload/" not in viewer_client.get(f"/storage/{namespace}/").content.decode()
    upload = SimpleUploadedFile("x.txt", b"x")
    assert viewer_client.post(f"/storage/{namespace}/upload/", {"file": upload}).status_code == 403
    assert viewer_client.post(f"/storage/{namespace}/delete/keep.txt").status_code == 403
    assert [o["path"] for o in api.get(f"/storage/{namespace}/objects").json()["objects"]] == ["keep.txt"]


def test_it_shows_a_missing_object_as_a_state(viewer_client: Client, namespace: str) -> None:
    response = viewer_client.get(f"/storage/{namespace}/objects/not/there.txt")
    assert response.status_code == 404 and "no longer exists" in response.content.decode()
    assert viewer_client.get(f"/storage/{namespace}/download/not/there.txt").status_code == 404


def test_it_refuses_a_path_that_climbs_out(viewer_client: Client, namespace: str) -> None:
    response = viewer_client.get(f"/storage/{namespace}/objects/a/../../workspaces")
    assert response.status_code in (400, 404)


def test_it_shows_an_api_outage_as_a_state(viewer_client: Client, settings) -> None:
    from dashboard.bctrl.client import reset_clients
    from tests.support.engine_process import free_port

    settings.BCTRL_API_URL = f"http://127.0.0.1:{free_port()}/v1"
    reset_clients()
    response = viewer_client.get("/storage/")
    assert response.status_code == 200 and "could not be reached" in response.content.decode()


class _Recorder(httpx.AsyncBaseTransport):
    """Passes every call to the engine and notes how each request body was sent."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.bodies: dict[str, str] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            # httpx keeps a body given as bytes whole (ByteStream); an async iterator stays a stream
            self.bodies[request.url.path] = (
                "whole" if isinstance(request.stream, httpx.ByteStream) else "streamed"
            )
        return await self.inner.handle_async_request(request)


def test_an_upload_is_streamed_to_the_api(operator_client: Client, api: httpx.Client, namespace: str) -> None:
    recorder = _Recorder()
    use_transport(recorder)
    content = bytes(range(256)) * 8192  # 2 MB: past Django's in-memory limit, so it sits in a temp file
    upload = SimpleUploadedFile("big.bin", content, content_type="application/octet-stream")
    response = operator_client.post(
        f"/storage/{namespace}/upload/",
        {"file": upload, "folder": "", "name": ""},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200, response.content.decode()[:500]
    assert recorder.bodies == {f"/v1/storage/{namespace}/objects/big.bin": "streamed"}
    assert api.get(f"/storage/{namespace}/content/big.bin").content == content
