"""One live runtime: its Chromium context, the ids of its pages, its bindings and its events.

Pages and contexts get stable string ids (`page_<hex>`, `ctx_<hex>`) the first time the
session sees them; every event about a page carries its `pageId` and `contextId`, so waiters
can filter on them. Bindings are the named references `ref`/`bind` use; they are persisted
with the next event batch, never on the step's hot path.
"""

import asyncio
import collections
import contextlib
import functools
import logging
import secrets
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from playwright.async_api import (
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Download,
    Frame,
    Page,
    Request,
    Response,
)
from playwright.async_api import (
    Error as PlaywrightError,
)

from engine.cdp.browser import RunningBrowser
from engine.egress.policy import Refusal, scheme_refusal
from engine.egress.proxy import EgressProxy
from engine.models import Runtime
from engine.runtimes.events import EventLog, RuntimeTail
from engine.runtimes.network import NetworkCapture
from engine.runtimes.seal import Seal

logger = logging.getLogger("engine.runtimes")

DEFAULT_PAGE_BINDING = "page"
DEFAULT_CONTEXT_BINDING = "context"
# Chromium's own pages a tab may show without anyone asking for them (an error page, an
# extension's page); everything else outside http(s) and about:blank is refused.
INTERNAL_PAGES = ("chrome-error:", "chrome-extension:")


@dataclass
class BoundRef:
    alias: str
    id: str
    type: str  # page | context | handle | subscription


def _guarded(listener: Callable[..., None]) -> Callable[..., None]:
    """A listener that cannot raise: Playwright would re-raise into whatever call is in flight."""

    @functools.wraps(listener)
    def guarded(*args: Any) -> None:
        try:
            listener(*args)
        except Exception:
            logger.exception("Runtime event listener %s failed", listener.__name__)

    return guarded


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(6)}"


