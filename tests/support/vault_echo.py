"""A run into which an operator filled a vault password on a login page that echoes it (twice:
in its answer page, then in a JSON echo a later document makes), for the tests of bodies withheld
after a fill (tests/engine/test_vault_network.py, tests/console/test_withheld_bodies.py); the
module-scoped `echoed` fixture in tests/conftest.py runs `echo_run`."""

import secrets
import uuid
from collections.abc import Iterator
from typing import Any

from tests.support.engine_process import EngineProcess, eventually
from tests.support.network_events import network
from tests.support.site import TestSite

PASSWORD = f"echoed-{secrets.token_hex(10)}"
USERNAME = f"eve-{secrets.token_hex(4)}"


def call(name: str, *args: Any) -> dict[str, Any]:
    return {"call": name, "args": list(args)}


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


def echo_run(engine: EngineProcess, site: TestSite) -> Iterator[dict[str, Any]]:
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
