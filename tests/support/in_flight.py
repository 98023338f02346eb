"""A request the engine keeps in flight until the test lets it finish (for admission tests)."""

import threading
from collections.abc import Iterator

import httpx

from tests.support.engine_process import EngineProcess


class HeldUpload:
    """A storage upload whose body stops after its first chunk until `finish()`: one request in flight."""

    def __init__(self, engine: EngineProcess) -> None:
        self.release = threading.Event()
        self.response: httpx.Response | None = None
        self.client = engine.client("operator")
        self.thread = threading.Thread(target=self._send)
        self.thread.start()

    def _body(self) -> Iterator[bytes]:
        yield b"first chunk "
        self.release.wait(30)
        yield b"and the rest"

    def _send(self) -> None:
        self.response = self.client.put("/storage/admission/objects/held.txt", content=self._body())

    def finish(self) -> httpx.Response:
        self.release.set()
        self.thread.join(30)
        self.client.close()
        assert self.response is not None
        return self.response
