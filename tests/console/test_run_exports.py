"""What can be taken away from a run, against the real engine: its HAR (an earlier run of an alias
too), its video, its bundle (video, events and HAR in one zip), and a kept response body, shown in
the console only as text."""

import io
import json
import zipfile
from collections.abc import Iterator

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import AsyncClient, Client

from tests.console.runtime_support import LiveRuntime, execute, launch
from tests.support import site as served
from tests.support.engine_process import EngineProcess, eventually
from tests.support.html import attribute, elements

HX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def earlier(engine: EngineProcess, site: served.TestSite) -> Iterator[dict]:
    """An earlier run of an alias (visited a page, then stopped), and the newer run that replaced it."""
    with engine.client("admin") as api:
        workspace = api.post("/workspaces", json={"name": "exports"}).json()
        first = launch(api, workspace["id"], "exported").json()
        execute(
            api,
            LiveRuntime(workspace["id"], "exported"),
            {"call": "page.goto", "args": [f"{site.url}/network.html"]},
        )
        # stopped once the page's fetch and both bodies are kept (kept as each request finishes)
        assert eventually(lambda: _kept(api, first["id"]) >= 2, timeout=30)
        api.post(f"/workspaces/{workspace['id']}/runtimes/exported/stop", timeout=60)
        launch(api, workspace["id"], "exported")
        yield first
        api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})


def _kept(api: httpx.Client, runtime_id: str) -> int:
    events = api.get(f"/runtimes/{runtime_id}/events", params={"eventTypes": "network.finished"}).json()
    return sum(1 for e in events["events"] if e["eventData"].get("bodyKept"))


async def _download(user: User, url: str) -> tuple[int, dict[str, str], bytes]:
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.get(url)
    body = b"".join([c async for c in response.streaming_content]) if response.streaming else response.content
    return response.status_code, dict(response.items()), body


def _page_entry(har: dict, site: served.TestSite) -> dict:
    return next(e for e in har["log"]["entries"] if e["request"]["url"] == f"{site.url}/network.html")


def test_the_har_of_an_earlier_run_has_headers_timings_and_pages(
    viewer_client: Client, earlier: dict, site: served.TestSite
) -> None:
    response = viewer_client.get(f"/runtimes/{earlier['id']}/har/")
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    har = json.loads(response.content)
    entry = _page_entry(har, site)
    headers = {h["name"]: h["value"] for h in entry["request"]["headers"]}
    assert "user-agent" in headers and entry["response"]["headers"]
    assert entry["timings"]["wait"] > 0 and entry["time"] >= entry["timings"]["wait"]
    assert entry["pageref"] in {page["id"] for page in har["log"]["pages"]}
    assert entry["response"]["status"] == 200 and entry["response"]["content"]["mimeType"] == "text/html"


@pytest.mark.django_db(transaction=True)
async def test_the_bundle_holds_the_video_every_event_and_the_har(
    vera: User, earlier: dict, site: served.TestSite
) -> None:
    status, headers, body = await _download(vera, f"/runtimes/{earlier['id']}/bundle/")
    assert status == 200 and headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(body)) as bundle:
        names = set(bundle.namelist())
        assert {"README.txt", "runtime.json", "events.json", "network.har", "recording.webm"} <= names
        assert bundle.testzip() is None  # every member's checksum holds
        events = json.loads(bundle.read("events.json"))
        assert [e["eventType"] for e in events][:1] == ["runtime.started"]
        assert events[-1]["eventType"] == "runtime.stopped"
        assert json.loads(bundle.read("runtime.json"))["id"] == earlier["id"]
        assert _page_entry(json.loads(bundle.read("network.har")), site)["request"]["headers"]
        assert bundle.read("recording.webm")[:4] == b"\x1a\x45\xdf\xa3"  # a WebM (Matroska) file


@pytest.mark.django_db(transaction=True)
async def test_the_video_is_a_download_never_shown_in_the_console(vera: User, earlier: dict) -> None:
    status, headers, body = await _download(vera, f"/runtimes/{earlier['id']}/video/")
    assert status == 200 and body[:4] == b"\x1a\x45\xdf\xa3"
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"] == 'attachment; filename="exported-{}.webm"'.format(
        earlier["id"][:8]
    )
    status, _, body = await _download(vera, f"/runtimes/{earlier['id']}/video/?format=gif")
    assert status == 400 and b"webm" in body


@pytest.mark.django_db(transaction=True)
async def test_a_run_without_a_recording_has_a_bundle_that_says_why(
    vera: User, api: httpx.Client, workspace: dict
) -> None:
    response = await sync_to_async(api.post)(
        f"/workspaces/{workspace['id']}/runtimes",
        json={"alias": "unrecorded", "launch": {"mode": "ephemeral", "config": {"recording": False}}},
        timeout=120,
    )
    await sync_to_async(api.post)(f"/workspaces/{workspace['id']}/runtimes/unrecorded/stop", timeout=60)
    _, _, page = await _download(vera, f"/runtimes/{response.json()['id']}/")
    assert b"Export video" not in page and b"Export bundle" in page
    status, _, body = await _download(vera, f"/runtimes/{response.json()['id']}/bundle/")
    with zipfile.ZipFile(io.BytesIO(body)) as unzipped:
        assert status == 200 and "recording.webm" not in unzipped.namelist()
        assert "no video:" in unzipped.read("README.txt").decode()


def test_a_kept_body_is_shown_as_text(viewer_client: Client, earlier: dict) -> None:
    """The page's HTML (with its script) is text in the console's page, never markup it runs."""
    timeline = viewer_client.get(f"/runtimes/{earlier['id']}/events/", headers=HX).content.decode()
    row = next(r for r in elements(timeline, "tr") if "network.html" in r and "data-request=" in r)
    request_id = attribute(row, "[data-request]", "data-request")
    body = viewer_client.get(f"/runtimes/{earlier['id']}/network/{request_id}/body/", headers=HX)
    text = body.content.decode()
    assert body.status_code == 200 and "text/html" in text
    assert "&lt;script&gt;" in text and "document.cookie = &quot;sid=" in text
    assert "<script>" not in text


def test_a_body_that_was_not_kept_says_so(viewer_client: Client, earlier: dict) -> None:
    response = viewer_client.get(f"/runtimes/{earlier['id']}/network/req_999999/body/", headers=HX)
    assert response.status_code == 404 and "was not kept" in response.content.decode()
