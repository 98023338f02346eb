"""Artifact pages against the real engine: the list with filters and thumbnails, and the byte proxy."""

import uuid
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient, Client

from tests.console.runtime_support import LiveRuntime, execute, live_runtime
from tests.support import site as served
from tests.support.engine_process import EngineProcess


@pytest.fixture(scope="module")
def live(engine: EngineProcess, site: served.TestSite) -> Iterator[tuple[LiveRuntime, dict, dict]]:
    """A runtime that took one screenshot and printed one PDF."""
    with live_runtime(engine, "camera") as runtime, engine.client("admin") as api:
        result = execute(
            api,
            runtime,
            {"call": "page.goto", "args": [f"{site.url}/index.html"]},
            {"call": "page.screenshot", "args": []},
            {"call": "page.pdf", "args": []},
        )
        assert result["status"] == "succeeded", [step.get("error") for step in result["steps"]]
        yield runtime, result["steps"][1]["result"]["artifact"], result["steps"][2]["result"]["artifact"]


async def _get(user: User, url: str) -> tuple[int, dict[str, str], bytes]:
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.get(url)
    if response.streaming:
        body = b"".join([chunk async for chunk in response.streaming_content])
    else:
        body = response.content
    return response.status_code, dict(response.items()), body


def test_it_lists_artifacts_with_thumbnails(viewer_client: Client, live) -> None:
    runtime, screenshot, pdf = live
    body = viewer_client.get(f"/workspaces/{runtime.workspace_id}/artifacts/").content.decode()
    assert f'<img class="thumb" loading="lazy" src="/artifacts/{screenshot["id"]}/content/"' in body
    assert f'href="/artifacts/{pdf["id"]}/content/"' in body
    assert f'<img class="thumb" loading="lazy" src="/artifacts/{pdf["id"]}/content/"' not in body


def test_it_filters_by_kind(viewer_client: Client, live) -> None:
    runtime, screenshot, pdf = live
    url = f"/workspaces/{runtime.workspace_id}/artifacts/"
    body = viewer_client.get(url, {"kind": "pdf"}, headers={"HX-Request": "true"}).content.decode()
    assert 'id="artifact-grid"' in body and "<html" not in body
    assert pdf["id"] in body and screenshot["id"] not in body
    empty = viewer_client.get(url, {"kind": "download"}).content.decode()
    assert "No artifacts match these filters" in empty


def test_it_filters_by_runtime(viewer_client: Client, live) -> None:
    runtime, screenshot, _ = live
    url = f"/workspaces/{runtime.workspace_id}/artifacts/"
    assert screenshot["id"] in viewer_client.get(url, {"runtime": runtime.alias}).content.decode()
    assert screenshot["id"] not in viewer_client.get(url, {"runtime": "someone-else"}).content.decode()


def test_an_empty_workspace_says_how_artifacts_are_made(viewer_client: Client, workspace: dict) -> None:
    body = viewer_client.get(f"/workspaces/{workspace['id']}/artifacts/").content.decode()
    assert "No artifacts yet" in body


@pytest.mark.django_db(transaction=True)
async def test_it_serves_a_screenshot_inline(vera: User, live) -> None:
    _, screenshot, _ = live
    status, headers, body = await _get(vera, f"/artifacts/{screenshot['id']}/content/")
    assert status == 200
    assert headers["Content-Type"] == "image/png" and headers["Content-Disposition"].startswith("inline")
    assert body.startswith(b"\x89PNG")


@pytest.mark.django_db(transaction=True)
async def test_it_serves_a_pdf_as_an_attachment(vera: User, live) -> None:
    _, _, pdf = live
    status, headers, body = await _get(vera, f"/artifacts/{pdf['id']}/content/")
    assert status == 200
    assert headers["Content-Type"] == "application/octet-stream"  # never rendered in our origin
    assert headers["Content-Disposition"].startswith("attachment")
    assert body.startswith(b"%PDF")


@pytest.mark.django_db(transaction=True)
async def test_a_missing_artifact_is_a_clear_404(vera: User) -> None:
    status, _, body = await _get(vera, f"/artifacts/{uuid.uuid4()}/content/")
    assert status == 404
    assert b"could not be loaded" in body and b"request id" in body
