import asyncio
import json
import socket
import sys
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class BoundedHeaders(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, with a limit on how long a request line and headers may take.

    uvicorn bounds headers in size, not in time: a client sending one header byte a second holds
    its connection (and a file descriptor) for as long as it likes, before the engine's guard
    (engine/api/guard.py) ever sees the request. Here the clock starts when a connection opens or
    a new request begins on it, and stops when the headers are complete; past
    ENGINE_HEADERS_TIMEOUT_SECONDS the client gets 408 `request.timeout` and the connection closes.
    """

    headers_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_clock()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.headers_timer is None:
            self._start_clock()

    def on_headers_complete(self) -> None:
        self._stop_clock()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_clock()
        super().connection_lost(exc)

    def _start_clock(self) -> None:
        self.headers_timer = self.loop.call_later(settings.HEADERS_TIMEOUT_SECONDS, self._too_slow)

    def _stop_clock(self) -> None:
        if self.headers_timer is not None:
            self.headers_timer.cancel()
            self.headers_timer = None

    def _too_slow(self) -> None:
        self.headers_timer = None
        if self.transport.is_closing():
            return
        body = json.dumps(_headers_timeout_body()).encode()
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
            + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
            + body
        )
        self.transport.close()


def _headers_timeout_body() -> dict[str, Any]:
    from engine.api.errors import error_body
    from engine.errors import ApiError
    from engine.logs import new_request_id

    seconds = settings.HEADERS_TIMEOUT_SECONDS
    error = ApiError(
        408,
        "request.timeout",
        f"The request's headers did not arrive within {seconds:g} s (ENGINE_HEADERS_TIMEOUT_SECONDS).",
    )
    return error_body(error, new_request_id())


class Command(BaseCommand):
    help = "Run the engine's ASGI server (migrates its database first)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8787)
        parser.add_argument(
            "--fd",
            type=int,
            default=None,
            help="Serve on this already-listening socket instead of binding --host/--port (a "
            "supervisor, or the test suite, binds the port first so no other process can take it).",
        )
        parser.add_argument("--log-level", default="info")

    def handle(
        self, *args: object, host: str, port: int, fd: int | None, log_level: str, **options: object
    ) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        sockets = None
        if fd is not None:
            listener = socket.socket(fileno=fd)
            host, port = listener.getsockname()[:2]
            sockets = [listener]
        from engine.egress import engine_policy

        engine_policy().own_ports.add(port)  # the engine's API: never a runtime's destination
        self.stdout.write(f"BCTRL engine on http://{host}:{port}/v1 (docs: http://{host}:{port}/v1/docs)")
        self.stdout.flush()
        config = uvicorn.Config(
            "engine.asgi:application",
            host=host,
            port=port,
            lifespan="on",
            loop="uvloop",  # pyproject.toml says why
            http=BoundedHeaders,
            ws="websockets-sansio",  # the live viewer's socket; waits for a slow viewer to drain
            # No compression: the viewer's frames are JPEG already, and deflating every CDP message
            # of the gateway costs more time than the bytes it saves on a local or data-centre link.
            ws_per_message_deflate=False,
            log_level=log_level,
            access_log=False,
            timeout_graceful_shutdown=10,
            # Idle keep-alive connections outlive a client's pool (ENGINE_KEEP_ALIVE_SECONDS): a
            # server closing one as the client reuses it drops that request.
            timeout_keep_alive=settings.KEEP_ALIVE_SECONDS,
        )
        server = uvicorn.Server(config)
        server.run(sockets=sockets)
        if not server.started:
            sys.exit(3)  # as uvicorn.run does: the start-up failed (the log says why)
