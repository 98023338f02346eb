"""What a run keeps of its network, after it ended: redacted headers, timings, sizes, the initiator,
and the bodies of text responses (GET /v1/runtimes/{runtimeId}/network/{requestId}/body)."""

import json

import httpx

from tests.support.engine_process import EngineProcess, eventually
from tests.support.network_events import network
from tests.support.site import JSON_BODY, TestSite

SECRETS = ("s3cret-token-77a", "api-key-secret-5d0", "cookie-secret-41c", "set-cookie-secret-9f2")


def by_request(events: list[dict], url_end: str) -> dict[str, dict]:
    request = next(
        e for e in events if e["eventType"] == "network.request" and e["eventData"]["url"].endswith(url_end)
    )
    request_id = request["eventData"]["requestId"]
    return {e["eventType"]: e["eventData"] for e in events if e["eventData"]["requestId"] == request_id}


def test_an_ended_run_keeps_its_network_with_secrets_redacted(
    api: httpx.Client, engine: EngineProcess, workspace: dict, site: TestSite
) -> None:
    runtimes = f"/workspaces/{workspace['id']}/runtimes"
    first = api.post(
        runtimes, json={"alias": "net", "launch": {"mode": "ephemeral", "config": {"recording": False}}}
    )
    assert first.status_code == 200, first.text
    steps = [
        {"call": "page.goto", "args": [f"{site.url}/network.html"]},
        {"call": "page.waitForSelector", "args": ["#answer:has-text('42')"]},
        {"call": "page.goto", "args": [f"{site.url}/text?bytes=1500000"]},
    ]
    run = api.post(f"/workspaces/{workspace['id']}/execute", json={"runtime": "net", "steps": steps})
    assert run.json()["status"] == "succeeded", run.text
    old_id = first.json()["id"]
    # every request has finished (or failed) before the run is stopped
    assert eventually(
        lambda: (
            sum(e["eventType"] in ("network.finished", "network.failed") for e in network(api, old_id))
            >= sum(e["eventType"] == "network.request" for e in network(api, old_id))
        )
    )
    api.post(f"{runtimes}/net/stop")
    # Relaunched: the alias names a new run; the old one is read by its id, with a read key.
    assert api.post(runtimes, json={"alias": "net"}).status_code == 200
    with engine.client("read") as reader:
        events = network(reader, old_id)
        fetch = by_request(events, "/api/json")
        sent = fetch["network.request"]
        assert sent["method"] == "GET" and sent["headers"]["authorization"] == "[redacted]"
        assert sent["headers"]["x-api-key"] == "[redacted]"  # named like a secret
        assert sent["initiator"] == {"type": "document", "url": f"{site.url}/network.html"}
        assert sent["timestamp"] > 0
        answered = fetch["network.response"]
        assert answered["status"] == 200 and answered["statusText"] == "OK"
        assert answered["mimeType"] == "application/json"
        finished = fetch["network.finished"]
        # the headers that went over the wire: the cookie the page set, the one the server set
        assert finished["requestHeaders"]["cookie"] == "[redacted]"
        assert finished["requestHeaders"]["authorization"] == "[redacted]"
        assert finished["responseHeaders"]["set-cookie"] == "[redacted]"
        assert finished["responseHeaders"]["content-type"].startswith("application/json")
        assert set(finished["timing"]) == {"blocked", "dns", "connect", "ssl", "send", "wait", "receive"}
        assert finished["timing"]["wait"] >= 0 and finished["timing"]["receive"] >= 0
        assert finished["startedAt"] > 0 and finished["protocol"].lower().startswith("http/1.")
        assert finished["encodedBodySize"] == len(JSON_BODY) == finished["bodySize"]
        assert finished["bodyKept"] is True
        document = by_request(events, "/network.html")
        assert document["network.request"]["initiator"] == {"type": "navigation"}
        assert document["network.finished"]["bodyKept"] is True
        for secret in SECRETS:
            assert secret not in json.dumps(events)

        body = reader.get(f"/runtimes/{old_id}/network/{sent['requestId']}/body")
        assert body.status_code == 200 and body.content == JSON_BODY
        assert body.headers["content-type"] == "application/json; charset=utf-8"
        assert "sandbox" in body.headers["content-security-policy"]

        # A text body past ENGINE_NETWORK_BODY_MAX_BYTES (1 MiB) is kept up to the limit, and says so.
        big = by_request(events, "/text?bytes=1500000")["network.finished"]
        assert big["bodyKept"] and big["bodyTruncated"] and big["bodySize"] == 1_500_000
        kept = reader.get(f"/runtimes/{old_id}/network/{big['requestId']}/body")
        assert kept.status_code == 200 and len(kept.content) == 1024 * 1024

        # A request id that names no kept body, or nothing, is a 404 that says what is kept.
        for request_id in ("req_999999", "../../secrets", "req_1%2F..%2F"):
            missing = reader.get(f"/runtimes/{old_id}/network/{request_id}/body")
            assert missing.status_code == 404, request_id
            assert missing.json()["error"]["code"] in ("network.body_not_kept", "request.not_found")
        unknown = reader.get(
            f"/runtimes/00000000-0000-0000-0000-000000000000/network/{sent['requestId']}/body"
        )
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "runtime.not_found"
        # That run was launched with recording off: nothing to play or export, said plainly.
        for response in (
            reader.post(f"/runtimes/{old_id}/embed/recording"),
            reader.get(f"/runtimes/{old_id}/recording/video"),
        ):
            assert response.status_code == 404 and response.json()["error"]["code"] == "recording.not_found"
        assert reader.get("/runtimes/not-a-run/recording/video").status_code == 404
