"""The viewer websocket: `/embed/live/{runtimeId}/ws?token=`.

The consumer only checks the token, joins the runtime's hub, forwards what the viewer sends, and
sends what the hub leaves in the viewer's outbox (one task, cancelled on disconnect). Close codes
the viewer page understands: 4000 the runtime ended, 4401 the token expired while open, 4403 the
token opens nothing.
"""

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID

from channels.generic.websocket import AsyncWebsocketConsumer

from engine.live.hub import RuntimeHub, Viewer, hubs
from engine.live.tokens import TokenRefused, read
from engine.models import Runtime

MAX_MESSAGE_CHARS = 256 * 1024  # a paste of 100,000 characters, JSON-escaped, fits


class LiveViewerConsumer(AsyncWebsocketConsumer):
    hub: RuntimeHub | None = None
    viewer: Viewer | None = None
    sender: asyncio.Task[None] | None = None
    expiry: asyncio.TimerHandle | None = None

    async def connect(self) -> None:
        runtime_id: UUID = self.scope["url_route"]["kwargs"]["runtime_id"]
        token = parse_qs(self.scope.get("query_string", b"").decode()).get("token", [None])[0]
        await self.accept()
        try:
            grant = read(token, runtime_id, "live")
        except TokenRefused as refused:
            await self._refuse({"type": "refused", "reason": refused.reason}, 4403)
            return
        hub = hubs.get(runtime_id)
        if hub is None or hub.closed:
            runtime = await Runtime.objects.filter(id=runtime_id).afirst()
            status = runtime.status if runtime is not None else "stopped"
            message = runtime.failure_message if runtime is not None else ""
            await self._refuse({"type": "ended", "status": status, "message": message}, 4000)
            return
        self.hub, self.viewer = hub, Viewer(grant)
        self.viewer.post(
            {
                "type": "hello",
                "interactive": grant.interactive,
                "viewerMode": grant.viewer_mode,
                "thumbnail": grant.thumbnail,
                "expiresAt": grant.expires_at.timestamp() * 1000,
            }
        )
        self.sender = asyncio.get_running_loop().create_task(self._send_outbox(self.viewer))
        self.expiry = asyncio.get_running_loop().call_later(grant.seconds_left(), self._expire)
        await hub.join(self.viewer)

    async def _refuse(self, message: dict[str, Any], code: int) -> None:
        await self.send(text_data=json.dumps(message))
        await self.close(code=code)

    def _expire(self) -> None:
        if self.viewer is not None:
            self.viewer.end({"type": "refused", "reason": "expired"}, 4401)

    async def _send_outbox(self, viewer: Viewer) -> None:
        while True:
            messages, frame, close_code = await viewer.outgoing()
            for message in messages:
                await self.send(text_data=message)
            if frame is not None:
                await self.send(bytes_data=frame.packet)
            if close_code is not None:
                await self.close(code=close_code)
                return

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.hub is None or self.viewer is None or not text_data or len(text_data) > MAX_MESSAGE_CHARS:
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            return
        if isinstance(message, dict):
            await self.hub.receive(self.viewer, message)

    async def disconnect(self, code: int) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
        if self.sender is not None:
            self.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.sender
        if self.hub is not None and self.viewer is not None:
            await self.hub.leave(self.viewer)
