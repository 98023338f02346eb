"""Use without read: the documents of a runtime the caller scripted, and those holding a filled secret.

A vault secret typed into a page (`vault.fill`, the agent's `fill_secret`) must not come back to
a caller without raw-read rights (an admin key, or a vault mount with `allowRawReads`). Two
rules, kept here for every door into a runtime (the steps, the agents, the CDP gateway):

- **taint:** a document into which the caller injected script (`page.evaluate`; through CDP:
  `Runtime.evaluate`, added bindings, init scripts, fulfilled routes...) could copy whatever is
  typed into it later, so `vault.fill` refuses while any page of the runtime shows such a
  document (`tainted()`: any page, because a same-origin page holding a window reference, its
  opener or a popup, reaches the other's DOM);
- **seal:** once a secret is typed into a document, calls that read page data are refused while
  any page of the runtime still shows that document (`sealed()`); navigating (or closing) the
  page replaces it and un-seals.

A document is known by its main frame's CDP `loaderId`: a new one for every document a page
commits, the same for navigations within a document (pushState, #fragments); runtimes run
without the back/forward cache, so a document is never restored under an older loaderId. It is
asked from the browser at each check (`Page.getFrameTree`), never inferred from events that may
lag behind, so a check sees the documents shown at that moment; when the browser cannot say,
the checks fail closed (tainted / sealed).

The values filled are kept (in this process's memory, for the runtime's life) so that `redact`
can replace them (as typed, URL-encoded and HTML-escaped) in anything the runtime reports:
events, step results, tab titles, and (`redact_bytes`) the response bodies the network capture
keeps. One `Seal` per runtime session (`session.seal`).

- **withheld bodies:** from the first fill on (`filled`), every response body the runtime keeps
  afterwards is withheld (`WITHHELD`) from callers without raw-read rights (`raw_reads`): a site
  may echo what was typed (a login's answer page, a JSON echo), on any page of the runtime, in any
  later response, so the rule is per runtime and lasts the run (engine/runtimes/network.py keeps
  the mark with the body, on disk, so it outlives this process).
- **CDP clients** without raw-read rights (engine/cdp/rules.py): from the first fill on, they may
  not read a request's or response's body, requests' bodies are left out of the events they get,
  and every message they get has the filled values replaced in its strings (`redact`), as steps'
  results have.
"""

import contextlib
import html
import logging
import weakref
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

from playwright.async_api import CDPSession, Page
from playwright.async_api import Error as PlaywrightError

logger = logging.getLogger("engine.runtimes")

# Marks an element a secret was typed into: agent snapshots show only whether it is filled.
SECRET_ATTRIBUTE = "data-bctrl-secret"  # noqa: S105 (an attribute name, not a secret)
MIN_REDACTED_LENGTH = 4  # shorter values would blank unrelated text; such secrets are weak anyway
REDACTED = "[secret]"
WITHHELD = "vault"  # `bodyWithheld` of a network entry whose body is kept from callers without raw reads


def raw_reads(admin: bool, mounts: dict[str, Any] | None) -> bool:
    """Raw-read rights: an admin key, or a runtime whose vault mount has `allowRawReads`."""
    return admin or bool(((mounts or {}).get("vault") or {}).get("allowRawReads"))


class Unknown(Exception):
    """The browser could not say which document a page shows."""


@dataclass
class _Marks:
    """What is marked in one page: some of its documents, or all of them from now on."""

    reason: str
    documents: set[str] = field(default_factory=set)  # loaderIds
    every_document: bool = False
    selectors: dict[str, list[str]] = field(default_factory=dict)  # loaderId -> fields filled


