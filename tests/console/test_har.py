"""A run's HAR (dashboard/live/har.py), checked against the HAR 1.2 JSON Schema of the `har-schema`
package (package.json; bin/setup installs it): what Chrome DevTools and every HAR tool read.

Built from events shaped as the engine sends them (docs/api.md, "Runtime events"): a page load
with its timings and headers, a fetch, a failed request, a redirect, a download with and without
a request of its own, and an engine that reports no timing phases at all.
"""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT6

from dashboard.bctrl.events import Event
from dashboard.bctrl.runtimes import Runtime
from dashboard.live import har

SCHEMAS = Path(__file__).resolve().parents[2] / "node_modules" / "har-schema" / "lib"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
RUNTIME = Runtime.from_api(
    {"id": "5d0c4b7e-0000-4000-8000-000000000001", "alias": "shop", "workspaceId": "w1", "status": "stopped"}
)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft6Validator:
    schemas = {path.name: json.loads(path.read_text()) for path in SCHEMAS.glob("*.json")}
    assert "har.json" in schemas, f"har-schema is not installed in {SCHEMAS}: run bin/setup"
    registry: Registry = Registry().with_resources(
        (name, Resource.from_contents(schema, default_specification=DRAFT6))
        for name, schema in schemas.items()
    )
    return jsonschema.Draft6Validator(
        schemas["har.json"], registry=registry, format_checker=jsonschema.Draft6Validator.FORMAT_CHECKER
    )


def _event(sequence: int, event_type: str, at_ms: int, **data: Any) -> Event:
    return Event(
        id=f"ev{sequence}",
        event_type=event_type,
        event_data=data,
        created_at=START + timedelta(milliseconds=at_ms),
        runtime="shop",
        operation_id=None,
        sequence=sequence,
    )


PAGE = {"pageId": "page_1", "contextId": "ctx_1"}
TIMING = {"blocked": 0.7, "dns": 1.5, "connect": 3.0, "ssl": 2.0, "send": 0.1, "wait": 90.0, "receive": 4.0}


def _load() -> list[Event]:
    url = "https://shop.test/checkout?step=2&coupon="
    return [
        _event(1, "network.request", 0, **PAGE, requestId="req_1", method="GET", url=url, resourceType="document",
               headers={"accept": "text/html", "cookie": "[redacted]"}, initiator={"type": "navigation"}),
        _event(2, "network.response", 95, **PAGE, requestId="req_1", status=200, statusText="OK", url=url,
               mimeType="text/html", headers={"content-type": "text/html", "set-cookie": "[redacted]"}),
        _event(3, "page.navigated", 96, **PAGE, url=url),
        _event(4, "network.finished", 100, **PAGE, requestId="req_1", timing=TIMING, protocol="h2",
               encodedBodySize=1200, bodySize=4800, bodyKept=True, requestHeadersSize=310, responseHeadersSize=180,
               requestHeaders={"accept": "text/html", "cookie": "[redacted]", "user-agent": "Chromium"},
               responseHeaders={"content-type": "text/html", "content-encoding": "br"}),
        _event(5, "network.request", 120, **PAGE, requestId="req_2", method="POST", url="https://shop.test/api/cart",
               resourceType="fetch", postDataSize=42, headers={"content-type": "application/json"},
               initiator={"type": "script", "url": url}),
        _event(6, "network.failed", 160, **PAGE, requestId="req_2", url="https://shop.test/api/cart",
               errorText="net::ERR_CONNECTION_RESET"),
        _event(7, "network.request", 170, **PAGE, requestId="req_3", method="GET", url="https://shop.test/old",
               resourceType="document", headers={}),
        _event(8, "network.response", 180, **PAGE, requestId="req_3", status=302, statusText="Found",
               url="https://shop.test/old", mimeType="", headers={"location": "https://shop.test/new"}),
        _event(9, "page.loaded", 400, **PAGE, url=url),
        _event(10, "network.request", 500, **PAGE, requestId="req_4", method="GET", url="https://shop.test/invoice.pdf",
               resourceType="document", headers={}),
        _event(11, "download.started", 510, **PAGE, url="https://shop.test/invoice.pdf", suggestedFilename="invoice.pdf"),
        _event(12, "download.finished", 700, **PAGE, url="https://shop.test/invoice.pdf", suggestedFilename="invoice.pdf",
               size=2048, artifactId="art-1"),
        _event(13, "download.started", 800, **PAGE, url="data:text/plain,hello", suggestedFilename="hello.txt"),
        _event(14, "download.finished", 810, **PAGE, url="data:text/plain,hello", suggestedFilename="hello.txt", size=5),
    ]  # fmt: skip


