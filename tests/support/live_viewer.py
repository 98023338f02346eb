"""The engine's live viewer as its tests drive it: a launched runtime, its embed's iframe URL, a raw
viewer socket, and where live.html's controls are."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from tests.support.engine_process import EngineProcess

BUTTON = (250 / 1280, 160 / 720)  # the centre of #press, as fractions of the 1280x720 page
FIELD = (350 / 1280, 330 / 720)


@dataclass
class Runtime:
    api: httpx.Client
    workspace_id: str
    alias: str
    id: str

    @property
    def url(self) -> str:
        return f"/workspaces/{self.workspace_id}/runtimes/{self.alias}"

    def execute(self, *steps: dict) -> dict:
        response = self.api.post(
            f"/workspaces/{self.workspace_id}/execute", json={"runtime": self.alias, "steps": list(steps)}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def read(self, call: str, *args: object) -> object:
        return self.execute({"call": call, "args": list(args)})["steps"][0]["result"]

    def embed(self, api: httpx.Client | None = None, **options: object) -> httpx.Response:
        return (api or self.api).post(f"{self.url}/embed/live", json=options)

    def events(self, *types: str) -> list[dict]:
        return self.api.get(
            f"{self.url}/events", params={"eventTypes": ",".join(types), "limit": 500}
        ).json()["events"]


def iframe_url(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["iframeUrl"]


@contextmanager
def viewer_socket(engine: EngineProcess, iframe: str, first_frame: bool = True) -> Iterator[ClientConnection]:
    """A raw viewer websocket for an iframe URL, once it has received the first frame (unless not asked)."""
    parts = urlsplit(iframe)
    token = parse_qs(parts.query)["token"][0]
    with connect(
        f"ws://127.0.0.1:{engine.port}{parts.path}/ws?token={token}",
        origin=Origin(f"http://127.0.0.1:{engine.port}"),
        open_timeout=20,
    ) as socket:
        while first_frame and not isinstance(socket.recv(timeout=20), bytes):
            pass
        yield socket
