"""What a runtime's network did, kept per run for its inspector and its HAR: the network events'
data, and the bodies of text responses.

Every request gives up to four events (all with `requestId`, `contextId` and `pageId` when a page
made it): `network.request` at once (method, url, the headers the page asked for, initiator),
`network.response` when the headers arrive (status, headers, mime type), then `network.finished`
once the body has arrived (timings in HAR's terms, sizes, the headers actually sent and received,
the protocol, whether the body was kept) or `network.failed`. Headers are bounded
(HEADERS_MAX_COUNT, HEADER_VALUE_MAX, HEADERS_MAX_BYTES) and secrets never leave the engine:
the values of REDACTED headers, and of headers named like a secret (SECRET_NAME), become
"[redacted]".

The details of `network.finished` need a few round trips to the browser each; they run after the
event that triggers them, HEADROOM at a time per runtime, so a page load of hundreds of requests
never holds the engine's loop; a page that makes requests faster than that for long (past
PENDING_MAX waiting) gets `network.finished` with its timing only (`detailsSkipped: true`). A text response's body (TEXT_TYPES) up to
ENGINE_NETWORK_BODY_MAX_BYTES is written to `paths.network_dir(runtime)/<requestId>` (a JSON
header line, then the bytes), at most ENGINE_NETWORK_BODIES_MAX_BYTES per run; bodies are deleted
ENGINE_NETWORK_RETENTION_SECONDS after the run ended (`expire_due`), the events stay with the run.

Use without read (engine/runtimes/seal.py): once a vault secret was typed into the runtime, every
body kept afterwards (read from the browser after the fill began) is marked withheld in its file's
header line (`"withheld": "vault"`, so the mark lasts as long as the body, engine restarts
included) and the body route serves it only to callers with raw-read rights; every
`network.finished` from then on says `bodyWithheld: "vault"`. Every kept body has the filled
secrets replaced by "[secret]" in each form a body may carry them (as typed, URL-encoded,
HTML-escaped: `Seal.redact_bytes`), as events have them.
Request bodies are never kept (only their size).
"""

import asyncio
import contextlib
import json
import logging
import re
import shutil
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Request, Response

from engine import paths
from engine.models import Runtime
from engine.runtimes.seal import WITHHELD, Seal

logger = logging.getLogger("engine.runtimes")

REDACTED = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
# Names sites give their own secret headers (x-api-key, x-auth-token, x-csrf-token...): redacted too.
SECRET_NAME = re.compile(r"token|secret|passw|api[-_]?key|auth|credential|session|csrf|xsrf|signature")
REDACTED_VALUE = "[redacted]"
HEADERS_MAX_COUNT = 100
HEADER_NAME_MAX = 256
HEADER_VALUE_MAX = 4096
HEADERS_MAX_BYTES = 32 * 1024
URL_MAX = 8192
HEADROOM = 4  # detail fetches in flight per runtime
PENDING_MAX = 500  # past this many waiting, a finished request is told without its details
REQUEST_ID = re.compile(r"^req_[0-9]{1,12}$")
TEXT_TYPES = re.compile(
    r"^(text/[\w.+-]+|application/([\w.-]+\+)?(json|xml)|application/(javascript|ecmascript|x-javascript|"
    r"x-www-form-urlencoded|graphql|ld\+json|manifest\+json)|image/svg\+xml)$"
)
PHASES = ("domainLookupStart", "connectStart", "requestStart")


def bounded_headers(headers: dict[str, str]) -> tuple[dict[str, str], bool]:
    """Headers as events carry them: secrets redacted, sizes bounded; and whether some were cut."""
    kept: dict[str, str] = {}
    used = 0
    cut = False
    for name, value in headers.items():
        name = name.lower()[:HEADER_NAME_MAX]
        value = REDACTED_VALUE if name in REDACTED or SECRET_NAME.search(name) else value
        if len(value) > HEADER_VALUE_MAX:
            value, cut = value[:HEADER_VALUE_MAX] + "…", True
        if len(kept) >= HEADERS_MAX_COUNT or used + len(name) + len(value) > HEADERS_MAX_BYTES:
            cut = True
            continue
        kept[name] = value
        used += len(name) + len(value)
    return kept, cut


def har_timing(timing: Mapping[str, Any]) -> dict[str, float]:
    """Playwright's resource timing (ms from the start, -1 when not applicable) as HAR's timings:
    blocked, dns, connect (TLS included, as HAR says), ssl: -1 when not applicable; send, wait,
    receive: never negative. Chromium reports no end of sending: `send` is 0 and `wait` runs from
    the request's start to the first byte of the response (as Playwright's own HAR does)."""

    def at(name: str) -> float:
        return float(timing.get(name, -1))

    def span(start: str, end: str) -> float:
        return round(at(end) - at(start), 3) if at(start) >= 0 and at(end) >= at(start) else -1

    first = next((at(name) for name in PHASES if at(name) >= 0), -1.0)
    request_start = max(at("requestStart"), 0.0)
    response_start = at("responseStart")
    response_end = at("responseEnd")
    return {
        "blocked": round(first, 3) if first > 0 else -1,
        "dns": span("domainLookupStart", "domainLookupEnd"),
        "connect": span("connectStart", "connectEnd"),
        "ssl": span("secureConnectionStart", "connectEnd"),
        "send": 0,
        "wait": round(max(0.0, response_start - request_start), 3) if response_start >= 0 else 0,
        "receive": round(max(0.0, response_end - response_start), 3)
        if response_end >= 0 and response_start >= 0
        else 0,
    }


