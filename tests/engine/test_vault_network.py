"""Use without read, through the network capture: a site that echoes a filled password.

The runtime keeps the bodies of text responses for its inspector; once a vault secret was typed
into it, a body kept afterwards may hold that secret (a login's answer page, a JSON echo made by
a later document), so it is withheld from keys without raw-read rights (`vault.sealed`), its entry
saying `bodyWithheld: "vault"`; the secret's value is also replaced in whatever is kept. Real
Chromium, the loopback test site only.
"""

import json
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.engine_process import EngineProcess, eventually
from tests.support.site import TestSite

PASSWORD = f"echoed-{secrets.token_hex(10)}"
USERNAME = f"eve-{secrets.token_hex(4)}"
NETWORK_TYPES = "network.request,network.response,network.finished,network.failed"


def call(name: str, *args: Any) -> dict[str, Any]:
    return {"call": name, "args": list(args)}


def network(client: httpx.Client, runtime_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.get(
            f"/runtimes/{runtime_id}/events",
            params={"eventTypes": NETWORK_TYPES, "limit": 500, "cursor": cursor},
        ).json()
        events += page["events"]
        cursor = page["nextCursor"]
        if cursor is None:
            return events


def entry(events: list[dict[str, Any]], url: str, method: str) -> dict[str, dict[str, Any]]:
    """The events of the last request for `url` with `method`, by type."""
    request = [
        e
        for e in events
        if e["eventType"] == "network.request"
        and e["eventData"]["url"] == url
        and e["eventData"]["method"] == method
    ][-1]
    request_id = request["eventData"]["requestId"]
    return {e["eventType"]: e["eventData"] for e in events if e["eventData"]["requestId"] == request_id}


@pytest.fixture(scope="module")
def echoed(engine: EngineProcess, site: TestSite) -> Iterator[dict[str, Any]]:
    """A run whose operator filled a vault password into a login that echoes it (twice)."""
    prefix = f"echo-{uuid.uuid4().hex[:6]}"
    key = f"{prefix}/login"
    with engine.client("admin") as admin:
        login = {"username": USERNAME, "password": PASSWORD, "origins": [site.url]}
        assert admin.put(f"/vault/{key}", json=login).status_code == 200
        workspace = admin.post(
            "/workspaces", json={"name": "echo", "mounts": {"vault": {"allow": [f"{prefix}/"]}}}
        ).json()
        runtime = admin.post(
            f"/workspaces/{workspace['id']}/runtimes",
            json={"alias": "echoer", "launch": {"mode": "ephemeral", "config": {"recording": False}}},
        )
        assert runtime.status_code == 200, runtime.text
        with engine.client("operator") as operator:
            steps = [
                call("page.goto", f"{site.url}/vault-login-echo.html"),
                call("vault.fill", key, {"usernameSelector": "#user", "passwordSelector": "#pass"}),
                call("page.click", "#go"),
                call("page.waitForURL", "**/echo"),
                call("page.waitForSelector", "#fetched:has-text('done')"),
            ]
            run = operator.post(
                f"/workspaces/{workspace['id']}/execute", json={"runtime": "echoer", "steps": steps}
            )
            assert run.json()["status"] == "succeeded", run.text
        # the site did get the password, and echoed it: in the answer page, then in a JSON echo
        assert any(path == "/echo.json" and PASSWORD.encode() in body for path, body in site.posts)
        runtime_id = runtime.json()["id"]

        def kept() -> bool:
            events = network(admin, runtime_id)
            return all(
                entry(events, url, method).get("network.finished", {}).get("bodyKept")
                for url, method in ((f"{site.url}/echo", "POST"), (f"{site.url}/echo.json", "POST"))
            )

        assert eventually(kept)
        yield {"id": runtime_id, "workspace": workspace["id"]}
        admin.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})
        admin.delete(f"/vault/{key}")


@pytest.mark.parametrize("scope", ["read", "operator"])
def test_a_body_kept_after_a_fill_is_withheld_without_raw_reads(
    engine: EngineProcess, site: TestSite, echoed: dict[str, Any], scope: str
) -> None:
    with engine.client(scope) as client:
        events = network(client, echoed["id"])
        assert PASSWORD not in json.dumps(events)
        for url in (f"{site.url}/echo", f"{site.url}/echo.json"):  # the filled document's, and a later one's
            seen = entry(events, url, "POST")
            # the entry stays: URL, status, headers, timings; only its body is withheld
            assert seen["network.response"]["status"] == 200
            finished = seen["network.finished"]
            assert finished["bodyKept"] is True and finished["bodyWithheld"] == "vault"
            assert finished["timing"]["wait"] >= 0 and finished["responseHeaders"]
            refused = client.get(f"/runtimes/{echoed['id']}/network/{finished['requestId']}/body")
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["code"] == "vault.sealed" and PASSWORD not in refused.text
        # A body that arrived before the fill holds no secret: it stays readable.
        before = entry(events, f"{site.url}/vault-login-echo.html", "GET")["network.finished"]
        assert "bodyWithheld" not in before
        page = client.get(f"/runtimes/{echoed['id']}/network/{before['requestId']}/body")
        assert page.status_code == 200 and b'id="pass"' in page.content


def test_raw_read_rights_get_the_body_with_the_secret_replaced(
    engine: EngineProcess, site: TestSite, echoed: dict[str, Any]
) -> None:
    with engine.client("admin") as admin:
        events = network(admin, echoed["id"])
        for url in (f"{site.url}/echo", f"{site.url}/echo.json"):
            finished = entry(events, url, "POST")["network.finished"]
            body = admin.get(f"/runtimes/{echoed['id']}/network/{finished['requestId']}/body")
            assert body.status_code == 200 and body.headers["X-BCTRL-Body-Withheld"] == "vault"
            # kept with the secret's value replaced (defence in depth); the username is no secret
            assert PASSWORD.encode() not in body.content and b"[secret]" in body.content
            assert USERNAME.encode() in body.content


def test_no_kept_file_of_the_run_holds_the_secret(engine: EngineProcess, echoed: dict[str, Any]) -> None:
    kept = list((engine.var_dir / "network" / echoed["id"]).iterdir())
    assert kept and all(PASSWORD.encode() not in path.read_bytes() for path in kept)