class RuntimeSession:
    def __init__(self, runtime: Runtime, tail: RuntimeTail, log: EventLog, idle_timeout: float) -> None:
        self.runtime = runtime
        self.runtime_id: UUID = runtime.id
        self.tail = tail
        self.log = log
        self.idle_timeout = idle_timeout
        self.context: BrowserContext | None = None
        self.browser: RunningBrowser | None = None  # its process and CDP multiplexer
        self.context_id = new_id("ctx")
        self.pages: dict[str, Page] = {}
        self._page_ids: dict[Page, str] = {}
        self.bindings: dict[str, BoundRef] = {}
        self.default_page_id: str | None = None
        self.execute_lock = asyncio.Lock()
        self.last_activity = time.monotonic()
        self.busy = 0  # blocks inside in_use(): executes and waits in progress
        self.closing = False
        self.log_collectors: list[list[dict[str, Any]]] = []
        self.on_browser_gone: Callable[[RuntimeSession], None] | None = None
        self.on_download: Callable[[RuntimeSession, Download, str | None], Any] | None = None
        # Rooms above this one (live view) follow the runtime through its events: each listener
        # gets (event_type, data) as it is emitted, synchronously, and must not raise or block.
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self._request_numbers: weakref.WeakKeyDictionary[Request, str] = weakref.WeakKeyDictionary()
        self._request_counter = 0
        self.proxy: EgressProxy | None = None
        self._leaving: set[asyncio.Task[None]] = set()
        # Refusals of the egress policy, newest last; navigation steps look for theirs here.
        self.refusals: collections.deque[Refusal] = collections.deque(maxlen=50)
        self.refusal_count = 0
        # Use without read: scripted and filled documents, and the secrets to redact (seal.py).
        self.seal = Seal()
        self.network = NetworkCapture(runtime.id, self.emit, self.seal)

    # ---- events -------------------------------------------------------------------------

    def emit(self, event_type: str, data: dict[str, Any], operation_id: UUID | None = None) -> None:
        data = self.seal.redact(data)  # a filled secret never leaves in an event (a GET form, a log)
        self.log.emit(self.tail, event_type, data, operation_id)
        for listener in self.listeners:
            try:
                listener(event_type, data)
            except Exception:
                logger.exception("Runtime event listener %r failed", listener)

    def on_refused(self, refusal: Refusal) -> None:
        """The egress policy refused something this runtime asked for: record it and say so."""
        self.refusals.append(refusal)
        self.refusal_count += 1
        self.emit("navigation.blocked", refusal.as_event())

    def refusals_since(self, count: int) -> list[Refusal]:
        return list(self.refusals)[-(self.refusal_count - count) :] if self.refusal_count > count else []

    def touch(self) -> None:
        self.last_activity = time.monotonic()

    def idle_for(self) -> float:
        return 0.0 if self.busy else time.monotonic() - self.last_activity

    @contextlib.contextmanager
    def in_use(self) -> Iterator[None]:
        """Mark the runtime in use (an execute, a wait) for the block: it is never idle meanwhile,
        and its idle time counts from the block's end."""
        self.busy += 1
        self.touch()
        try:
            yield
        finally:
            self.busy -= 1
            self.touch()

    # ---- ids and bindings ---------------------------------------------------------------

    def page_id(self, page: Page) -> str:
        page_id = self._page_ids.get(page)
        if page_id is None:
            page_id = self._adopt(page)
        return page_id

    def _page_data(self, page: Page) -> dict[str, Any]:
        return {"pageId": self.page_id(page), "contextId": self.context_id}

    def bindings_json(self) -> list[dict[str, Any]]:
        out = []
        for ref in self.bindings.values():
            item: dict[str, Any] = {"alias": ref.alias, "id": ref.id, "type": ref.type}
            if ref.type == "page" and ref.id in self.pages:
                item["url"] = self.seal.redact(self.pages[ref.id].url)
            out.append(item)
        return out

    def persist_bindings(self) -> None:
        self.log.update_row(self.runtime_id, bindings=self.bindings_json())

    def bind(self, alias: str, page: Page) -> BoundRef:
        page_id = self.page_id(page)
        # A page has one name: binding it again renames it.
        for name, ref in list(self.bindings.items()):
            if ref.id == page_id:
                del self.bindings[name]
        ref = BoundRef(alias, page_id, "page")
        self.bindings[alias] = ref
        self.persist_bindings()
        return ref

    # ---- wiring -------------------------------------------------------------------------

    def attach(self, running: RunningBrowser) -> None:
        self.browser = running
        self.context = context = running.context
        # A guarded CDP client's message (the gateway's, an agent's) is activity: a runtime
        # driven by one is not idle.
        running.mux.on_activity = self.touch
        self.bindings[DEFAULT_CONTEXT_BINDING] = BoundRef(DEFAULT_CONTEXT_BINDING, self.context_id, "context")
        context.on("page", self._on_page)
        context.on("close", self._on_context_close)
        context.on("request", self._on_request)
        context.on("response", self._on_response)
        context.on("requestfinished", self._on_request_finished)
        context.on("requestfailed", self._on_request_failed)
        for page in context.pages:
            self._adopt(page)

    def _adopt(self, page: Page) -> str:
        page_id = new_id("page")
        self._page_ids[page] = page_id
        self.pages[page_id] = page
        self.bindings.setdefault(page_id, BoundRef(page_id, page_id, "page"))
        page.on("close", self._on_page_close)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self._on_page_error(page, error))
        page.on("crash", self._on_crash)
        page.on("load", self._on_load)
        page.on("framenavigated", self._on_frame_navigated)
        page.on("dialog", self._on_dialog)
        page.on("download", self._on_download)
        self.emit("page.created", {**self._page_data(page), "url": page.url})
        self.persist_bindings()
        return page_id

    def make_default(self, page: Page) -> str:
        page_id = self.page_id(page)
        self.default_page_id = page_id
        self.bindings.pop(page_id, None)
        self.bindings[DEFAULT_PAGE_BINDING] = BoundRef(DEFAULT_PAGE_BINDING, page_id, "page")
        self.persist_bindings()
        return page_id

    @_guarded
    def _on_page(self, page: Page) -> None:
        if page not in self._page_ids:
            self._adopt(page)

    @_guarded
    def _on_page_close(self, page: Page) -> None:
        page_id = self._page_ids.get(page)
        if page_id is None:
            return
        self.pages.pop(page_id, None)
        for name, ref in list(self.bindings.items()):
            if ref.id == page_id:
                del self.bindings[name]
        self.emit("page.closed", {"pageId": page_id, "contextId": self.context_id})
        if not self.closing:
            self.persist_bindings()

    @_guarded
    def _on_context_close(self, context: BrowserContext) -> None:
        # Closing on purpose sets `closing` first; anything else means the browser went away.
        if not self.closing and self.on_browser_gone is not None:
            self.on_browser_gone(self)

    @_guarded
    def _on_console(self, message: ConsoleMessage) -> None:
        page = message.page
        data = {"level": message.type, "text": message.text[:10_000]}
        if page is not None:
            data.update(self._page_data(page))
        self.emit("console.message", data)
        for collector in self.log_collectors:
            collector.append({"level": message.type, "text": message.text[:10_000]})

    @_guarded
    def _on_page_error(self, page: Page, error: PlaywrightError) -> None:
        self.emit(
            "page.error",
            {**self._page_data(page), "message": error.message, "stack": error.stack or ""},
        )

    @_guarded
    def _on_crash(self, page: Page) -> None:
        self.emit("page.crashed", self._page_data(page))

    @_guarded
    def _on_load(self, page: Page) -> None:
        self.emit("page.loaded", {**self._page_data(page), "url": page.url})

    @_guarded
    def _on_frame_navigated(self, frame: Frame) -> None:
        if frame.parent_frame is not None:
            return
        page = frame.page
        self.emit("page.navigated", {**self._page_data(page), "url": frame.url})
        self.persist_bindings()  # the page's binding carries its url
        refusal = None if frame.url.startswith(INTERNAL_PAGES) else scheme_refusal(frame.url)
        if refusal is not None:
            # Only reachable where Chromium's URL policy could not be applied (see
            # engine/egress/launcher.py): leave the page at once and say why.
            self.on_refused(refusal)
            task = asyncio.get_running_loop().create_task(self._leave(page))
            self._leaving.add(task)
            task.add_done_callback(self._leaving.discard)

    async def _leave(self, page: Page) -> None:
        with contextlib.suppress(PlaywrightError):
            await page.goto("about:blank")

    async def _on_dialog(self, dialog: Dialog) -> None:
        data: dict[str, Any] = {"type": dialog.type, "message": dialog.message[:10_000]}
        if dialog.page is not None:
            data.update(self._page_data(dialog.page))
        self.emit("dialog.opened", data)
        # Nobody can answer a dialog in a headless runtime; left open it would hang the page.
        try:
            await dialog.dismiss()
        except PlaywrightError:
            logger.debug("Dialog already gone")

    async def _on_download(self, download: Download) -> None:
        page_id = self.page_id(download.page)
        self.emit(
            "download.started",
            {
                "pageId": page_id,
                "contextId": self.context_id,
                "url": download.url,
                "suggestedFilename": download.suggested_filename,
            },
        )
        if self.on_download is not None:
            await self.on_download(self, download, page_id)

    def _request_id(self, request: Request) -> str:
        request_id = self._request_numbers.get(request)
        if request_id is None:
            self._request_counter += 1
            request_id = f"req_{self._request_counter}"
            self._request_numbers[request] = request_id
        return request_id

    def _request_page(self, request: Request) -> dict[str, Any]:
        try:
            page = request.frame.page
        except PlaywrightError:  # service worker requests have no frame
            return {"contextId": self.context_id}
        return self._page_data(page)

    def _request_ids(self, request: Request) -> dict[str, Any]:
        return {**self._request_page(request), "requestId": self._request_id(request)}

    @_guarded
    def _on_request(self, request: Request) -> None:
        self.network.request(request, self._request_ids(request))

    @_guarded
    def _on_response(self, response: Response) -> None:
        self.network.response(response, self._request_ids(response.request))

    @_guarded
    def _on_request_finished(self, request: Request) -> None:
        self.network.finished(request, self._request_ids(request))

    @_guarded
    def _on_request_failed(self, request: Request) -> None:
        self.network.failed(request, self._request_ids(request))
