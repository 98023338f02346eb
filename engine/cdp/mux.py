"""The CDP multiplexer: one browser pipe, any number of clients, each with a browser of its own view.

Chromium has one CDP connection here (its pipe, `process.py`). Every client of it (the engine's
own Playwright, each gateway connection, a browser-use agent) gets its own *browser session*
(`Target.attachToBrowserTarget`), so clients never see each other's state:
- a client's messages without a `sessionId` go to its browser session; answers and events on
  that session come back to it without one, as if it had the browser to itself;
- sessions a client attaches (or auto-attaches, at any depth) belong to it alone: their events
  reach only it, and a message naming another client's session is answered "Session not found";
- message ids are remapped per client (each numbers its own from 1);
- when a client leaves, its browser session is detached, which detaches every session under it
  and drops its overrides (emulation, interception, auto-attach pauses) in Chromium itself.

Guarded clients (`judge` set) have each message judged by `rules.Judge` before it is sent; a
refused message is answered with a CDP error and never reaches the browser.

The multiplexer also owns what belongs to the browser rather than to a client: the size of each
window (`Browser.setContentsSize` to the runtime's viewport, on its root session, so no client's
emulation or detach changes it), and telling every client when the browser is gone.
"""

import asyncio
import collections
import contextlib
import itertools
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engine.cdp import wire
from engine.cdp.process import BrowserExited, BrowserProcess
from engine.cdp.rules import Judge, Refused

logger = logging.getLogger("engine.cdp")

ATTACH_TIMEOUT_SECONDS = 30
MAX_QUEUED_BYTES = 64 * 1024 * 1024  # a guarded client this far behind is closed (1013)
CLOSE_GOING_AWAY = 1001
BROWSER_UI = re.compile(r"chrome://[^/]*\.top-chrome(/|$)")
TARGET_EVENTS = frozenset(
    {
        "Target.attachedToTarget",
        "Target.detachedFromTarget",
        "Target.targetCreated",
        "Target.targetInfoChanged",
        "Target.targetDestroyed",
    }
)
CLOSE_TRY_AGAIN = 1013