class Seal:
    def __init__(self) -> None:
        self._probes: weakref.WeakKeyDictionary[Page, CDPSession] = weakref.WeakKeyDictionary()
        self._tainted: weakref.WeakKeyDictionary[Page, _Marks] = weakref.WeakKeyDictionary()
        self._sealed: weakref.WeakKeyDictionary[Page, _Marks] = weakref.WeakKeyDictionary()
        self._runtime_taint: str | None = None
        self._secrets: set[str] = set()
        self._forms: list[str] = []  # every form of every secret (`remember`)
        self.filled = False  # a secret was typed into this runtime (set before the first key stroke)

    # ---- which document a page shows ------------------------------------------------------

    async def _frame(self, page: Page) -> dict[str, Any] | None:
        """The page's main frame as CDP describes it now (None: the page is closed)."""
        if page.is_closed():
            return None
        try:
            probe = self._probes.get(page)
            if probe is None:
                probe = await page.context.new_cdp_session(page)
                self._probes[page] = probe
            tree = await probe.send("Page.getFrameTree")
        except PlaywrightError as exc:
            self._probes.pop(page, None)
            if page.is_closed():
                return None
            raise Unknown(str(exc)) from exc
        frame: dict[str, Any] = tree["frameTree"]["frame"]
        return frame

    async def document(self, page: Page) -> str | None:
        """The loaderId of the document `page` shows now, None when it is closed."""
        frame = await self._frame(page)
        return None if frame is None else str(frame["loaderId"])

    async def page_of(self, pages: Iterable[Page], target_id: str) -> Page | None:
        """The page whose CDP target is `target_id` (a page target's id is its main frame's)."""
        for page in pages:
            with contextlib.suppress(Unknown):
                frame = await self._frame(page)
                if frame is not None and frame["id"] == target_id:
                    return page
        return None

    # ---- taint ----------------------------------------------------------------------------

    async def taint(self, page: Page, reason: str, every_document: bool = False) -> None:
        """Mark the document `page` shows as scripted by the caller (`every_document`: every
        document the page will show, for script that outlives navigations, an init script)."""
        marks = self._tainted.setdefault(page, _Marks(reason))
        marks.reason = reason
        if every_document:
            marks.every_document = True
            return
        try:
            document = await self.document(page)
        except Unknown:
            marks.every_document = True  # cannot tell which document: all of them, to be safe
            return
        if document is not None:
            marks.documents.add(document)

    def taint_runtime(self, reason: str) -> None:
        """Mark the whole runtime, for script that reaches every page."""
        self._runtime_taint = reason

    @contextlib.asynccontextmanager
    async def scripting(self, page: Page, reason: str) -> AsyncIterator[None]:
        """Around a call that runs the caller's script in `page`: the document shown once it is
        done is marked. That is where the script ran, or the script's document is gone already
        (replaced by a navigation under way, or one the script started), with its listeners."""
        try:
            yield
        finally:
            await self.taint(page, reason)

    async def tainted(self) -> str | None:
        """Why no secret may be typed into this runtime now, or None."""
        if self._runtime_taint is not None:
            return self._runtime_taint
        return await self._shown(self._tainted)

    # ---- seal -----------------------------------------------------------------------------

    async def seal(self, page: Page, selectors: list[str], values: list[str], reason: str) -> None:
        """Mark the document `page` shows as holding secrets (call before and after typing them)."""
        self.filled = True
        self.remember(values)
        marks = self._sealed.setdefault(page, _Marks(reason))
        marks.reason = reason
        try:
            document = await self.document(page)
        except Unknown:
            marks.every_document = True
            return
        if document is not None:
            marks.documents.add(document)
            filled = marks.selectors.setdefault(document, [])
            filled.extend(s for s in selectors if s not in filled)

    async def sealed(self) -> str | None:
        """Why page data may not be read from this runtime now, or None."""
        return await self._shown(self._sealed)

    async def masks(self, page: Page) -> list[str]:
        """The selectors of the fields filled in the document `page` shows."""
        marks = self._sealed.get(page)
        if marks is None:
            return []
        with contextlib.suppress(Unknown):
            document = await self.document(page)
            return list(marks.selectors.get(document or "", []))
        return []

    async def _shown(self, marked: "weakref.WeakKeyDictionary[Page, _Marks]") -> str | None:
        for page, marks in list(marked.items()):
            if page.is_closed():
                continue
            if marks.every_document:
                return marks.reason
            try:
                document = await self.document(page)
            except Unknown:
                logger.warning("Could not tell which document a page shows: treating it as marked")
                return marks.reason
            if document in marks.documents:
                return marks.reason
        return None

    # ---- redaction ------------------------------------------------------------------------

    def withholds(self, raw_reads: bool) -> bool:
        """Whether what a page may echo of a filled value is kept from a caller: a secret was typed
        into this runtime and the caller has no raw-read rights (`raw_reads`)."""
        return self.filled and not raw_reads

    def remember(self, values: Iterable[str]) -> None:
        """Values typed into this runtime, to be replaced wherever it reports them: as typed,
        URL-encoded (a form's body or query) and HTML-escaped (markup), the longer forms first so
        that no form is cut by a shorter one. A value the page transformed otherwise (hashed,
        split, encoded in base64) is not found."""
        self._secrets.update(v for v in values if v and len(v) >= MIN_REDACTED_LENGTH)
        forms = {
            shown
            for secret in self._secrets
            for shown in (secret, quote_plus(secret), quote(secret, safe=""), html.escape(secret))
        }
        self._forms = sorted(forms, key=len, reverse=True)

    def redact(self, value: Any) -> Any:
        """`value` (JSON-like) with every form of every secret filled into this runtime replaced."""
        if not self._forms:
            return value
        if isinstance(value, str):
            return _replaced(value, self._forms)
        if isinstance(value, dict):
            return {k: self.redact(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact(v) for v in value]
        return value

    def redact_bytes(self, data: bytes) -> bytes:
        """`data` with the UTF-8 bytes of every form of every filled secret replaced."""
        for form in self._forms:
            data = data.replace(form.encode(), REDACTED.encode())
        return data


def _replaced(text: str, forms: list[str]) -> str:
    for form in forms:
        if form in text:
            text = text.replace(form, REDACTED)
    return text
