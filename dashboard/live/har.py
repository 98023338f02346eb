"""A runtime's network events as a HAR 1.2 document (http://www.softwareishard.com/blog/har-12-spec/).

Chrome DevTools imports it in its Network panel. The events carry what the engine saw: method,
URL, status, MIME type, resource type, the size when the response said it, and when the request
started and its response arrived; what they do not carry (headers, bodies, the timing phases) is
written as the spec says for unknown values (empty lists, -1), so the file is valid and honest.
"""

from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from dashboard.bctrl.events import Event
from dashboard.bctrl.runtimes import Runtime

MAX_PAGES = 40  # of 500 network events: a HAR of at most 20,000 events

STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="milliseconds") if moment else "1970-01-01T00:00:00.000Z"


def build(runtime: Runtime, events: list[Event]) -> dict[str, Any]:
    requests: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for event in events:
        data = event.event_data
        request_id = str(data.get("requestId") or event.id)
        entry = requests.get(request_id)
        if entry is None:
            entry = requests[request_id] = {"started": event.created_at, "url": data.get("url", "")}
            order.append(request_id)
        if event.event_type == "network.request":
            entry.update(
                started=event.created_at,
                method=data.get("method", "GET"),
                url=data.get("url", entry["url"]),
                type=data.get("resourceType", ""),
                page=data.get("pageId"),
            )
        elif event.event_type == "network.response":
            entry.update(
                ended=event.created_at,
                status=data.get("status", 0),
                mime=data.get("mimeType", ""),
                size=data.get("size"),
            )
        elif event.event_type == "network.failed":
            entry.update(ended=event.created_at, failed=data.get("errorText") or "failed")
    pages = sorted({e["page"] for e in requests.values() if e.get("page")})
    started = runtime.started_at or runtime.created_at
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "BCTRL Console", "version": "1"},
            "browser": {"name": "Chromium", "version": ""},
            "pages": [
                {
                    "startedDateTime": _iso(started),
                    "id": page,
                    "title": f"{runtime.alias} · page {page}",
                    "pageTimings": {"onContentLoad": -1, "onLoad": -1},
                }
                for page in pages
            ],
            "entries": [_entry(requests[r]) for r in order],
            "comment": f"Runtime {runtime.alias} ({runtime.id}) in workspace {runtime.workspace_id}: "
            "its network events; headers, bodies and timing phases are not recorded.",
        }
    }


def _entry(request: dict[str, Any]) -> dict[str, Any]:
    started: datetime | None = request.get("started")
    ended: datetime | None = request.get("ended")
    wait = max(0.0, (ended - started).total_seconds() * 1000) if started and ended else -1
    size = request.get("size")
    size = size if isinstance(size, int) and size >= 0 else -1
    url = request.get("url") or ""
    status = int(request.get("status") or 0)
    entry: dict[str, Any] = {
        "startedDateTime": _iso(started),
        "time": wait if wait >= 0 else 0,
        "request": {
            "method": request.get("method") or "GET",
            "url": url,
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [],
            "queryString": [
                {"name": k, "value": v} for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)
            ],
            "headersSize": -1,
            "bodySize": -1,
        },
        "response": {
            "status": status,
            "statusText": STATUS_TEXT.get(status, ""),
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": [],
            "content": {"size": size, "mimeType": request.get("mime") or "x-unknown"},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": size,
        },
        "cache": {},
        "timings": {"send": 0, "wait": wait if wait >= 0 else 0, "receive": 0},
        "_resourceType": request.get("type") or "other",
    }
    if request.get("page"):
        entry["pageref"] = request["page"]
    if request.get("failed"):
        entry["response"]["_error"] = request["failed"]
        entry["comment"] = f"failed: {request['failed']}"
    return entry
