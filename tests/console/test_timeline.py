"""A run's timeline against the real engine: one list of what the run did (steps, pages, console,
network requests as one entry each, control hand-offs, screenshots), the first failure marked, the
rows around what it shows, a request's details, and what it refuses."""

from collections.abc import Iterator

import httpx
import pytest
from django.test import Client

from dashboard.audit.models import AuditEntry
from tests.console.runtime_support import LiveRuntime, execute, live_runtime
from tests.support import site as served
from tests.support.cdp import Cdp, mint
from tests.support.engine_process import EngineProcess, eventually
from tests.support.html import attribute, elements, text

HX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def storied(engine: EngineProcess, site: served.TestSite) -> Iterator[LiveRuntime]:
    with live_runtime(engine, "storied") as runtime, engine.client("admin") as api:
        execute(api, runtime, {"call": "page.goto", "args": [f"{site.url}/events.html"]})
        execute(api, runtime, {"call": "page.click", "args": ["#log"]})
        # a page's text is untrusted: it must reach the timeline as text
        execute(
            api, runtime, {"call": "page.evaluate", "args": ["console.log('<img src=x onerror=alert(1)>')"]}
        )
        api.post(
            f"/workspaces/{runtime.workspace_id}/execute",
            json={
                "runtime": runtime.alias,
                "steps": [{"call": "page.click", "args": ["#missing"], "options": {"timeoutMs": 300}}],
            },
            timeout=60,
        )
        execute(api, runtime, {"call": "page.screenshot", "args": [{"name": "after-failure"}]})
        yield runtime


def _timeline(client: Client, runtime: LiveRuntime, **params: str) -> str:
    response = client.get(f"{runtime.url}events/", params, headers=HX)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def _rows(body: str) -> list[str]:
    return elements(body, "tr.entry[id]")


def _sequences(body: str) -> list[int]:
    """The sequences of the events listed (their rows' ids are e-<sequence>)."""
    return [int(attribute(row, "tr", "id").removeprefix("e-")) for row in elements(body, 'tr[id^="e-"]')]


def test_it_shows_what_the_run_did_in_one_list(
    viewer_client: Client, storied: LiveRuntime, site: served.TestSite
) -> None:
    body = _timeline(viewer_client, storied)
    assert 'id="timeline"' in body and "<html" not in body
    for words in ("Runtime started", "page.goto ok", "Navigated", f"{site.url}/events.html", "clicked "):
        assert words in body, words
    assert 'id="inspector-socket"' in body  # active: new entries stream in
    # the viewers' comings and goings are a kind shown on request
    assert 'value="viewers">' in body and 'value="network" checked>' in body


def test_a_request_is_one_entry_whatever_its_events(viewer_client: Client, storied: LiveRuntime) -> None:
    body = _timeline(viewer_client, storied)
    page_request = next(row for row in _rows(body) if "GET http" in row and "events.html" in row)
    request_id = attribute(page_request, "tr", "id")
    assert request_id.startswith("net-"), request_id
    assert body.count(f'id="{request_id}"') == 1 and "200" in page_request
    assert 'data-request="' in page_request and 'data-seqs="' in page_request


def test_the_failed_step_is_the_first_failure(viewer_client: Client, storied: LiveRuntime) -> None:
    rows = _rows(_timeline(viewer_client, storied))
    failures = [row for row in rows if 'data-failure="1"' in row]
    assert len(failures) == 1 and "page.click failed" in failures[0] and "#missing" in failures[0]
    # a step is one entry, from its start; picking a failed one seeks to when it failed
    assert attribute(failures[0], "tr", "id").startswith("step-") and 'data-seek="' in failures[0]
    assert not any("running…" in row for row in rows)  # every step's end reached its entry
    # its screenshot, taken after it, is an entry of its own just below, served by the console
    after = rows[rows.index(failures[0]) :]
    assert any("Screenshot:" in row and "/content/" in row for row in after)


def test_a_pages_text_is_shown_as_text(viewer_client: Client, storied: LiveRuntime) -> None:
    body = _timeline(viewer_client, storied)
    assert "<img src=x onerror" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body


