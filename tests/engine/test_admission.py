"""Admission control over real HTTP: past the in-flight limit, a fast 503 that touches nothing;
callers without a key never take keyed capacity; slow bodies and headers are cut with 408.

The engine here takes one request and one long poll or stream at a time. To show that a refusal
does not touch the database, the request holding the one slot is a workspace create stuck on
SQLite's write lock (the test holds it): it holds the engine's one database thread too, so a
request that needed any query (a key never seen before, a list) could not be answered until the
lock goes.
"""

import contextlib
import select
import socket
import sqlite3
import threading
import time
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
            "ENGINE_BODY_MIN_BYTES_PER_SECOND": "0",  # HeldUpload holds its body back on purpose
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


# ---- attackers without keys, and slow clients ----------------------------------------------------


@pytest.fixture(scope="module")
def guarded_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    process = EngineProcess(
        tmp_path_factory.mktemp("guarded-engine"),
        {
            "ENGINE_MAX_REQUESTS_IN_FLIGHT": "4",
            "ENGINE_MAX_UNAUTHENTICATED_IN_FLIGHT": "4",
            "ENGINE_BODY_MIN_BYTES_PER_SECOND": "1000",
            "ENGINE_HEADERS_TIMEOUT_SECONDS": "1",
            "ENGINE_WARM_POOL_SIZE": "0",
        },
    ).start()
    yield process
    process.stop()


class Dribbler:
    """A raw connection that sends a request's headers, then its body a little at a time."""

    def __init__(self, engine: EngineProcess, path: str, key: str | None = None, length: int = 10**6) -> None:
        self.sock = socket.create_connection(("127.0.0.1", engine.port), timeout=30)
        auth = f"Authorization: Bearer {key}\r\n" if key else ""
        self.sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n".encode()
        )

    def send(self, size: int) -> bool:
        try:
            self.sock.sendall(b" " * size)
        except OSError:
            return False  # answered and closed
        return True

    def answer(self) -> bytes:
        """What the engine answered (waits for it)."""
        chunks = []
        with contextlib.suppress(OSError):
            while chunk := self.sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)

    def answered_now(self) -> bool:
        ready, _, _ = select.select([self.sock], [], [], 0)
        return bool(ready)

    def close(self) -> None:
        self.sock.close()


def test_a_crowd_without_keys_never_takes_the_keyed_callers_capacity(guarded_engine: EngineProcess) -> None:
    # Eight bodies to a path without a key, each kept just above the pace floor: four are held,
    # the others are refused at once against the unauthenticated limit.
    crowd = [Dribbler(guarded_engine, "/embed/nowhere") for _ in range(8)]
    stop = threading.Event()

    def feed() -> None:
        while not stop.wait(0.25):
            for dribbler in crowd:
                dribbler.send(600)

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        assert eventually(lambda: sum(d.answered_now() for d in crowd) >= 4, timeout=20)
        refused = [d.answer() for d in crowd if d.answered_now()]
        assert len(refused) == 4 and all(
            b" 503 " in r and b"ENGINE_MAX_UNAUTHENTICATED_IN_FLIGHT" in r for r in refused
        )
        # The keyed callers' capacity is untouched, for keys the engine knew and for new ones.
        with guarded_engine.client("read", timeout=10) as reader:
            for _ in range(3):
                assert reader.get("/auth/whoami").status_code == 200
        with _client(guarded_engine, guarded_engine.create_key("read", "newcomer"), timeout=10) as newcomer:
            assert newcomer.get("/workspaces").status_code == 200
        # A key nobody knows is checked and refused at once; it holds nothing.
        with _client(guarded_engine, "bctrl_not-a-key", timeout=10) as stranger:
            assert stranger.get("/workspaces").status_code == 401
    finally:
        stop.set()
        feeder.join()
        for dribbler in crowd:
            dribbler.close()


@pytest.mark.parametrize("keyed", [True, False], ids=["with-a-key", "without-a-key"])
def test_a_body_that_dribbles_is_cut_with_408(guarded_engine: EngineProcess, keyed: bool) -> None:
    path = "/v1/workspaces" if keyed else "/embed/nowhere"
    dribbler = Dribbler(
        guarded_engine, path, guarded_engine.keys["operator"] if keyed else None, length=100_000
    )
    try:
        dribbler.send(10)
        for _ in range(200):  # one byte every 0.1 s: far below the floor of 1000 bytes/s
            if dribbler.answered_now() or not dribbler.send(1):
                break
            time.sleep(0.1)
        answer = dribbler.answer()
    finally:
        dribbler.close()
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b'"request.timeout"' in answer and b"ENGINE_BODY_MIN_BYTES_PER_SECOND" in answer
    assert b"connection: close" in answer.lower()
    # Nothing was made of it, and the engine serves the next request.
    with guarded_engine.client("operator", timeout=10) as operator:
        assert operator.get("/workspaces").json()["workspaces"] == []


def test_headers_that_take_too_long_are_cut_with_408(guarded_engine: EngineProcess) -> None:
    with socket.create_connection(("127.0.0.1", guarded_engine.port), timeout=30) as sock:
        sock.sendall(b"GET /v1/auth/whoami HTTP/1.1\r\nHost: x\r\n")  # ...and never the blank line
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"ENGINE_HEADERS_TIMEOUT_SECONDS" in answer
