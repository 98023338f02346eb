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
"""

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID

from channels.generic.websocket import AsyncWebsocketConsumer

from engine.cdp.mux import Client, Multiplexer
from engine.cdp.rules import ERROR_CODE
from engine.gateway.clients import judge_for
from engine.gateway.limits import limits
from engine.gateway.tokens import CdpGrant, TokenRefused, read
from engine.runtimes.manager import manager
from engine.runtimes.session import RuntimeSession

CLOSE_LIMIT = 4429


class GatewayConsumer(AsyncWebsocketConsumer):
    grant: CdpGrant | None = None
    mux: Multiplexer | None = None
    client: Client | None = None
    session: RuntimeSession | None = None
    sender: asyncio.Task[None] | None = None
    in_use: contextlib.ExitStack | None = None

    async def connect(self) -> None:
        runtime_id: UUID = self.scope["url_route"]["kwargs"]["runtime_id"]
        token = parse_qs(self.scope.get("query_string", b"").decode()).get("token", [None])[0]
        try:
            grant = read(token, runtime_id)
        except TokenRefused:
            await self.close()  # before accept: the handshake fails (403), nothing is opened
            return
        session = manager.session(runtime_id)
        if session is None or session.closing or session.browser is None or not session.browser.process.alive:
            await self.close()
            return
        await self.accept()
        if not limits.open(grant.key_id):
            await self.close(
                CLOSE_LIMIT,
                "This API key holds its ENGINE_CDP_MAX_CONNECTIONS_PER_KEY CDP connections already.",
            )
            return
        self.grant, self.session, self.mux = grant, session, session.browser.mux
        info = {"keyId": grant.key_id, "keyName": grant.key_name, "label": grant.label}
        self.client = await self.mux.connect(judge_for(session, grant.raw_reads), info)
        self.in_use = contextlib.ExitStack()
        self.in_use.enter_context(session.in_use())  # a connected client keeps the runtime from idling
        session.emit("cdp.connected", {"clientId": self.client.id, **info})
        self.sender = asyncio.get_running_loop().create_task(self._send_outbox(self.client))

    async def _send_outbox(self, client: Client) -> None:
        while (text := await client.next_out()) is not None:
            await self.send(text_data=text)
        await self.close(client.close_code or 1000, client.close_reason)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.client is None or self.mux is None or self.grant is None:
            return
        data = text_data if text_data is not None else bytes_data
        if data is None:
            return
        if not limits.message(self.grant.key_id):
            self.client.post(_rate_limited(data))
            return
        await self.mux.receive(self.client, data)

    async def disconnect(self, code: int) -> None:
        if self.client is None or self.mux is None or self.grant is None:
            return
        client, self.client = self.client, None
        await self.mux.disconnect(client)
        if self.sender is not None:
            self.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.sender
        limits.close(self.grant.key_id)
        if self.in_use is not None:
            self.in_use.close()
        if self.session is not None and not self.session.closing:
            self.session.emit(
                "cdp.disconnected",
                {"clientId": client.id, "keyId": self.grant.key_id, "messages": client.messages_in},
            )


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
