"""Several console processes behind one port: one listening socket, shared by N daphne processes.

The parent binds and listens once and hands the socket to every daphne by file descriptor
(`--fd`); each process accepts from it, so the kernel spreads connections over whichever is free
to take one. No balancer to run, nothing platform-specific (SO_REUSEPORT would need each daphne
to bind by itself, which daphne cannot ask Twisted for), and the port is held from before the
first process starts until the last one stops, so a restarting worker never loses it.

What is per process and what is shared (see docs/console.md, "Several console processes"): each
process keeps its own updates relay (one upstream stream) and serves its own sockets; sessions
live in the database, and the sign-in limit and the channel layer in Redis, so they span them.
"""

import socket
import sys
from pathlib import Path

BACKLOG = 1024  # connections the kernel queues while every process is busy


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on host:port (port 0: a free one, read back from the socket).

    IPv4 only: daphne adopts an inherited socket as AF_INET (its `fd:` endpoint takes no family).
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # SO_REUSEADDR: a restart binds at once even while the last run's connections sit in TIME_WAIT
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(BACKLOG)
    return listener


def daphne_command(listener: socket.socket) -> list[str]:
    """The command of one console process serving `listener` (which it must inherit: pass_fds)."""
    return [
        str(Path(sys.executable).with_name("daphne")),
        *("--fd", str(listener.fileno())),
        "dashboard.asgi:application",
    ]
