"""A run's network as a HAR 1.2 document (http://www.softwareishard.com/blog/har-12-spec/), which
Chrome DevTools imports in its Network panel.

Built from the run's events: each request's `network.request`, `network.response` and
`network.finished` (or `network.failed`) carry its method, URL, headers (the engine redacts
`Authorization`, `Cookie`, `Set-Cookie` and their like before they are stored), status, sizes, the
initiator and the timing phases Chromium reported. Pages are the navigations of each tab (a page
starts with its main document), and downloads are marked on their request's entry (`_download`),
or are an entry of their own when the download had no request event. What an event does not carry
is written as the spec says for unknown values (-1, empty lists), so the file is valid and honest.
Response bodies are not inlined: the inspector fetches a kept one on demand. An entry whose body
the engine withholds (`bodyWithheld`: a vault secret was typed into the run before it) says so in
its comment.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from dashboard.bctrl.events import Event
from dashboard.bctrl.runtimes import Runtime

MAX_PAGES = 40  # of 500 events: a HAR of at most 20,000 events
EVENT_TYPES = [
    "network.request",
    "network.response",
    "network.finished",
    "network.failed",
    "download.started",
    "download.finished",
    "page.navigated",
    "page.loaded",
]
PHASES = ("blocked", "dns", "connect", "send", "wait", "receive")  # `ssl` is part of `connect`
PROTOCOLS = {"h2": "HTTP/2", "h3": "HTTP/3", "http/1.0": "HTTP/1.0", "http/1.1": "HTTP/1.1"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WITHHELD_NOTE = (
    "response body withheld: a vault secret was typed into this run before it arrived "
    "(the engine serves it only with raw-read rights)"
)


def _iso(moment: datetime | None) -> str:
    return (moment or EPOCH).isoformat(timespec="milliseconds")


def _ms_between(start: datetime | None, end: datetime | None) -> float:
    return round(max(0.0, (end - start).total_seconds() * 1000), 3) if start and end else -1


def _number(value: Any, default: float = -1) -> float:
    return value if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0 else default


def _headers(value: Any) -> list[dict[str, str]]:
    """An event's headers (an object, or a list of name/value pairs) as HAR's list."""
    if isinstance(value, dict):
        return [{"name": str(k), "value": str(v)} for k, v in value.items()]
    if isinstance(value, list):
        return [
            {"name": str(h.get("name", "")), "value": str(h.get("value", ""))}
            for h in value
            if isinstance(h, dict)
        ]
    return []


def _header(headers: list[dict[str, str]], name: str) -> str:
    return next((h["value"] for h in headers if h["name"].lower() == name), "")


@dataclass
class _Request:
    request_id: str
    started: datetime | None
    request: dict[str, Any] = field(default_factory=dict)
    response: dict[str, Any] | None = None
    finished: dict[str, Any] | None = None
    failed: dict[str, Any] | None = None
    responded: datetime | None = None
    ended: datetime | None = None
    download: dict[str, Any] | None = None

    @property
    def page_id(self) -> str:
        return str(self.request.get("pageId") or (self.response or {}).get("pageId") or "")


@dataclass
class _Page:
    id: str
    tab: str
    started: datetime
    url: str
    loaded: datetime | None = None


def build(runtime: Runtime, events: Iterable[Event]) -> dict[str, Any]:
    requests: dict[str, _Request] = {}
    pages: list[_Page] = []
    downloads: list[tuple[datetime | None, dict[str, Any]]] = []
    for event in events:
        data = event.event_data
        if event.event_type.startswith("network."):
            _merge(requests, event)
        elif event.event_type == "page.navigated" and event.created_at:
            tab = str(data.get("pageId") or "")
            pages.append(_Page(f"page_{len(pages) + 1}", tab, event.created_at, str(data.get("url", ""))))
        elif event.event_type == "page.loaded":
            tab = str(data.get("pageId") or "")
            page = next((p for p in reversed(pages) if p.tab == tab and p.loaded is None), None)
            if page is not None and event.created_at:
                page.loaded = event.created_at
        elif event.event_type == "download.started":
            downloads.append((event.created_at, dict(data)))
        elif event.event_type == "download.finished":
            _finish_download(downloads, data)
    entries = [(r, _entry(r)) for r in requests.values()]
    extra = _mark_downloads(entries, downloads)
    _assign_pages(entries, pages)
    ordered = sorted([e for _, e in entries] + extra, key=lambda e: e["startedDateTime"])
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "BCTRL Console", "version": "1"},
            "browser": {"name": "Chromium", "version": ""},
            "pages": [_page(page) for page in pages],
            "entries": ordered,
            "comment": f"Runtime {runtime.alias} ({runtime.id}) in workspace {runtime.workspace_id}, "
            "from its events. Secret headers are redacted; response bodies are not included.",
        }
    }


def _merge(requests: dict[str, _Request], event: Event) -> None:
    data = event.event_data
    request_id = str(data.get("requestId") or event.id)
    request = requests.get(request_id)
    if request is None:
        request = requests[request_id] = _Request(request_id, event.created_at)
    if event.event_type == "network.request":
        request.request, request.started = dict(data), event.created_at
    elif event.event_type == "network.response":
        request.response, request.responded = dict(data), event.created_at
        request.ended = request.ended or event.created_at
    elif event.event_type == "network.finished":
        request.finished, request.ended = dict(data), event.created_at
    elif event.event_type == "network.failed":
        request.failed, request.ended = dict(data), event.created_at


def _timings(request: _Request) -> dict[str, float]:
    reported = (request.finished or request.failed or {}).get("timing")
    if isinstance(reported, dict) and _number(reported.get("wait")) >= 0:
        timings = {phase: _number(reported.get(phase)) for phase in PHASES}
        timings["ssl"] = _number(reported.get("ssl"))
        timings["send"] = max(0, timings["send"])
        timings["receive"] = max(0, timings["receive"])
        return timings
    # Not reported (an engine that does not time requests): what the event times say.
    wait = _ms_between(request.started, request.responded or request.ended)
    receive = _ms_between(request.responded, request.ended) if request.responded else 0
    return {
        "blocked": -1,
        "dns": -1,
        "connect": -1,
        "send": 0,
        "wait": max(0, wait),
        "receive": max(0, receive),
        "ssl": -1,
    }


def _entry(request: _Request) -> dict[str, Any]:
    sent, answer, finished = request.request, request.response or {}, request.finished or {}
    url = str(sent.get("url") or answer.get("url") or (request.failed or {}).get("url") or "")
    # the headers actually sent and received (`network.finished`), else what the page asked for
    request_headers = _headers(finished.get("requestHeaders") or sent.get("headers"))
    response_headers = _headers(finished.get("responseHeaders") or answer.get("headers"))
    status = int(_number(answer.get("status"), 0))
    protocol = str(finished.get("protocol") or answer.get("protocol") or "").lower()
    version = PROTOCOLS.get(protocol, protocol.upper() or "HTTP/1.1")
    body_size = _number(finished.get("bodySize"), _number(answer.get("size")))
    encoded = _number(finished.get("encodedBodySize"), body_size)
    post_size = _number(
        finished.get("requestBodySize"),
        _number(sent.get("postDataSize"), 0 if sent.get("method", "GET") in ("GET", "HEAD") else -1),
    )
    timings = _timings(request)
    entry: dict[str, Any] = {
        "startedDateTime": _iso(request.started),
        "time": round(sum(v for k, v in timings.items() if k in PHASES and v > 0), 3),
        "request": {
            "method": str(sent.get("method") or "GET"),
            "url": url,
            "httpVersion": version,
            "cookies": [],
            "headers": request_headers,
            "queryString": [
                {"name": k, "value": v} for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)
            ],
            "headersSize": int(_number(finished.get("requestHeadersSize"))),
            "bodySize": post_size,
        },
        "response": {
            "status": status,
            "statusText": str(answer.get("statusText") or ""),
            "httpVersion": version,
            "cookies": [],
            "headers": response_headers,
            "content": {
                "size": body_size,
                "mimeType": str(
                    answer.get("mimeType") or _header(response_headers, "content-type") or "x-unknown"
                ),
            },
            "redirectURL": _header(response_headers, "location"),
            "headersSize": int(_number(finished.get("responseHeadersSize"))),
            "bodySize": encoded,
        },
        "cache": {},
        "timings": timings,
        "_resourceType": str(sent.get("resourceType") or "other"),
        "_requestId": request.request_id,
    }
    _add_extras(entry, request, body_size, encoded)
    return entry


def _add_extras(entry: dict[str, Any], request: _Request, body_size: float, encoded: float) -> None:
    """What HAR leaves optional: transfer size, compression, server address, initiator, cache, failure."""
    sent, answer = request.request, request.response or {}
    if encoded >= 0:
        entry["_transferSize"] = encoded
    if body_size >= 0 and encoded >= 0 and body_size > encoded:
        entry["response"]["content"]["compression"] = body_size - encoded
    if answer.get("remoteAddress"):
        entry["serverIPAddress"] = _address(str(answer["remoteAddress"]))
    initiator = sent.get("initiator")
    if isinstance(initiator, dict) and initiator.get("type"):
        entry["_initiator"] = {
            "type": str(initiator["type"]),
            **({"url": str(initiator["url"])} if initiator.get("url") else {}),
        }
    if answer.get("fromCache"):
        entry["_fromCache"] = "disk"
    notes = []
    if request.failed is not None:
        error = str(request.failed.get("errorText") or "failed")
        entry["response"]["_error"] = error
        notes.append(f"failed: {error}")
    if (request.finished or {}).get("bodyWithheld"):
        entry["_bodyWithheld"] = str(request.finished["bodyWithheld"])  # type: ignore[index]
        notes.append(WITHHELD_NOTE)
    if notes:
        entry["comment"] = "; ".join(notes)


def _address(remote: str) -> str:
    """`[::1]:443` → `::1`, `127.0.0.1:8000` → `127.0.0.1` (HAR wants the address alone)."""
    if remote.startswith("["):
        return remote[1:].split("]", 1)[0]
    return remote.rsplit(":", 1)[0] if remote.count(":") == 1 else remote


def _finish_download(downloads: list[tuple[datetime | None, dict[str, Any]]], data: dict[str, Any]) -> None:
    for _, started in reversed(downloads):
        same = started.get("url") == data.get("url") or (
            data.get("suggestedFilename")
            and started.get("suggestedFilename") == data.get("suggestedFilename")
        )
        if same and "finished" not in started:
            started["finished"] = dict(data)
            return
    downloads.append((None, {**data, "finished": dict(data)}))


def _mark_downloads(
    entries: list[tuple[_Request, dict[str, Any]]], downloads: list[tuple[datetime | None, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Mark each download on the last request for its URL; one with none is an entry of its own."""
    extra: list[dict[str, Any]] = []
    for started_at, download in downloads:
        finished = download.get("finished") or {}
        note = {
            "suggestedFilename": download.get("suggestedFilename") or finished.get("suggestedFilename") or "",
            "size": _number(finished.get("size")),
            **({"artifactId": finished["artifactId"]} if finished.get("artifactId") else {}),
            **(
                {"failure": finished.get("failure") or finished.get("error")}
                if finished.get("failure") or finished.get("error")
                else {}
            ),
        }
        match = next((e for _, e in reversed(entries) if e["request"]["url"] == download.get("url")), None)
        if match is not None:
            match["_download"] = note
            continue
        extra.append(_download_entry(started_at, download, note))
    return extra


