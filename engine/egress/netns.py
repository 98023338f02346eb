"""A runtime's network namespace: only `lo`, and on it only the runtime's egress proxy.

The engine makes the namespace and binds the proxy's listening socket inside it from a thread
of its own (a thread may change namespace alone; a socket stays in the namespace it was made in),
then returns the thread to the engine's namespace. The proxy accepts in the engine's event loop
and connects out from the engine's namespace, under the egress rules; the browser, started in
the namespace by the launcher (engine/egress/jail.py), has nothing else to reach: no route, no
other address, no other listener. Whatever it does with proxy settings (an extension setting
direct mode, WebRTC, a raw socket of a compromised renderer), there is no way out but the proxy.

The namespace lives as long as a file descriptor to it (held here) or a process in it: closing
the descriptor and the browser's exit end it, and an engine killed outright leaves nothing
behind (no mount, no name in /run/netns). The launcher enters it through
/proc/<engine pid>/fd/<fd>, checked against the namespace's inode.
"""

import ctypes
import fcntl
import os
import socket
import struct
import threading
from dataclasses import dataclass

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1

_libc = ctypes.CDLL(None, use_errno=True)


class NamespaceError(OSError):
    pass


@dataclass
class NetNamespace:
    fd: int
    inode: int

    @property
    def path(self) -> str:
        """A path another process (the launcher, as root) can open to enter the namespace."""
        return f"/proc/{os.getpid()}/fd/{self.fd}"

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _call(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise NamespaceError(errno, f"{what}: {os.strerror(errno)}")


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _make(backlog: int) -> tuple[NetNamespace, socket.socket]:
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _call(_libc.unshare(CLONE_NEWNET), "unshare a network namespace")
        try:
            try:
                _loopback_up()
            except OSError as exc:
                raise NamespaceError(exc.errno, f"bring lo up in it (CAP_NET_ADMIN): {exc.strerror}") from exc
            fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            namespace = NetNamespace(fd, os.fstat(fd).st_ino)
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setblocking(False)
            listener.bind(("127.0.0.1", 0))
            listener.listen(backlog)
            return namespace, listener
        finally:
            # Back where the thread came from; a thread that cannot go back must not run anything else.
            _call(_libc.setns(home, CLONE_NEWNET), "return to the engine's network namespace")
    finally:
        os.close(home)


def create(backlog: int = 128) -> tuple[NetNamespace, socket.socket]:
    """A new namespace with `lo` up, and a listening socket on 127.0.0.1 inside it (port chosen)."""
    result: list[tuple[NetNamespace, socket.socket]] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(_make(backlog))
        except BaseException as exc:
            failure.append(exc)

    # A thread of its own, ended afterwards: no pooled thread ever runs in a namespace it left.
    thread = threading.Thread(target=run, name="netns", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


def available() -> str | None:
    """None when this process can make network namespaces; else why not (for the log and /healthz)."""
    try:
        namespace, listener = create(1)
    except OSError as exc:
        return str(exc)
    listener.close()
    namespace.close()
    return None
