"""One Chromium process and its CDP pipe: started by the engine, owned by nobody else.

Chromium's `--remote-debugging-pipe` reads CDP messages (JSON, each ended by a NUL byte) from fd 3
and writes them to fd 4; no port is opened on any interface. The process is started with
`os.posix_spawn`, which maps our pipe ends onto fds 3 and 4 in the child without running Python
code after the fork (`preexec_fn` is unsafe in a threaded server), in a session of its own so
the whole process tree can be ended by its group. Whatever sits in front of Chromium (the
launcher: namespaces, a uid of its own) must `exec` it or pass fds 3 and 4 through.

Its end is noticed three ways, whichever comes first: the pipe closes (Chromium closes its end
when it exits), or the process exits (a pidfd becomes readable; the child is reaped there, so no
zombie is left), and `close()` ends it on purpose: `Browser.close`, then SIGKILL to the group
after a grace period. A Chromium whose pipe closes exits by itself, so an engine that dies
without closing its browsers does not leave them running.

Chromium's stderr is kept (its last lines) for the message of a launch that fails; nothing of it
reaches the engine's log otherwise (it is chatty: D-Bus, GPU probing).
"""

import asyncio
import collections
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.cdp import wire

logger = logging.getLogger("engine.cdp")

STDERR_LINES_KEPT = 40
READ_LIMIT = 512 * 1024 * 1024  # one CDP message (a full-page screenshot can be tens of MB)


class BrowserExited(Exception):
    """The browser's process ended (or never started): `log` is the end of its stderr."""

    def __init__(self, message: str, log: str = "") -> None:
        super().__init__(message + (f"\n{log}" if log else ""))
        self.log = log


class BrowserProcess:
    """A started Chromium: `send` CDP to it; `on_message` gets what it says; `on_exit` its end."""

    def __init__(self, pid: int, on_message: Callable[[dict[str, Any]], None]) -> None:
        self.pid = pid
        self.on_message = on_message
        self.on_exit: list[Callable[[], None]] = []
        self.exited = asyncio.get_running_loop().create_future()
        self.stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES_KEPT)
        self._writer: asyncio.WriteTransport | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pidfd: int | None = None

    @classmethod
    async def spawn(
        cls,
        argv: Sequence[str],
        env: Mapping[str, str],
        on_message: Callable[[dict[str, Any]], None],
    ) -> "BrowserProcess":
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        devnull = os.open(os.devnull, os.O_RDONLY)
        try:
            pid = os.posix_spawn(  # noqa: ASYNC221 - returns as soon as the child has exec-ed
                argv[0],
                list(argv),
                dict(env),
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, devnull, 0),
                    (os.POSIX_SPAWN_DUP2, stderr_w, 1),
                    (os.POSIX_SPAWN_DUP2, stderr_w, 2),
                    (os.POSIX_SPAWN_DUP2, to_browser_r, 3),
                    (os.POSIX_SPAWN_DUP2, from_browser_w, 4),
                ],
                setsid=True,
            )
        except OSError as exc:
            for fd in (to_browser_r, to_browser_w, from_browser_r, from_browser_w, stderr_r):
                os.close(fd)
            raise BrowserExited(f"{argv[0]} could not be started: {exc}") from exc
        finally:
            for fd in (to_browser_r, from_browser_w, stderr_w, devnull):
                with contextlib.suppress(OSError):
                    os.close(fd)
        process = cls(pid, on_message)
        await process._wire(to_browser_w, from_browser_r, stderr_r)
        return process

    async def _wire(self, write_fd: int, read_fd: int, stderr_fd: int) -> None:
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: _Messages(self), os.fdopen(read_fd, "rb", 0))
        errors = asyncio.StreamReader()
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(errors), os.fdopen(stderr_fd, "rb", 0)
        )
        self._writer, _ = await loop.connect_write_pipe(asyncio.Protocol, os.fdopen(write_fd, "wb", 0))
        self._tasks = [loop.create_task(self._read_stderr(errors), name=f"cdp-stderr-{self.pid}")]
        try:
            self._pidfd = os.pidfd_open(self.pid)
            loop.add_reader(self._pidfd, self._reap)
        except OSError:  # no pidfds (old kernel): the pipe's end is the only sign
            self._pidfd = None

    @property
    def alive(self) -> bool:
        return not self.exited.done()

    def send(self, message: dict[str, Any]) -> None:
        if self._writer is None or self._writer.is_closing():
            raise BrowserExited("The browser has exited.")
        self._writer.write(wire.encode(message) + b"\0")

    def log_tail(self) -> str:
        return "\n".join(self.stderr)

    def received(self, data: bytes) -> None:
        """One whole message from the pipe (its NUL cut off)."""
        try:
            message = wire.decode(data)
        except ValueError:
            logger.warning("Browser %s sent a CDP message that is not JSON; ignored", self.pid)
            return
        try:
            self.on_message(message)
        except Exception:
            logger.exception("Handling a CDP message of browser %s failed", self.pid)

    async def _read_stderr(self, errors: asyncio.StreamReader) -> None:
        with contextlib.suppress(Exception):
            async for line in errors:
                self.stderr.append(line.decode(errors="replace").rstrip()[:500])

    def _reap(self) -> None:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, os.WNOHANG)
        loop = asyncio.get_running_loop()
        if self._pidfd is not None:
            loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        self.kill()  # children left behind by a main process that died (they die with the group)
        self._ended()

    def _ended(self) -> None:
        if self.exited.done():
            return
        self.exited.set_result(None)
        if self._writer is not None:
            self._writer.close()
        for callback in self.on_exit:
            try:
                callback()
            except Exception:
                logger.exception("A browser-exit callback failed")

    def kill(self) -> None:
        """SIGKILL the browser's whole process group (its renderers, zygotes, GPU process)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    async def close(self, grace_seconds: float) -> None:
        """End the browser: Browser.close (profiles flush), then SIGKILL after `grace_seconds`."""
        if self.alive:
            with contextlib.suppress(BrowserExited):
                self.send({"id": 0, "method": "Browser.close"})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.exited), grace_seconds)
        self.kill()
        if self._pidfd is not None:  # killed before the pidfd said so: reap it now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._reaped()), grace_seconds)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _reaped(self) -> None:
        while self._pidfd is not None:
            await asyncio.sleep(0.02)


class _Messages(asyncio.Protocol):
    """The pipe from Chromium: each NUL-ended message is handed on as soon as it is whole, in the
    read's own callback (no reader task to wake: one event-loop turn less per message)."""

    def __init__(self, process: BrowserProcess) -> None:
        self.process = process
        self.buffer = bytearray()
        self.scanned = 0  # the buffer holds no NUL before this offset

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        start = 0
        while (end := self.buffer.find(b"\0", max(start, self.scanned))) != -1:
            self.process.received(bytes(self.buffer[start:end]))
            start = end + 1
            if self.process.exited.done():
                return
        del self.buffer[:start]
        self.scanned = len(self.buffer)
        if self.scanned > READ_LIMIT:
            logger.error(
                "Browser %s sent a CDP message over %d bytes; closing it", self.process.pid, READ_LIMIT
            )
            self.buffer.clear()
            self.process.kill()

    def connection_lost(self, exc: Exception | None) -> None:
        self.process._ended()