def _entry(document: dict[str, Any], url: str) -> dict[str, Any]:
    return next(e for e in document["log"]["entries"] if e["request"]["url"] == url)


def test_a_runs_har_is_valid_har_1_2(validator: jsonschema.Draft6Validator) -> None:
    document = har.build(RUNTIME, _load())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    assert document["log"]["version"] == "1.2"


def test_it_keeps_headers_timings_and_sizes() -> None:
    page = _entry(har.build(RUNTIME, _load()), "https://shop.test/checkout?step=2&coupon=")
    request_headers = {h["name"]: h["value"] for h in page["request"]["headers"]}
    assert request_headers == {"accept": "text/html", "cookie": "[redacted]", "user-agent": "Chromium"}
    assert page["request"]["queryString"] == [{"name": "step", "value": "2"}, {"name": "coupon", "value": ""}]
    assert page["response"]["httpVersion"] == "HTTP/2" and page["response"]["statusText"] == "OK"
    assert page["timings"] == TIMING
    # `time` is the sum of the phases (ssl is within connect, as HAR says)
    assert page["time"] == pytest.approx(0.7 + 1.5 + 3.0 + 0.1 + 90.0 + 4.0)
    assert page["response"]["content"] == {"size": 4800, "mimeType": "text/html", "compression": 3600}
    assert page["response"]["bodySize"] == 1200 and page["_transferSize"] == 1200
    assert page["request"]["headersSize"] == 310 and page["response"]["headersSize"] == 180
    assert page["_initiator"] == {"type": "navigation"} and page["_resourceType"] == "document"


def test_pages_are_navigations_and_hold_their_requests() -> None:
    document = har.build(RUNTIME, _load())
    (page,) = document["log"]["pages"]
    assert page["title"] == "https://shop.test/checkout?step=2&coupon="
    assert page["startedDateTime"] == "2026-12-01T09:00:00.000+00:00"  # its document's request
    assert page["pageTimings"]["onLoad"] == 400
    assert {
        e.get("pageref") for e in document["log"]["entries"] if e["request"]["url"].startswith("https")
    } == {page["id"]}


def test_failures_redirects_and_downloads_are_said() -> None:
    document = har.build(RUNTIME, _load())
    failed = _entry(document, "https://shop.test/api/cart")
    assert failed["response"]["status"] == 0 and failed["response"]["_error"] == "net::ERR_CONNECTION_RESET"
    assert failed["request"]["method"] == "POST" and failed["request"]["bodySize"] == 42
    assert _entry(document, "https://shop.test/old")["response"]["redirectURL"] == "https://shop.test/new"
    pdf = _entry(document, "https://shop.test/invoice.pdf")
    assert pdf["_download"] == {"suggestedFilename": "invoice.pdf", "size": 2048, "artifactId": "art-1"}
    alone = _entry(document, "data:text/plain,hello")  # a download with no request event of its own
    assert alone["_download"]["size"] == 5 and alone["response"]["content"]["size"] == 5


def test_an_engine_without_timing_phases_still_gives_a_valid_file(
    validator: jsonschema.Draft6Validator,
) -> None:
    """The public API's events carry no headers, sizes or phases: the HAR says what is known."""
    events = [
        _event(
            1,
            "network.request",
            0,
            requestId="r1",
            method="GET",
            url="https://a.test/",
            resourceType="document",
        ),
        _event(
            2,
            "network.response",
            250,
            requestId="r1",
            status=200,
            url="https://a.test/",
            mimeType="text/html",
        ),
    ]
    document = har.build(RUNTIME, events)
    assert not list(validator.iter_errors(document))
    (entry,) = document["log"]["entries"]
    assert (
        entry["timings"]["wait"] == 250
        and entry["timings"]["dns"] == -1
        and entry["request"]["headers"] == []
    )
