"""The engine's loopback door to its multiplexers, for clients that only speak CDP over a websocket.

Playwright (`connect_over_cdp`) and browser-use take a `ws://` URL, not a pipe. The engine runs one
websocket server on 127.0.0.1 (a free port) in its own process; each URL it hands out is
`ws://127.0.0.1:<port>/<32 random bytes>`, opens one connection once (`offer`), and names the
multiplexer and judge (if any) the connection gets. A runtime's browser cannot reach it (its
only route out is its egress proxy, which refuses loopback), and a local process that cannot
read the engine's memory cannot guess a path.

Clients from outside the engine never use this door: the gateway's websocket route
(engine/gateway/) speaks to the multiplexer in-process.
"""

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from engine.cdp.mux import Client, Multiplexer
from engine.cdp.rules import Judge

logger = logging.getLogger("engine.cdp")

OFFER_SECONDS = 60  # an offered URL not used by then opens nothing


@dataclass
class _Offer:
    mux: Multiplexer
    judge: Judge | None
    info: dict[str, Any]
    expires: float


class Listener:
    def __init__(self) -> None:
        self._server: Server | None = None
        self._offers: dict[str, _Offer] = {}
        self._lock = asyncio.Lock()
        self.port = 0

    async def start(self) -> None:
        async with self._lock:
            if self._server is None:
                self._server = await serve(
                    self._serve,
                    "127.0.0.1",
                    0,
                    max_size=None,  # Playwright sends whole scripts; the engine trusts its own clients
                    compression=None,
                    ping_interval=None,
                )
                self.port = next(iter(self._server.sockets)).getsockname()[1]

    async def offer(self, mux: Multiplexer, judge: Judge | None, info: dict[str, Any]) -> str:
        """A single-use URL that connects to `mux` (judged by `judge` when given)."""
        await self.start()
        path = secrets.token_urlsafe(32)
        loop = asyncio.get_running_loop()
        self._offers = {p: o for p, o in self._offers.items() if o.expires > loop.time()}
        self._offers[path] = _Offer(mux, judge, info, loop.time() + OFFER_SECONDS)
        return f"ws://127.0.0.1:{self.port}/{path}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, websocket: ServerConnection) -> None:
        request = websocket.request
        offer = self._offers.pop((request.path if request else "").lstrip("/"), None)
        if offer is None or offer.expires < asyncio.get_running_loop().time() or not offer.mux.process.alive:
            await websocket.close(4403, "This URL opens nothing.")
            return
        client = await offer.mux.connect(offer.judge, offer.info)
        await relay(offer.mux, client, websocket)


async def relay(mux: Multiplexer, client: Client, websocket: ServerConnection) -> None:
    """Pump a websocket and a multiplexer client into each other until either side ends."""

    async def outgoing() -> None:
        while (text := await client.next_out()) is not None:
            await websocket.send(text)
        await websocket.close(client.close_code or 1000, client.close_reason)

    sender = asyncio.get_running_loop().create_task(outgoing())
    try:
        async for message in websocket:
            await mux.receive(client, message)
            if client.closing:
                break
    except ConnectionClosed:
        pass
    finally:
        await mux.disconnect(client)
        with contextlib.suppress(asyncio.TimeoutError, ConnectionClosed, Exception):
            await asyncio.wait_for(sender, 5)
        sender.cancel()


listener = Listener()
