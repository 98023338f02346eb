"""Runtime events over real HTTP: what a real page does shows up in order, filterable and waitable."""

import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.support.site import TestSite as Site


@pytest.fixture(scope="module")
def runtime_url(client: httpx.Client, site: Site) -> Iterator[str]:
    """A runtime that has loaded the events page."""
    workspace_id = client.post("/workspaces", json={"name": "event tests"}).json()["id"]
    assert client.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": "watched"}).status_code == 200
    steps = [{"call": "page.goto", "args": [f"{site.url}/events.html"]}]
    client.post(f"/workspaces/{workspace_id}/execute", json={"runtime": "watched", "steps": steps})
    yield f"/workspaces/{workspace_id}/runtimes/watched"
    client.delete(f"/workspaces/{workspace_id}", params={"force": "true"})


def run(client: httpx.Client, runtime_url: str, *steps: dict) -> dict:
    workspace_url = runtime_url.split("/runtimes/")[0]
    return client.post(f"{workspace_url}/execute", json={"runtime": "watched", "steps": list(steps)}).json()


def latest(client: httpx.Client, runtime_url: str) -> int:
    events = client.get(f"{runtime_url}/events", params={"limit": 500}).json()["events"]
    return events[-1]["sequence"]


def test_it_records_the_page_lifecycle_in_order(client: httpx.Client, runtime_url: str, site: Site) -> None:
    events = client.get(f"{runtime_url}/events", params={"limit": 500}).json()["events"]
    types = [e["eventType"] for e in events]
    assert types[:2] == ["runtime.started", "page.created"]
    assert {"step.started", "network.request", "network.response", "page.navigated", "page.loaded"} <= set(
        types
    )
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    navigated = next(e for e in events if e["eventType"] == "page.navigated")
    assert navigated["eventData"]["url"] == f"{site.url}/events.html"
    assert navigated["eventData"]["pageId"].startswith("page_") and navigated["runtime"] == "watched"
    response = next(e for e in events if e["eventType"] == "network.response")
    assert response["eventData"]["status"] == 200 and response["eventData"]["mimeType"] == "text/html"
    finished = next(e for e in events if e["eventType"] == "step.finished")
    assert finished["eventData"]["call"] == "page.goto" and finished["eventData"]["ok"] is True
    assert isinstance(finished["eventData"]["durationMs"], int)


def test_it_filters_by_event_type_and_pages_with_a_cursor(client: httpx.Client, runtime_url: str) -> None:
    only = client.get(f"{runtime_url}/events", params={"eventTypes": "console.message,page.loaded"}).json()
    assert {e["eventType"] for e in only["events"]} == {"console.message", "page.loaded"}
    first = client.get(f"{runtime_url}/events", params={"limit": 2}).json()
    second = client.get(f"{runtime_url}/events", params={"limit": 2, "cursor": first["nextCursor"]}).json()
    assert [e["sequence"] for e in first["events"] + second["events"]] == [1, 2, 3, 4]


def test_wait_answers_at_once_when_a_matching_event_exists(client: httpx.Client, runtime_url: str) -> None:
    body = client.post(f"{runtime_url}/events/wait", json={"eventTypes": ["runtime.started"]}).json()
    assert body["timedOut"] is False and body["event"]["sequence"] == 1 and body["cursor"] == "1"


def test_wait_times_out_with_no_event(client: httpx.Client, runtime_url: str) -> None:
    after = latest(client, runtime_url)
    body = client.post(
        f"{runtime_url}/events/wait", json={"eventTypes": ["page.crashed"], "after": after, "timeoutMs": 200}
    ).json()
    assert body == {"event": None, "cursor": body["cursor"], "timedOut": True}
    assert int(body["cursor"]) >= after


def test_wait_wakes_when_the_event_arrives(client: httpx.Client, runtime_url: str) -> None:
    after = latest(client, runtime_url)
    answers: list[dict] = []
    waiter = threading.Thread(
        target=lambda: answers.append(
            client.post(
                f"{runtime_url}/events/wait",
                json={"eventTypes": ["console.message"], "after": after, "timeoutMs": 60000},
            ).json()
        )
    )
    waiter.start()
    run(client, runtime_url, {"call": "page.click", "args": ["#log"]})
    waiter.join(timeout=60)
    assert answers and answers[0]["timedOut"] is False
    assert answers[0]["event"]["eventData"]["text"].startswith("clicked ")


def test_wait_filters_on_page_id(client: httpx.Client, runtime_url: str) -> None:
    other_page = run(client, runtime_url, {"call": "context.newPage"})["steps"][0]["result"]["pageId"]
    after = latest(client, runtime_url)
    run(
        client,
        runtime_url,
        {"call": "page.click", "args": ["#log"]},
        {"call": "page.close", "ref": other_page},
    )
    mine = client.post(
        f"{runtime_url}/events/wait",
        json={"after": after, "eventTypes": ["console.message", "page.closed"], "pageId": other_page},
    ).json()
    assert mine["event"]["eventType"] == "page.closed" and mine["event"]["eventData"]["pageId"] == other_page


def test_it_reports_page_errors_and_dismisses_dialogs(client: httpx.Client, runtime_url: str) -> None:
    after = latest(client, runtime_url)
    result = run(
        client,
        runtime_url,
        {"call": "page.click", "args": ["#ask"]},
        {"call": "page.textContent", "args": ["#answer"]},
        {"call": "page.click", "args": ["#fail"]},
    )
    assert result["steps"][1]["result"] == "false"  # the confirm was dismissed, so the page went on
    error = client.post(
        f"{runtime_url}/events/wait", json={"eventTypes": ["page.error"], "after": after}
    ).json()
    assert "boom from the page" in error["event"]["eventData"]["message"]
    assert error["event"]["eventData"]["stack"]
    dialog = client.post(
        f"{runtime_url}/events/wait", json={"eventTypes": ["dialog.opened"], "after": after}
    ).json()
    assert dialog["event"]["eventData"]["message"] == "Sure?"


def test_it_turns_a_download_into_an_artifact(client: httpx.Client, runtime_url: str) -> None:
    after = latest(client, runtime_url)
    run(client, runtime_url, {"call": "page.click", "args": ["#download"]})
    started = client.post(
        f"{runtime_url}/events/wait", json={"eventTypes": ["download.started"], "after": after}
    ).json()
    assert started["event"]["eventData"]["suggestedFilename"] == "hello.txt"
    finished = client.post(
        f"{runtime_url}/events/wait", json={"eventTypes": ["download.finished"], "after": after}
    ).json()
    artifact_id = finished["event"]["eventData"]["artifactId"]
    assert artifact_id and finished["event"]["eventData"]["name"] == "hello.txt", finished


def test_it_refuses_a_cursor_that_is_not_a_sequence(client: httpx.Client, runtime_url: str) -> None:
    response = client.get(f"{runtime_url}/events", params={"after": "yesterday"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "request.invalid"
