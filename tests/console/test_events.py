"""The runtime's event list against the real engine: filters by type, pages, live refresh."""

import re
from collections.abc import Iterator

import pytest
from django.test import Client

from tests.console.runtime_support import LiveRuntime, execute, live_runtime
from tests.support import site as served
from tests.support.engine_process import EngineProcess


@pytest.fixture(scope="module")
def live(engine: EngineProcess, site: served.TestSite) -> Iterator[LiveRuntime]:
    with live_runtime(engine, "eventful") as runtime, engine.client("admin") as api:
        # Enough visits for more than one page of events (50 a page): each makes several.
        visits = [{"call": "page.goto", "args": [f"{site.url}/index.html?visit={n}"]} for n in range(12)]
        execute(api, runtime, *visits)
        yield runtime


def _rows(body: str) -> list[str]:
    return [line for line in body.splitlines() if '<span class="badge">' in line]


def _sequences(body: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr class="event[^"]*"><td class="mono small">(\d+)</td>', body)]


def test_it_lists_the_runtime_events(viewer_client: Client, live: LiveRuntime) -> None:
    body = viewer_client.get(f"{live.url}events/", headers={"HX-Request": "true"}).content.decode()
    assert 'id="events"' in body and "<html" not in body
    assert "runtime.started" in body and "page.navigated" in body


def test_it_filters_events_by_type(viewer_client: Client, live: LiveRuntime, site: served.TestSite) -> None:
    response = viewer_client.get(
        f"{live.url}events/", {"type": "page.navigated"}, headers={"HX-Request": "true"}
    )
    rows = _rows(response.content.decode())
    assert rows and all("page.navigated" in row for row in rows)
    assert any(f"{site.url}/index.html" in row for row in rows)


def test_it_filters_by_several_types(viewer_client: Client, live: LiveRuntime) -> None:
    response = viewer_client.get(
        f"{live.url}events/", {"type": ["runtime.started", "page.navigated"]}, headers={"HX-Request": "true"}
    )
    kinds = {row.split('<span class="badge">')[1].split("<")[0] for row in _rows(response.content.decode())}
    assert kinds == {"runtime.started", "page.navigated"}


def test_the_detail_page_keeps_the_filter_and_streams_new_events(
    viewer_client: Client, live: LiveRuntime
) -> None:
    body = viewer_client.get(live.url, {"type": "page.navigated"}).content.decode()
    assert 'value="page.navigated" checked' in body
    # new events stream into the live inspector (dashboard/live); nothing polls
    assert f"{live.url}inspector/" in body and "every 5s" not in body


def test_it_pages_with_the_opaque_cursor(viewer_client: Client, live: LiveRuntime) -> None:
    """The API's nextCursor goes back as `cursor`, never as `after` (which names an event)."""
    first = viewer_client.get(f"{live.url}events/", headers={"HX-Request": "true"}).content.decode()
    cursor_marker = "events/?cursor="
    assert cursor_marker in first and "Next page" in first
    cursor = first.split(cursor_marker, 1)[1].split("&", 1)[0].split('"', 1)[0]
    second = viewer_client.get(
        f"{live.url}events/", {"cursor": cursor}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "First page" in second
    # by sequence, not by row text: two console messages of one page can read the same
    first_page, second_page = _sequences(first), _sequences(second)
    assert first_page and second_page and min(second_page) > max(first_page)


def test_without_htmx_the_events_link_opens_the_detail_page(viewer_client: Client, live: LiveRuntime) -> None:
    response = viewer_client.get(f"{live.url}events/", {"type": "page.loaded"})
    assert response.status_code == 302
    assert response["Location"].startswith(live.url) and "type=page.loaded" in response["Location"]


def test_an_unknown_runtime_shows_the_failure_in_place(viewer_client: Client, live: LiveRuntime) -> None:
    url = f"/workspaces/{live.workspace_id}/runtimes/ghost/events/"
    body = viewer_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'id="events"' in body and "no longer exists" in body
