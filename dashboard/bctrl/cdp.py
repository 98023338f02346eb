"""CDP connect URLs of a runtime (this engine's `POST .../cdp`) and who is connected (`GET .../cdp`).

The URL carries a short-lived token: the console mints it with its own key, for an operator who
asked, and shows it only to that operator (never in a log line).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboard.bctrl.client import get_client
from dashboard.bctrl.errors import UnexpectedAnswer
from dashboard.bctrl.pages import parse_time


@dataclass(frozen=True)
class ConnectUrl:
    url: str
    expires_at: datetime | None


@dataclass(frozen=True)
class Connection:
    id: str
    key_name: str
    label: str
    connected_at: datetime | None
    messages: int


async def connect_url(workspace_id: str, alias: str, *, label: str, ttl_seconds: int) -> ConnectUrl:
    body = await get_client().post(
        f"workspaces/{workspace_id}/runtimes/{alias}/cdp", json={"label": label, "ttlSeconds": ttl_seconds}
    )
    if not isinstance(body, dict) or not isinstance(body.get("webSocketDebuggerUrl"), str):
        raise UnexpectedAnswer(
            502, "api.unexpected_answer", "The API answered a CDP URL without its address."
        )
    return ConnectUrl(body["webSocketDebuggerUrl"], parse_time(body.get("expiresAt")))


async def connections(workspace_id: str, alias: str) -> list[Connection]:
    body: Any = await get_client().get(f"workspaces/{workspace_id}/runtimes/{alias}/cdp")
    items = body.get("connections") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise UnexpectedAnswer(
            502, "api.unexpected_answer", "The API answered CDP connections without a list."
        )
    return [
        Connection(
            id=str(c.get("id", "")),
            key_name=str(c.get("keyName", "")),
            label=str(c.get("label", "")),
            connected_at=parse_time(c.get("connectedAt")),
            messages=int(c.get("messages") or 0),
        )
        for c in items
        if isinstance(c, dict)
    ]
