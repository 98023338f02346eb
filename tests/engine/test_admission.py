"""Admission control over real HTTP: past the in-flight limit, a fast 503 that touches nothing.

The engine here takes one request and one long poll or stream at a time. To show that a refusal
does not touch the database, the request holding the one slot is a workspace create stuck on
SQLite's write lock (the test holds it): it holds the engine's one database thread too, so a
request that needed any query (a key never seen before, a list) could not be answered until the
lock goes.
"""

import sqlite3
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.support.engine_process import EngineProcess, eventually
from tests.support.in_flight import HeldUpload


@pytest.fixture(scope="module")
def narrow_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    process = EngineProcess(
        tmp_path_factory.mktemp("narrow-engine"),
        {
            "ENGINE_MAX_REQUESTS_IN_FLIGHT": "1",
            "ENGINE_MAX_STREAMS_IN_FLIGHT": "1",
            "ENGINE_WARM_POOL_SIZE": "0",
        },
    ).start()
    yield process
    process.stop()


def _client(engine: EngineProcess, key: str, timeout: float = 10) -> httpx.Client:
    return httpx.Client(
        base_url=f"{engine.url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=timeout
    )


def _assert_busy(response: httpx.Response, setting: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    body = response.json()
    assert body["error"]["code"] == "server.busy"
    assert setting in body["error"]["message"]
    assert body["requestId"] == response.headers["X-Request-Id"]


def test_it_answers_503_with_retry_after_without_touching_the_database(
    narrow_engine: EngineProcess,
) -> None:
    never_seen_key = narrow_engine.create_key("read", "never seen before")
    database = sqlite3.connect(narrow_engine.var_dir / "engine.sqlite3", isolation_level=None)
    database.execute("BEGIN IMMEDIATE")  # the engine's next write waits for this lock
    created: list[httpx.Response] = []
    operator = narrow_engine.client("operator")
    # The one request slot: a create waiting on the write lock, on the engine's database thread.
    writer = threading.Thread(
        target=lambda: created.append(operator.post("/workspaces", json={"name": "held"}))
    )
    try:
        writer.start()
        with narrow_engine.client("read", timeout=10) as reader:
            assert eventually(lambda: reader.get("/auth/whoami").status_code == 503, timeout=10)
        # A key the engine never saw and a list: both would need the blocked database thread.
        with _client(narrow_engine, never_seen_key, timeout=5) as newcomer:
            refused = newcomer.get("/workspaces")
        _assert_busy(refused, "ENGINE_MAX_REQUESTS_IN_FLIGHT")
        assert not created  # the slot's holder still waits for the lock: the 503 did not
    finally:
        database.execute("ROLLBACK")
        database.close()
        writer.join(30)
        operator.close()
    assert created and created[0].status_code == 201, created
    # The slot came back with the answer: the same request is served now.
    with _client(narrow_engine, never_seen_key) as newcomer:
        assert newcomer.get("/workspaces").status_code == 200


def test_long_polls_and_streams_have_their_own_limit(narrow_engine: EngineProcess) -> None:
    held = HeldUpload(narrow_engine)
    try:
        with narrow_engine.client("read") as reader:
            assert eventually(lambda: reader.get("/auth/whoami").status_code == 503, timeout=10)
            # The request slot is taken, the stream slot is not: the updates stream opens.
            with reader.stream("GET", "/updates/stream") as stream:
                assert stream.status_code == 200
                with narrow_engine.client("admin") as other:
                    _assert_busy(other.get("/updates/stream"), "ENGINE_MAX_STREAMS_IN_FLIGHT")
                    _assert_busy(other.get("/workspaces"), "ENGINE_MAX_REQUESTS_IN_FLIGHT")
    finally:
        stored = held.finish()
    assert stored.status_code == 201, stored.text
    assert stored.json()["sizeBytes"] == len(b"first chunk and the rest")
    with narrow_engine.client("read") as reader:
        assert eventually(lambda: reader.get("/auth/whoami").status_code == 200, timeout=10)
