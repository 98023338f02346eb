"""Websocket routes of the engine (served by engine/asgi.py next to Django's HTTP)."""

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import path, re_path

from engine.live.consumers import LiveViewerConsumer


class NoSuchSocket(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.close(code=4404)


websocket_urlpatterns = [
    path("embed/live/<uuid:runtime_id>/ws", LiveViewerConsumer.as_asgi()),
    re_path(r"", NoSuchSocket.as_asgi()),
]
