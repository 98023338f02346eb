"""Runtimes across the organisation (`/runtimes/`), its bulk stop, and the wall (`/runtimes/wall/`),
against the real engine and Chromium."""

from collections.abc import Iterator

import httpx
import pytest
from django.test import Client

from dashboard.audit.models import AuditEntry
from dashboard.bctrl.client import use_transport
from tests.console.faults import Faults, api_error
from tests.console.runtime_support import launch
from tests.support.engine_process import EngineProcess
from tests.support.html import attribute, elements


@pytest.fixture
def two_workspaces(api: httpx.Client) -> Iterator[list[dict]]:
    made = [api.post("/workspaces", json={"name": name}).json() for name in ("Checkout team", "Search team")]
    yield made
    for workspace in made:
        api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})


@pytest.fixture
def running(api: httpx.Client, two_workspaces: list[dict]) -> list[dict]:
    runtimes = []
    for workspace, alias in zip(two_workspaces, ("buyer", "crawler"), strict=True):
        response = launch(api, workspace["id"], alias)
        assert response.status_code == 200, response.text
        runtimes.append(response.json())
    return runtimes


def test_it_lists_runs_of_every_workspace_with_their_workspace(
    viewer_client: Client, running: list[dict]
) -> None:
    body = viewer_client.get("/runtimes/").content.decode()
    for runtime, name in zip(running, ("Checkout team", "Search team"), strict=True):
        assert f'id="runtime-row-{runtime["id"]}"' in body and name in body
    assert 'id="runtime-rows-all"' in body and "data-live-rows" in body  # kept current by the relay
    assert 'name="runtime"' not in body and "Stop selected" not in body  # a viewer cannot stop


def test_it_filters_by_workspace_and_status(
    viewer_client: Client, running: list[dict], two_workspaces: list[dict], api: httpx.Client
) -> None:
    api.post(f"/workspaces/{two_workspaces[1]['id']}/runtimes/crawler/stop", timeout=60)
    body = viewer_client.get(
        "/runtimes/", {"workspace": two_workspaces[0]["id"]}, headers={"HX-Request": "true"}
    ).content.decode()
    assert running[0]["id"] in body and running[1]["id"] not in body and "<html" not in body
    assert f'data-live-workspace="{two_workspaces[0]["id"]}"' in body  # live rows obey the filter too
    body = viewer_client.get("/runtimes/", {"status": "stopped"}).content.decode()
    assert running[1]["id"] in body and running[0]["id"] not in body


@pytest.mark.django_db(transaction=True)
def test_an_operator_stops_several_at_once_and_each_is_audited(
    operator_client: Client, running: list[dict], api: httpx.Client
) -> None:
    body = operator_client.get("/runtimes/").content.decode()
    assert "Stop selected" in body
    chosen = [f"{r['workspaceId']}/{r['alias']}" for r in running]
    response = operator_client.post("/runtimes/stop/", {"runtime": chosen}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "2 runtime(s) stopped." in response.content.decode()
    for runtime in running:
        assert api.get(f"/runtimes/{runtime['id']}").json()["status"] == "stopped"
        assert AuditEntry.objects.filter(
            action="runtime.stop", target_id=f"{runtime['workspaceId']}/{runtime['alias']}", username="oscar"
        ).exists()


def test_a_viewer_cannot_stop_in_bulk(viewer_client: Client, running: list[dict], api: httpx.Client) -> None:
    chosen = [f"{r['workspaceId']}/{r['alias']}" for r in running]
    assert viewer_client.post("/runtimes/stop/", {"runtime": chosen}).status_code == 403
    assert all(api.get(f"/runtimes/{r['id']}").json()["status"] == "active" for r in running)


def test_the_wall_shows_each_active_runtime_as_a_lazy_view_only_thumbnail(
    viewer_client: Client, running: list[dict]
) -> None:
    body = viewer_client.get("/runtimes/wall/").content.decode()
    sources = [
        attribute(tile, "iframe", "data-thumbnail-src")
        for tile in elements(body, "iframe[data-thumbnail-src]")
    ]
    assert len(sources) >= 2 and all("/embed/live/" in s for s in sources)
    assert 'src="about:blank" loading="lazy"' in body  # nothing loads until the tile is on screen
    viewer_page = httpx.get(sources[0], timeout=30).text
    assert 'data-interactive="false"' in viewer_page
    assert '<header class="controls" hidden>' in viewer_page  # a picture, no tab strip or address bar


def test_an_api_without_the_organisation_wide_list_says_so(viewer_client: Client) -> None:
    use_transport(Faults({"GET /v1/runtimes": api_error(404, "request.not_found", "No such route.")}))
    assert "does not offer runtimes across workspaces" in viewer_client.get("/runtimes/").content.decode()
    assert "so there is no wall" in viewer_client.get("/runtimes/wall/").content.decode()


def test_the_sidebar_leads_to_every_runtime(viewer_client: Client, engine: EngineProcess) -> None:
    assert 'href="/runtimes/"' in viewer_client.get("/").content.decode()


def test_it_filters_by_metadata_in_the_url(
    viewer_client: Client, api: httpx.Client, two_workspaces: list[dict]
) -> None:
    labelled = api.post(
        f"/workspaces/{two_workspaces[0]['id']}/runtimes",
        json={"alias": "tagged", "metadata": {"team": "payments"}},
        timeout=120,
    ).json()
    plain = launch(api, two_workspaces[1]["id"], "plain").json()
    body = viewer_client.get("/runtimes/", {"metadata": "team=payments"}).content.decode()
    assert labelled["id"] in body and plain["id"] not in body and "team=payments</span>" in body
    assert 'hx-push-url="true"' in body and 'data-live-insert="false"' in body  # new runs may not match