def test_it_loads_the_rows_around_what_it_shows(viewer_client: Client, storied: LiveRuntime) -> None:
    sequences = _sequences(_timeline(viewer_client, storied))
    middle = sequences[len(sequences) // 2]
    later = viewer_client.get(f"{storied.url}events/", {"after": middle}, headers=HX)
    later_seqs = _sequences(later.content.decode())
    assert later_seqs and min(later_seqs) > middle and later["X-Timeline-More"] == "0"
    earlier = viewer_client.get(f"{storied.url}events/", {"before": middle}, headers=HX)
    earlier_seqs = _sequences(earlier.content.decode())
    assert earlier_seqs and max(earlier_seqs) < middle and "<section" not in earlier.content.decode()


def test_without_htmx_the_region_opens_the_page(viewer_client: Client, storied: LiveRuntime) -> None:
    response = viewer_client.get(f"{storied.url}events/")
    assert response.status_code == 302 and response["Location"] == storied.url


def test_an_unknown_runtime_shows_the_failure_in_place(viewer_client: Client, storied: LiveRuntime) -> None:
    response = viewer_client.get(f"/workspaces/{storied.workspace_id}/runtimes/ghost/events/", headers=HX)
    body = response.content.decode()
    assert response.status_code == 404 and 'id="timeline"' in body and "no longer exists" in body


@pytest.mark.django_db(transaction=True)
def test_control_hand_offs_are_entries(operator_client: Client, storied: LiveRuntime) -> None:
    for action in ("take", "release"):
        operator_client.post(f"{storied.url}control/", {"action": action}, headers=HX)
    body = _timeline(operator_client, storied)
    assert "oscar took control" in body and "oscar released control" in body
    assert AuditEntry.objects.filter(action="runtime.control.take").count() == 1


def test_a_requests_details_open_from_its_row(viewer_client: Client, storied: LiveRuntime) -> None:
    row = next(r for r in _rows(_timeline(viewer_client, storied)) if "GET http" in r and "events.html" in r)
    request_id = attribute(row, "[data-request]", "data-request")
    seqs = attribute(row, "[data-seqs]", "data-seqs").split(",")
    drawer = viewer_client.get(f"{storied.url}network/{request_id}/", {"seq": seqs}, headers=HX)
    body = drawer.content.decode()
    assert drawer.status_code == 200 and "events.html" in body and "<strong>GET</strong>" in body
    assert "Request headers" in body and "Response headers" in body and "200" in body


def test_the_drawer_shows_only_the_request_it_was_asked_for(
    viewer_client: Client, storied: LiveRuntime
) -> None:
    body = _timeline(viewer_client, storied)
    asked = attribute(body, "[data-request]", "data-request")
    others = [str(seq) for seq in _sequences(body)]  # events that are not this request's
    body = viewer_client.get(
        f"{storied.url}network/{asked}/", {"seq": others[:6]}, headers=HX
    ).content.decode()
    assert "no longer kept" in body and "Request headers" not in body
    # without the row's sequences (an API without them) the drawer looks the request up itself
    found = viewer_client.get(f"{storied.url}network/{asked}/", headers=HX)
    assert found.status_code == 200 and "Request headers" in found.content.decode()
    assert viewer_client.get(f"{storied.url}network/..%2Fetc/", headers=HX).status_code == 404


def test_an_ended_run_opens_at_its_start_and_streams_nothing(
    viewer_client: Client, api: httpx.Client, workspace: dict
) -> None:
    first = api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "short"}, timeout=120).json()
    api.post(f"/workspaces/{workspace['id']}/runtimes/short/stop", timeout=60)
    body = viewer_client.get(f"/runtimes/{first['id']}/events/", headers=HX).content.decode()
    rows = _rows(body)
    assert "Runtime started" in rows[0] and "Runtime stopped" in rows[-1]
    assert 'id="inspector-socket"' not in body and 'data-active="false"' in body


def test_cdp_clients_are_entries_in_words(viewer_client: Client, engine: EngineProcess) -> None:
    """Who connected over CDP, what the gateway refused them, and when they left: said, not dumped."""
    with live_runtime(engine, "cdp-told") as runtime, engine.client("operator") as operator:
        cdp = Cdp(mint(operator, runtime.api_path, label="nightly suite"))
        try:
            assert cdp.send("Browser.close")["error"]["data"] == "cdp.browser_end"
        finally:
            cdp.close()

        def told() -> list[str] | None:
            rows = [text(row) for row in _rows(_timeline(viewer_client, runtime))]
            return rows if any("CDP client left" in row for row in rows) else None

        shown = eventually(told, timeout=10)
    assert isinstance(shown, list), "the client's leaving never reached the timeline"
    assert any("CDP client connected: nightly suite" in r and "API key test-operator" in r for r in shown), (
        shown
    )
    assert any("CDP method refused: Browser.close" in row and "cdp.browser_end" in row for row in shown), (
        shown
    )
    assert not [row for row in shown if "clientId" in row]  # no event dumped as JSON
