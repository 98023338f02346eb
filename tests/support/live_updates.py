"""Clients of the console's updates websocket through its real ASGI stack, signed in as a user."""

import asyncio

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from dashboard.asgi import application


def session_cookie(user: User) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def connect(user: User | None, path: str = "/ws/updates/", origin: bytes = b"http://localhost"):  # type: ignore[no-untyped-def]
    headers = [(b"origin", origin)]
    if user is not None:
        headers.append(await sync_to_async(session_cookie)(user))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect(timeout=20)
    return communicator, connected, code


async def messages_until(communicator: WebsocketCommunicator, marker: str, timeout: float = 20) -> str:
    """Everything received until a message containing `marker` (joined)."""
    received: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise AssertionError(f"no {marker!r} in {received!r}")
        try:
            text = await communicator.receive_from(timeout=left)
        except TimeoutError:
            raise AssertionError(f"no {marker!r} in {received!r}") from None
        received.append(text)
        if marker in text:
            return "".join(received)