def _download_entry(
    started_at: datetime | None, download: dict[str, Any], note: dict[str, Any]
) -> dict[str, Any]:
    url = str(download.get("url") or "")
    size = note["size"]
    return {
        "startedDateTime": _iso(started_at),
        "time": 0,
        "request": {
            "method": "GET",
            "url": url,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [],
            "queryString": [],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": {
            "status": 200,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [],
            "content": {"size": size, "mimeType": "application/octet-stream"},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": size,
        },
        "cache": {},
        "timings": {"send": 0, "wait": 0, "receive": 0},
        "_resourceType": "other",
        "_download": note,
        "comment": "a download without a request event of its own",
    }


def _assign_pages(entries: list[tuple[_Request, dict[str, Any]]], pages: list[_Page]) -> None:
    """A tab's main document opens its page; any other request belongs to the page its tab showed
    when it started. A page starts with its document's request, so none of its entries is earlier."""
    for request, entry in entries:
        tab = request.page_id
        own = [p for p in pages if p.tab == tab] if tab else []
        if not own or request.started is None:
            continue
        if entry["_resourceType"] == "document":
            page = next((p for p in own if p.started >= request.started), own[-1])
        else:
            page = next((p for p in reversed(own) if p.started <= request.started), own[0])
        entry["pageref"] = page.id
        page.started = min(page.started, request.started)


def _page(page: _Page) -> dict[str, Any]:
    return {
        "startedDateTime": _iso(page.started),
        "id": page.id,
        "title": page.url or page.id,
        "pageTimings": {"onContentLoad": -1, "onLoad": _ms_between(page.started, page.loaded)},
        "_tab": page.tab,
    }
