"""The gateway's websocket: `/cdp/{runtimeId}?token=`, what Playwright's `connect_over_cdp` and
Puppeteer's `connect({browserWSEndpoint})` open as they are.

The handshake is refused (HTTP 403, nothing opened) for a token that is tampered with, expired,
of another runtime or kind, or whose runtime is not running here. Past it, the connection is a
client of the runtime's CDP multiplexer with the gateway's rules (engine/cdp/rules.py) and the
caller's policy (`policy.py`): each message is counted against its key's rate, judged, and sent;
the browser's answers and events for it come back. Close codes: 4429 over the key's connection
limit, 1001 when the runtime ends (the reason says how), 1013 for a client too slow to read.

While a client is connected the runtime is in use (its idle timeout does not run), and its
connecting, leaving and refused messages are runtime events (`cdp.connected`,
`cdp.disconnected`, `cdp.refused`).

A plain ASGI app rather than a Channels consumer: a consumer closes stale database connections
on a worker thread before every message it dispatches, a thread hop per CDP message that doubled
a Playwright step's time (bench/cdp_gateway.py). Nothing here touches the database.
"""

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID

from engine.cdp.mux import Client, Multiplexer
from engine.cdp.rules import ERROR_CODE
from engine.gateway.clients import judge_for
from engine.gateway.limits import limits
from engine.gateway.tokens import CdpGrant, TokenRefused, read
from engine.runtimes.manager import manager
from engine.runtimes.session import RuntimeSession

CLOSE_LIMIT = 4429
PATH = re.compile(r"/cdp/([0-9a-fA-F-]{36})/?")

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def gateway(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """The ASGI app of `/cdp/{runtimeId}`."""
    if (await receive())["type"] != "websocket.connect":
        return
    opened = _open(scope)
    if opened is None:
        await send({"type": "websocket.close", "code": 1008})  # before accept: HTTP 403
        return
    grant, session = opened
    await send({"type": "websocket.accept"})
    if not limits.open(grant.key_id):
        reason = "This API key holds its ENGINE_CDP_MAX_CONNECTIONS_PER_KEY CDP connections already."
        await send({"type": "websocket.close", "code": CLOSE_LIMIT, "reason": reason})
        return
    try:
        await _relay(grant, session, receive, send)
    finally:
        limits.close(grant.key_id)


def _open(scope: dict[str, Any]) -> tuple[CdpGrant, RuntimeSession] | None:
    match = PATH.fullmatch(scope.get("path", ""))
    token = parse_qs(scope.get("query_string", b"").decode()).get("token", [None])[0]
    if match is None:
        return None
    try:
        runtime_id = UUID(match.group(1))
        grant = read(token, runtime_id)
    except (TokenRefused, ValueError):
        return None
    session = manager.session(runtime_id)
    if session is None or session.closing or session.browser is None or not session.browser.process.alive:
        return None
    return grant, session


async def _relay(grant: CdpGrant, session: RuntimeSession, receive: Receive, send: Send) -> None:
    assert session.browser is not None
    mux: Multiplexer = session.browser.mux
    info = {"keyId": grant.key_id, "keyName": grant.key_name, "label": grant.label}
    client = await mux.connect(judge_for(session, grant.raw_reads), info)
    session.emit("cdp.connected", {"clientId": client.id, **info})
    sender = asyncio.get_running_loop().create_task(_send_outbox(client, send))
    try:
        with session.in_use():  # a connected client keeps the runtime from idling
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    break
                data = message.get("text") or message.get("bytes")
                if data is None:
                    continue
                if not limits.message(grant.key_id):
                    client.post(_rate_limited(data))
                    continue
                await mux.receive(client, data)
                if client.closing:
                    break
    finally:
        await mux.disconnect(client)
        with contextlib.suppress(asyncio.TimeoutError, Exception):
            await asyncio.wait_for(sender, 5)
        sender.cancel()
        if not session.closing:
            session.emit(
                "cdp.disconnected",
                {"clientId": client.id, "keyId": grant.key_id, "messages": client.messages_in},
            )


async def _send_outbox(client: Client, send: Send) -> None:
    while (text := await client.next_out()) is not None:
        await send({"type": "websocket.send", "text": text})
    await send({"type": "websocket.close", "code": client.close_code or 1000, "reason": client.close_reason})


def _rate_limited(data: str | bytes) -> dict[str, Any]:
    try:
        message_id = json.loads(data).get("id")
    except (ValueError, AttributeError):
        message_id = None
    return {
        "id": message_id,
        "error": {
            "code": ERROR_CODE,
            "message": "Refused by the BCTRL gateway (cdp.rate_limited): this API key sends more than "
            "ENGINE_CDP_MAX_MESSAGES_PER_SECOND messages; slow down and send it again.",
            "data": "cdp.rate_limited",
        },
    }
