import socket
import sys

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


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