@dataclass
class Client:
    """One CDP client of a browser. `info` says who it is (shown in "who is connected")."""

    judge: Judge | None
    info: dict[str, Any]
    id: str = field(default_factory=lambda: f"cdp_{secrets.token_hex(6)}")
    browser_session: str = ""
    sessions: dict[str, str | None] = field(default_factory=dict)  # session id -> its target id
    connected_at: float = field(default_factory=time.time)
    messages_in: int = 0
    close_code: int | None = None
    close_reason: str = ""
    _outbox: collections.deque[str] = field(default_factory=collections.deque)
    _queued: int = 0
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def closing(self) -> bool:
        return self.close_code is not None

    def post(self, message: dict[str, Any]) -> None:
        if self.closing:
            return
        text = self.judge.shown(message) if self.judge is not None else wire.encode(message).decode()
        self._outbox.append(text)
        self._queued += len(text)
        self._ready.set()
        if self.judge is not None and self._queued > MAX_QUEUED_BYTES:
            self.close(
                CLOSE_TRY_AGAIN, "The client reads too slowly: over 64 MB of CDP messages wait for it."
            )

    def close(self, code: int, reason: str) -> None:
        """Ask the client's transport to close (after what is already queued)."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason[:120]
            self._ready.set()

    async def next_out(self) -> str | None:
        """The next message for the client, or None once it must close."""
        while not self._outbox:
            if self.closing:
                return None
            self._ready.clear()
            await self._ready.wait()
        text = self._outbox.popleft()
        self._queued -= len(text)
        return text

    def public(self) -> dict[str, Any]:
        connected_at = datetime.fromtimestamp(self.connected_at, tz=UTC)
        return {"id": self.id, "connectedAt": connected_at, "messages": self.messages_in, **self.info}


class Multiplexer:
    def __init__(self, process: BrowserProcess, viewport: dict[str, int] | None = None) -> None:
        self.process = process
        self.viewport = viewport
        self.clients: dict[str, Client] = {}
        self.on_change: list[Callable[[], None]] = []  # a client came or went
        self.on_activity: Callable[[], None] | None = None  # a guarded client sent something
        self._owners: dict[str, Client] = {}  # every session id of every client -> that client
        self._pending: dict[int, tuple[Client, int, str]] = {}  # our id -> (client, its id, method)
        self._root_waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._sized: set[int] = set()  # windows already given the runtime's viewport
        self._hidden: set[str] = set()  # target ids of Chromium's own UI pages
        self._tasks: set[asyncio.Task[Any]] = set()
        self.gone_reason = ""
        process.on_message = self.route
        process.on_exit.append(self._browser_gone)

    # ---- the browser's side -------------------------------------------------------------

    async def start(self, timeout: float = ATTACH_TIMEOUT_SECONDS) -> None:
        """Watch new windows (to size them) and size the ones already open. The first command
        is answered once Chromium is up: `timeout` bounds its start."""
        await self.root("Target.setDiscoverTargets", {"discover": True}, timeout)
        targets = await self.root("Target.getTargets")
        for target in targets.get("targetInfos", []):
            if target.get("type") == "page" and not self._browser_ui(target):
                await self._size_window(target["targetId"])

    async def root(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = ATTACH_TIMEOUT_SECONDS
    ) -> dict[str, Any]:
        """Send a command on the pipe's root session and wait for its result."""
        message_id = next(self._ids)
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._root_waiting[message_id] = waiter
        try:
            self.process.send({"id": message_id, "method": method, "params": params or {}})
            answer = await asyncio.wait_for(asyncio.shield(waiter), timeout)
        finally:
            self._root_waiting.pop(message_id, None)
        if "error" in answer:
            raise BrowserExited(f"{method} failed: {answer['error'].get('message')}")
        result: dict[str, Any] = answer.get("result") or {}
        return result

    def route(self, message: dict[str, Any]) -> None:
        """A message from the browser: to the client it belongs to (or to ourselves)."""
        message_id = message.get("id")
        if message_id is not None:
            self._answer(message_id, message)
            return
        session_id = message.get("sessionId")
        if session_id is None:
            self._root_event(message)
            return
        owner = self._owners.get(session_id)
        if owner is None:
            return  # a client that has left, or a session of nobody
        method, params = message.get("method"), message.get("params") or {}
        if method in TARGET_EVENTS and self._hide(session_id, params):
            return
        if method == "Target.attachedToTarget":
            child = params.get("sessionId")
            if child:
                self._owners[child] = owner
                owner.sessions[child] = (params.get("targetInfo") or {}).get("targetId")
        elif method == "Target.detachedFromTarget":
            child = params.get("sessionId")
            if child and self._owners.get(child) is owner and child != owner.browser_session:
                del self._owners[child]
                owner.sessions.pop(child, None)
        if owner.judge is not None:
            owner.judge.handed(params)
        if session_id == owner.browser_session:
            del message["sessionId"]
        owner.post(message)

    def _answer(self, message_id: int, message: dict[str, Any]) -> None:
        waiter = self._root_waiting.pop(message_id, None)
        if waiter is not None:
            if not waiter.done():
                waiter.set_result(message)
            return
        pending = self._pending.pop(message_id, None)
        if pending is None:
            return
        client, client_id, method = pending
        message["id"] = client_id
        result = message.get("result")
        if isinstance(result, dict):
            if isinstance(result.get("targetInfos"), list):
                result["targetInfos"] = [t for t in result["targetInfos"] if not self._browser_ui(t)]
            session_id = result.get("sessionId")
            if method == "Target.attachToTarget" and isinstance(session_id, str):
                self._owners[session_id] = client
                client.sessions.setdefault(session_id, None)
            if client.judge is not None:
                client.judge.handed(result)
        if message.get("sessionId") == client.browser_session:
            del message["sessionId"]
        client.post(message)

    def _browser_ui(self, target: dict[str, Any]) -> bool:
        """A page of Chromium's own browser UI (its omnibox popup, ...), not a page of the runtime."""
        target_id = target.get("targetId")
        if target_id in self._hidden:
            return True
        if BROWSER_UI.match(str(target.get("url", ""))):
            self._hidden.add(str(target_id))
            return True
        return False

    def _hide(self, session_id: str, params: dict[str, Any]) -> bool:
        """Keep Chromium's own UI pages from every client, as Playwright's launch did: Chromium
        lists them as pages (attachable) when they exist before a client attaches."""
        target = params.get("targetInfo") or {"targetId": params.get("targetId")}
        if not self._browser_ui(target):
            return False
        child = params.get("sessionId")
        if child and "targetInfo" in params:  # attached: let it run, and let go of it
            self.process.send(
                {"id": next(self._ids), "method": "Runtime.runIfWaitingForDebugger", "sessionId": child}
            )
            self.process.send(
                {
                    "id": next(self._ids),
                    "method": "Target.detachFromTarget",
                    "params": {"sessionId": child},
                    "sessionId": session_id,
                }
            )
        return True

    def _root_event(self, message: dict[str, Any]) -> None:
        if message.get("method") == "Target.targetCreated":
            target = (message.get("params") or {}).get("targetInfo") or {}
            if target.get("type") == "page" and self.viewport is not None and not self._browser_ui(target):
                task = asyncio.get_running_loop().create_task(self._size_window(target["targetId"]))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _size_window(self, target_id: str) -> None:
        """Give a page's window the runtime's viewport as its content size (once per window)."""
        if self.viewport is None:
            return
        try:
            window = await self.root("Browser.getWindowForTarget", {"targetId": target_id})
            window_id = int(window["windowId"])
            if window_id in self._sized:
                return
            self._sized.add(window_id)
            size = {"width": self.viewport["width"], "height": self.viewport["height"]}
            await self.root("Browser.setContentsSize", {"windowId": window_id, **size})
        except (BrowserExited, KeyError, ValueError, TimeoutError) as exc:
            logger.debug("Could not size the window of target %s: %s", target_id, exc)

    def _browser_gone(self) -> None:
        for waiter in self._root_waiting.values():
            if not waiter.done():
                waiter.set_exception(BrowserExited("The browser has exited.", self.process.log_tail()))
        reason = self.gone_reason or "The browser exited."
        for client in list(self.clients.values()):
            client.close(CLOSE_GOING_AWAY, reason)

    def close_all(self, code: int, reason: str) -> None:
        """Close every client (the runtime is ending): `reason` is what each is told."""
        self.gone_reason = reason
        for client in list(self.clients.values()):
            client.close(code, reason)

    # ---- the clients' side --------------------------------------------------------------

    async def connect(self, judge: Judge | None, info: dict[str, Any]) -> Client:
        """A new client with a browser session of its own."""
        client = Client(judge, info)
        result = await self.root("Target.attachToBrowserTarget")
        client.browser_session = result["sessionId"]
        self._owners[client.browser_session] = client
        self.clients[client.id] = client
        self._changed()
        return client

    async def disconnect(self, client: Client) -> None:
        """The client left: detach its browser session (and, with it, every session it held)."""
        if self.clients.pop(client.id, None) is None:
            return
        client.close(CLOSE_GOING_AWAY, "disconnected")
        for session_id in [client.browser_session, *client.sessions]:
            if self._owners.get(session_id) is client:
                del self._owners[session_id]
        for message_id in [i for i, p in self._pending.items() if p[0] is client]:
            del self._pending[message_id]
        if self.process.alive:
            with contextlib.suppress(BrowserExited, TimeoutError):
                await self.root("Target.detachFromTarget", {"sessionId": client.browser_session})
        self._changed()

    async def receive(self, client: Client, text: str | bytes) -> None:
        """A message from a client: checked, judged, renumbered and sent (or answered at once)."""
        try:
            message = wire.decode(text)
        except ValueError:
            client.close(1003, "Messages must be CDP commands in JSON.")
            return
        message_id, method = (
            (message.get("id"), message.get("method")) if isinstance(message, dict) else (None, None)
        )
        params = message.get("params", {}) if isinstance(message, dict) else None
        if not isinstance(message_id, int) or not isinstance(method, str) or not isinstance(params, dict):
            client.close(1003, "A CDP command needs an integer id, a method and object params.")
            return
        client.messages_in += 1
        session_id = message.get("sessionId") or client.browser_session
        if self._owners.get(session_id) is not client:
            client.post(
                {"id": message_id, "error": {"code": -32001, "message": "Session with given id not found."}}
            )
            return
        if client.judge is not None:
            if self.on_activity is not None:
                self.on_activity()
            target_id = client.sessions.get(session_id)
            refused = await client.judge.judge(method, params, target_id)
            if refused is not None:
                client.post(refused.error(message_id))
                self._refused(client, refused, target_id)
                return
        ours = next(self._ids)
        self._pending[ours] = (client, message_id, method)
        try:
            self.process.send({"id": ours, "method": method, "params": params, "sessionId": session_id})
        except BrowserExited:
            self._pending.pop(ours, None)
            client.close(CLOSE_GOING_AWAY, self.gone_reason or "The browser exited.")

    on_refused: Callable[[Client, Refused, str | None], None] | None = None

    def _refused(self, client: Client, refused: Refused, target_id: str | None) -> None:
        if self.on_refused is not None:
            try:
                self.on_refused(client, refused, target_id)
            except Exception:
                logger.exception("Recording a refused CDP method failed")

    def _changed(self) -> None:
        for callback in self.on_change:
            try:
                callback()
            except Exception:
                logger.exception("A CDP client-change callback failed")

    def guarded_clients(self) -> list[Client]:
        return [c for c in self.clients.values() if c.judge is not None]