def initiator(request: Request) -> dict[str, str]:
    """What started a request, as far as Playwright says: a redirect (from which URL), a
    navigation, or the document of its frame (Playwright does not tell a parser from a script)."""
    if request.redirected_from is not None:
        return {"type": "redirect", "url": request.redirected_from.url[:URL_MAX]}
    if request.is_navigation_request():
        return {"type": "navigation"}
    try:
        return {"type": "document", "url": request.frame.url[:URL_MAX]}
    except PlaywrightError:  # a service worker's request has no frame
        return {"type": "worker"}


def mime_type(headers: dict[str, str]) -> str:
    return (headers.get("content-type") or "").split(";")[0].strip().lower()


class NetworkCapture:
    """One runtime's network events and kept bodies. `emit(type, data)` is the session's."""

    def __init__(self, runtime_id: UUID, emit: Callable[[str, dict[str, Any]], None], seal: Seal) -> None:
        self.runtime_id = runtime_id
        self.emit = emit
        self.seal = seal  # the runtime's use-without-read rules: filled secrets, withheld bodies
        self.directory = paths.network_dir(runtime_id)
        self.body_bytes = 0
        self._headroom = asyncio.Semaphore(HEADROOM)
        self._tasks: set[asyncio.Task[None]] = set()

    def request(self, request: Request, ids: dict[str, Any]) -> None:
        headers, cut = bounded_headers(request.headers)
        data = {
            **ids,
            "method": request.method,
            "url": request.url[:URL_MAX],
            "resourceType": request.resource_type,
            "headers": headers,
            "initiator": initiator(request),
            "timestamp": round(time.time() * 1000, 3),
        }
        if cut:
            data["headersTruncated"] = True
        post_data = request.post_data_buffer  # never kept: only its size (a login form's password)
        if post_data is not None:
            data["postDataSize"] = len(post_data)
        self.emit("network.request", data)

    def response(self, response: Response, ids: dict[str, Any]) -> None:
        headers, cut = bounded_headers(response.headers)
        data: dict[str, Any] = {
            **ids,
            "status": response.status,
            "statusText": response.status_text[:300],
            "url": response.url[:URL_MAX],
            "mimeType": mime_type(response.headers),
            "headers": headers,
            "fromServiceWorker": response.from_service_worker,
        }
        # the body's size as the response declared it (absent when it did not say)
        length = response.headers.get("content-length", "")
        if length.isdigit():
            data["size"] = int(length)
        if cut:
            data["headersTruncated"] = True
        self.emit("network.response", data)

    def finished(self, request: Request, ids: dict[str, Any]) -> None:
        if len(self._tasks) >= PENDING_MAX:
            timing = request.timing
            data = {**ids, "startedAt": timing.get("startTime"), "timing": har_timing(timing)}
            self.emit("network.finished", self._withheld({**data, "bodyKept": False, "detailsSkipped": True}))
            return
        self._spawn(self._finished(request, ids))

    def failed(self, request: Request, ids: dict[str, Any]) -> None:
        data: dict[str, Any] = {**ids, "url": request.url[:URL_MAX], "errorText": request.failure or ""}
        if request.timing.get("startTime", 0) > 0:
            data["timing"] = har_timing(request.timing)
            data["startedAt"] = request.timing["startTime"]
        self.emit("network.failed", data)

    async def _finished(self, request: Request, ids: dict[str, Any]) -> None:
        async with self._headroom:
            response = await request.response()
            if response is None:
                return
            try:
                sent, received, sizes, protocol = await asyncio.gather(
                    request.all_headers(), response.all_headers(), request.sizes(), response.http_version()
                )
            except PlaywrightError:
                return  # the page or the browser went away meanwhile
            timing = request.timing
            data: dict[str, Any] = {
                **ids,
                "startedAt": timing.get("startTime"),
                "timing": har_timing(timing),
                "protocol": protocol[:32],
                "encodedBodySize": max(0, sizes.get("responseBodySize", 0)),
                "requestHeadersSize": sizes.get("requestHeadersSize", -1),
                "responseHeadersSize": sizes.get("responseHeadersSize", -1),
                "requestBodySize": sizes.get("requestBodySize", 0),
            }
            data["requestHeaders"], cut_sent = bounded_headers(sent)
            data["responseHeaders"], cut_received = bounded_headers(received)
            if cut_sent or cut_received:
                data["headersTruncated"] = True
            data.update(await self._keep_body(ids["requestId"], response, received, data["encodedBodySize"]))
            self.emit("network.finished", self._withheld(data))

    def _withheld(self, data: dict[str, Any]) -> dict[str, Any]:
        """A `network.finished` after a fill says so (a body kept for it is withheld: `_keep_body`)."""
        if self.seal.filled:
            data["bodyWithheld"] = WITHHELD
        return data

    async def _keep_body(
        self, request_id: str, response: Response, headers: dict[str, str], encoded_size: int
    ) -> dict[str, Any]:
        """Keep a text body up to the limits: {bodyKept, bodySize, bodyTruncated?}. `bodySize` is
        the decoded size, -1 when the body was not read and it was sent compressed."""
        compressed = headers.get("content-encoding", "").strip().lower() not in ("", "identity")
        unknown = {"bodyKept": False, "bodySize": -1 if compressed else encoded_size}
        limit = settings.NETWORK_BODY_MAX_BYTES
        wanted = (
            TEXT_TYPES.match(mime_type(headers)) is not None
            and not 300 <= response.status < 400  # a redirect has no body to read
            and encoded_size <= 4 * limit  # compressed text inflates; past this, not worth the transfer
            and self.body_bytes < settings.NETWORK_BODIES_MAX_BYTES
        )
        if not wanted:
            return unknown
        try:
            body = await response.body()
        except PlaywrightError:
            return unknown  # a redirect, or the browser already let the body go
        # Asked after the body arrived: a body read before the first fill began cannot hold a secret.
        withheld = self.seal.filled
        redacted = self.seal.redact_bytes(body)
        kept = redacted[: min(limit, settings.NETWORK_BODIES_MAX_BYTES - self.body_bytes)]
        header: dict[str, Any] = {"contentType": headers.get("content-type", "")[:300], "size": len(body)}
        if withheld:
            header["withheld"] = WITHHELD
        try:
            await sync_to_async(self._write, thread_sensitive=False)(request_id, header, kept)
        except OSError:
            logger.exception("Keeping a response body of runtime %s failed", self.runtime_id)
            return {"bodyKept": False, "bodySize": len(body)}
        self.body_bytes += len(kept)
        out: dict[str, Any] = {"bodyKept": True, "bodySize": len(body)}
        if len(kept) < len(redacted):
            out["bodyTruncated"] = True
        if withheld:
            out["bodyWithheld"] = WITHHELD
        return out

    def _write(self, request_id: str, header: dict[str, Any], body: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / request_id, "wb") as file:
            file.write(json.dumps(header).encode() + b"\n" + body)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: "asyncio.Task[None]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("Network capture of runtime %s failed", self.runtime_id, exc_info=task.exception())

    async def close(self) -> None:
        """The runtime ends: what is still being fetched is given up."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


# ---- reading and expiring kept bodies ----------------------------------------------------------


class KeptBody(NamedTuple):
    content_type: str
    path: Path
    offset: int  # of the bytes, past the header line
    withheld: str | None  # WITHHELD: only for callers with raw-read rights (seal.py)


def read_body(runtime_id: UUID, request_id: str) -> KeptBody | None:
    """A kept body, or None."""
    if not REQUEST_ID.match(request_id):
        return None
    path = paths.network_dir(runtime_id) / request_id
    try:
        with open(path, "rb") as file:
            line = file.readline(4096)
    except FileNotFoundError:
        return None
    try:
        header = json.loads(line)
    except ValueError:
        return None
    content_type = str(header.get("contentType") or "")
    if not content_type or any(ord(c) < 0x20 or ord(c) > 0x7E for c in content_type):
        content_type = "application/octet-stream"
    withheld = header.get("withheld")
    return KeptBody(content_type, path, len(line), str(withheld) if withheld else None)


async def expire_due() -> int:
    """Delete the kept bodies of runs that ended more than ENGINE_NETWORK_RETENTION_SECONDS ago,
    and of runs that no longer exist."""
    root = paths.var_dir() / "network"
    names = await sync_to_async(_children)(root)
    if not names:
        return 0
    cutoff = timezone.now() - timedelta(seconds=settings.NETWORK_RETENTION_SECONDS)
    keep = {
        str(runtime_id)
        async for runtime_id in Runtime.objects.filter(id__in=_uuids(names))
        .exclude(stopped_at__lte=cutoff)
        .values_list("id", flat=True)
    }
    gone = [name for name in names if name not in keep]
    for name in gone:
        await sync_to_async(shutil.rmtree)(root / name, ignore_errors=True)
    return len(gone)


def _children(root: Path) -> list[str]:
    return [child.name for child in root.iterdir()] if root.is_dir() else []


def _uuids(names: list[str]) -> list[UUID]:
    out = []
    for name in names:
        with contextlib.suppress(ValueError):
            out.append(UUID(name))
    return out
