"""The update log over real HTTP: a page for catch-up, an SSE stream that replays then goes live."""

import threading
import uuid

import httpx

from tests.support.engine_process import EngineProcess
from tests.support.updates import newest_update


def test_it_lists_updates_after_a_sequence(api: httpx.Client) -> None:
    start = newest_update(api)
    name = f"upd-{uuid.uuid4().hex[:6]}"
    workspace_id = api.post("/workspaces", json={"name": name}).json()["id"]
    page = api.get("/updates", params={"after": start}).json()
    assert [(u["type"], u["workspaceId"], u["data"]["name"]) for u in page["updates"]] == [
        ("workspace.created", workspace_id, name)
    ]
    assert page["updates"][0]["id"] > start and page["updates"][0]["createdAt"].endswith("Z")
    assert page["nextCursor"] is None


def test_it_pages_with_next_cursor(api: httpx.Client) -> None:
    start = newest_update(api)
    for i in range(3):
        api.put(f"/vault/updates-{uuid.uuid4().hex[:6]}/k{i}", json={"username": "u", "password": "p"})
    first = api.get("/updates", params={"after": start, "limit": 2}).json()
    rest = api.get("/updates", params={"after": first["nextCursor"], "limit": 2}).json()
    ids = [u["id"] for u in first["updates"] + rest["updates"]]
    assert len(ids) == 3 and ids == sorted(ids)


def _read_events(response: httpx.Response, count: int) -> list[dict[str, str]]:
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if "id" in current:
                events.append(current)
            current = {}
            if len(events) == count:
                return events
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(": ")
        current[field] = value
    return events


def test_the_stream_replays_after_last_event_id_then_goes_live(
    engine: EngineProcess, api: httpx.Client
) -> None:
    start = newest_update(api)
    api.post("/workspaces", json={"name": "replayed-1"})
    api.post("/workspaces", json={"name": "replayed-2"})
    with (
        engine.client("read") as reader,
        reader.stream("GET", "/updates/stream", headers={"Last-Event-ID": str(start)}) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        # A write after the stream opened arrives live, after the replayed ones, exactly once.
        threading.Timer(0.5, lambda: api.post("/workspaces", json={"name": "live-3"})).start()
        events = _read_events(response, 3)
    assert [e["event"] for e in events] == ["workspace.created"] * 3
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids) and ids[0] == start + 1 and len(set(ids)) == 3
    assert ['"replayed-1"' in events[0]["data"], '"live-3"' in events[2]["data"]] == [True, True]


def test_the_stream_accepts_after_as_a_query(engine: EngineProcess, api: httpx.Client) -> None:
    start = newest_update(api)
    api.post("/workspaces", json={"name": "after-query"})
    with (
        engine.client("read") as reader,
        reader.stream("GET", "/updates/stream", params={"after": start}) as response,
    ):
        events = _read_events(response, 1)
    assert events[0]["id"] == str(start + 1)


def test_a_bad_last_event_id_is_400(api: httpx.Client) -> None:
    response = api.get("/updates/stream", headers={"Last-Event-ID": "nope"})
    assert response.status_code == 400
