"""The updates relay across failures and processes, all real: an engine that is stopped and
restarted (on the same address) while updates are produced, two console processes (daphne)
sharing a Redis channel layer, and browsers' websockets on both.

What it protects: every connected socket gets every update exactly once and in order; each
console process keeps one upstream stream (the relay resumes it with Last-Event-ID).
"""

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from tests.support.console_process import ConsoleProcess
from tests.support.engine_process import EngineProcess, eventually
from tests.support.html import definition
from tests.support.updates import newest_update

PASSWORD = "relay correct horse battery"
SEQ = re.compile(r'id="live-cursor"[^>]*data-seq="(\d+)"')


class Socket:
    """A browser's updates websocket, read on a thread of its own into `seqs`."""

    def __init__(self, console: ConsoleProcess, session: httpx.Client) -> None:
        cookie = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
        self.connection: ClientConnection = connect(
            f"ws://127.0.0.1:{console.port}/ws/updates/",
            origin=Origin(console.url),
            additional_headers={"Cookie": cookie},
            open_timeout=20,
        )
        self.seqs: list[int] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        try:
            for message in self.connection:
                self.seqs.extend(int(seq) for seq in SEQ.findall(str(message)))
        except Exception:  # closed at the end of the test
            return

    def close(self) -> None:
        self.connection.close()
        self.reader.join(timeout=10)


@pytest.fixture
def own_engine(tmp_path: Path) -> Iterator[EngineProcess]:
    engine = EngineProcess(tmp_path / "engine").start()
    yield engine
    engine.stop()


def relay_state(session: httpx.Client) -> str:
    return session.get("/live/", params={"region": "relay"}, headers={"HX-Request": "true"}).text


def connections_opened(session: httpx.Client) -> int:
    return int(definition(relay_state(session), "Upstream connections opened"))


def test_every_socket_gets_every_update_once_in_order_across_an_engine_restart(
    own_engine: EngineProcess,
    redis_url: str,
    tmp_path: Path,
) -> None:
    consoles = [
        ConsoleProcess(
            tmp_path / f"console-{n}",
            f"{own_engine.url}/v1",
            own_engine.keys["admin"],
            {"REDIS_URL": redis_url},
        )
        for n in range(2)
    ]
    sockets: list[Socket] = []
    engine = own_engine
    try:
        sessions = []
        for console in consoles:
            console.start()
            console.create_user("alice", "admin", PASSWORD)
            sessions.append(console.sign_in("alice", PASSWORD))
        with engine.client() as api:
            start = newest_update(api)
        sockets = [
            Socket(console, session) for console, session in zip(consoles * 2, sessions * 2, strict=True)
        ]
        # every socket's process relay is reading before the first update
        assert eventually(lambda: all("connected" in relay_state(s) for s in sessions))

        produced: list[str] = []

        def produce(count: int) -> None:
            with engine.client() as api:
                for _ in range(count):
                    produced.append(
                        api.post("/workspaces", json={"name": f"relay {len(produced)}"}).json()["id"]
                    )

        produce(5)
        assert eventually(lambda: all(len(s.seqs) >= 5 for s in sockets))
        engine.stop()  # the streams drop; the relays retry with backoff
        engine = EngineProcess(own_engine.var_dir, port=own_engine.port).start()
        produce(5)  # written before the relays are back: they come with the resumed stream
        with engine.client() as api:
            expected = [
                u["id"]
                for u in api.get("/updates", params={"after": start, "limit": 500}).json()["updates"]
                if u["type"] == "workspace.created"
            ]
        assert len(expected) == 10
        assert eventually(lambda: all(set(expected) <= set(s.seqs) for s in sockets), timeout=60), (
            expected,
            [s.seqs for s in sockets],
            [relay_state(s) for s in sessions],
            [console.log()[-2000:] for console in consoles],
        )
        for socket in sockets:
            got = [seq for seq in socket.seqs if seq in set(expected)]
            assert got == expected  # each once, in order
            assert socket.seqs == sorted(set(socket.seqs))  # and nothing else twice or out of order
        # one upstream stream per process: the first, and the one resumed after the restart
        assert [connections_opened(s) for s in sessions] == [2, 2]
    finally:
        for socket in sockets:
            socket.close()
        for console in consoles:
            console.stop()
        if engine is not own_engine:
            engine.stop()
