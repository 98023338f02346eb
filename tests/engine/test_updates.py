"""The update log over real HTTP: a page for catch-up, an SSE stream that replays then goes live.

The engine is shared by the whole session, and some updates are written in the background (a
runtime another test left behind stopping when idle): each test looks at the updates it caused
and checks order and uniqueness over everything it read, never that nothing else happened.
"""

import threading
import uuid

import httpx
import pytest

from tests.support.engine_process import EngineProcess
from tests.support.updates import newest_update

pytestmark = pytest.mark.database  # run again on PostgreSQL (bin/test)


def test_it_lists_updates_after_a_sequence(api: httpx.Client) -> None:
    start = newest_update(api)
    name = f"upd-{uuid.uuid4().hex[:6]}"
    workspace_id = api.post("/workspaces", json={"name": name}).json()["id"]
    page = api.get("/updates", params={"after": start, "limit": 500}).json()
    ours = [u for u in page["updates"] if u["workspaceId"] == workspace_id]
    assert [(u["type"], u["data"]["name"]) for u in ours] == [("workspace.created", name)]
    assert all(u["id"] > start for u in page["updates"]) and ours[0]["createdAt"].endswith("Z")
    assert page["nextCursor"] is None


def test_it_pages_with_next_cursor(api: httpx.Client) -> None:
    start = newest_update(api)
    prefix = f"updates-{uuid.uuid4().hex[:6]}"
    keys = [f"{prefix}/k{i}" for i in range(3)]
    for key in keys:
        api.put(f"/vault/{key}", json={"username": "u", "password": "p"})
    first = api.get("/updates", params={"after": start, "limit": 2}).json()
    assert len(first["updates"]) == 2 and first["nextCursor"] == str(first["updates"][-1]["id"])
    seen, cursor = first["updates"], first["nextCursor"]
    while cursor is not None:
        page = api.get("/updates", params={"after": cursor, "limit": 2}).json()
        seen, cursor = seen + page["updates"], page["nextCursor"]
    ids = [u["id"] for u in seen]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) and ids[0] > start
    assert [u["data"]["key"] for u in seen if u["data"].get("key", "").startswith(prefix)] == keys


def _read_events(response: httpx.Response, until: str, limit: int = 200) -> list[dict[str, str]]:
    """Events of the stream up to the first whose data contains `until` (at most `limit`)."""
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if "id" in current:
                events.append(current)
                if until in current.get("data", "") or len(events) == limit:
                    return events
            current = {}
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
    tag = uuid.uuid4().hex[:6]
    names = [f"replayed-1-{tag}", f"replayed-2-{tag}", f"live-3-{tag}"]
    live = names[2]
    api.post("/workspaces", json={"name": names[0]})
    api.post("/workspaces", json={"name": names[1]})
    with (
        engine.client("read") as reader,
        reader.stream("GET", "/updates/stream", headers={"Last-Event-ID": str(start)}) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        # A write after the stream opened arrives live, after the replayed ones, exactly once.
        writer = threading.Timer(0.5, lambda: api.post("/workspaces", json={"name": live}))
        writer.start()
        events = _read_events(response, until=f'"{live}"')
    # The event can arrive before the writer has read its answer (PostgreSQL notifies at commit):
    # `api` is not to be used from two threads at once, and the next test uses it.
    writer.join(60)
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids) and ids[0] == start + 1 and len(set(ids)) == len(ids)
    ours = [e for e in events if any(f'"{name}"' in e["data"] for name in names)]
    assert [e["event"] for e in ours] == ["workspace.created"] * 3
    assert [next(n for n in names if f'"{n}"' in e["data"]) for e in ours] == names


def test_the_stream_accepts_after_as_a_query(engine: EngineProcess, api: httpx.Client) -> None:
    start = newest_update(api)
    name = f"after-query-{uuid.uuid4().hex[:6]}"
    api.post("/workspaces", json={"name": name})
    with (
        engine.client("read") as reader,
        reader.stream("GET", "/updates/stream", params={"after": start}) as response,
    ):
        events = _read_events(response, until=f'"{name}"')
    assert events[0]["id"] == str(start + 1) and f'"{name}"' in events[-1]["data"]


def test_a_bad_last_event_id_is_400(api: httpx.Client) -> None:
    response = api.get("/updates/stream", headers={"Last-Event-ID": "nope"})
    assert response.status_code == 400
