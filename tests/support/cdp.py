"""A runtime's CDP endpoint: minting its URL, and a bare client of it."""

import json
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect


def mint(client: httpx.Client, runtime_url: str, **body: Any) -> str:
    response = client.post(f"{runtime_url}/cdp", json=body)
    assert response.status_code == 200, response.text
    url: str = response.json()["webSocketDebuggerUrl"]
    return url


class Cdp:
    """A bare CDP client (what Puppeteer or any library sends, one message at a time)."""

    def __init__(self, url: str) -> None:
        self.socket: ClientConnection = connect(url, max_size=None)
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.socket.send(json.dumps(message))
        while True:
            answer = json.loads(self.socket.recv(timeout=30))
            if answer.get("id") == self.next_id:
                return answer
            self.events.append(answer)

    def page_session(self) -> str:
        targets = self.send("Target.getTargets")["result"]["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        return str(
            self.send("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})["result"][
                "sessionId"
            ]
        )

    def close(self) -> None:
        self.socket.close()
