"""`BCTRL-Acting-Scope` (ours): a request acts with the lower of its key's scope and the header's.

A console shares one admin key with its whole team and sends its user's role in this header, so an
operator using the console must get no more than an operator key would: no admin route, no raw
read of what the vault filled (steps, CDP URLs, one-time codes, `allowRawReads` mounts). The
header lowers, never raises; a value that is no scope is refused, not ignored.
"""

import json
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.cdp import Cdp, mint
from tests.support.engine_process import EngineProcess
from tests.support.site import TestSite as Site

HEADER = "BCTRL-Acting-Scope"
PASSWORD = f"pw-{secrets.token_hex(10)}"


def acting(engine: EngineProcess, key: str, scope: str | None) -> httpx.Client:
    """A client of `engine` with the `key` scope's key, acting as `scope` (no header when None)."""
    client = engine.client(key)
    if scope is not None:
        client.headers[HEADER] = scope
    return client


def call(name: str, *args: Any) -> dict[str, Any]:
    return {"call": name, "args": list(args)}


@pytest.fixture(scope="module")
def filled(engine: EngineProcess, site: Site) -> Iterator[dict[str, str]]:
    """A runtime whose login page has the vault's password typed into it (so the page is sealed)."""
    prefix = f"acting-{uuid.uuid4().hex[:6]}"
    key = f"{prefix}/crm"
    with engine.client("admin") as admin:
        entry = {"username": "ada", "password": PASSWORD, "totp": "JBSWY3DPEHPK3PXP", "origins": [site.url]}
        assert admin.put(f"/vault/{key}", json=entry).status_code == 200
        workspace = admin.post(
            "/workspaces", json={"name": "acting", "mounts": {"vault": {"allow": [f"{prefix}/"]}}}
        ).json()
        runtime = admin.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "filler"})
        assert runtime.status_code == 200, runtime.text
        steps = [
            call("page.goto", f"{site.url}/vault-login-post.html"),
            call("vault.fill", key, {"usernameSelector": "#user", "passwordSelector": "#pass"}),
        ]
        done = admin.post(
            f"/workspaces/{workspace['id']}/execute", json={"runtime": "filler", "steps": steps}
        )
        assert done.json()["status"] == "succeeded", done.text
        yield {"workspace": workspace["id"], "key": key}
        admin.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})
        admin.delete(f"/vault/{key}")


def read_password(client: httpx.Client, workspace_id: str) -> dict[str, Any]:
    response = client.post(
        f"/workspaces/{workspace_id}/execute",
        json={"runtime": "filler", "steps": [call("page.inputValue", "#pass")]},
    )
    assert response.status_code == 200, response.text
    step: dict[str, Any] = response.json()["steps"][0]
    return step


def test_an_admin_key_acting_as_operator_gets_an_operators_rights(engine: EngineProcess) -> None:
    with acting(engine, "admin", "operator") as client:
        refused = client.get("/api-keys")
        assert refused.status_code == 403, refused.text
        error = refused.json()["error"]
        assert error["code"] == "auth.forbidden" and error["details"] == {
            "scope": "operator",
            "needed": "admin",
        }
        assert HEADER in error["message"]
        assert client.get("/auth/whoami").json()["apiKey"]["scopes"] == ["admin"]  # the key, as it is
        assert client.get("/workspaces").status_code == 200  # what an operator may do, it still does
        # allowRawReads needs admin whatever the route's scope: so it needs an acting admin
        raw = client.post("/workspaces", json={"name": "raw", "mounts": {"vault": {"allowRawReads": True}}})
        assert raw.status_code == 403, raw.text
    with acting(engine, "admin", "read") as client:
        assert client.post("/workspaces", json={"name": "x"}).status_code == 403
    with acting(engine, "admin", "admin") as client:
        assert client.get("/api-keys").status_code == 200


def test_the_header_never_raises_a_keys_scope(engine: EngineProcess) -> None:
    with acting(engine, "operator", "admin") as client:
        refused = client.get("/api-keys")
        assert refused.status_code == 403 and refused.json()["error"]["details"]["scope"] == "operator"
        assert client.get("/auth/whoami").json()["apiKey"]["scopes"] == ["operator"]
    with acting(engine, "read", "operator") as client:
        assert client.post("/workspaces", json={"name": "x"}).status_code == 403


@pytest.mark.parametrize("value", ["root", "Admin", "", "admin,read"])
def test_a_value_that_is_no_scope_is_refused(engine: EngineProcess, value: str) -> None:
    with acting(engine, "admin", value) as client:
        response = client.get("/workspaces")
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"]["code"] == "request.invalid_header" and HEADER in body["error"]["message"]
    assert body["requestId"] == response.headers["X-Request-Id"]


def test_an_admin_key_acting_as_operator_cannot_read_what_the_vault_filled(
    engine: EngineProcess, filled: dict[str, str]
) -> None:
    workspace_id = filled["workspace"]
    with acting(engine, "admin", "operator") as client:
        step = read_password(client, workspace_id)
        assert step["error"]["code"] == "vault.sealed" and PASSWORD not in json.dumps(step)
        code = client.post(
            f"/workspaces/{workspace_id}/execute",
            json={"runtime": "filler", "steps": [call("vault.totp", filled["key"])]},
        ).json()["steps"][0]
        assert code["error"]["code"] == "vault.raw_read_denied"
        totp = client.get(f"/vault/{filled['key']}/totp")
        assert totp.status_code == 403 and totp.json()["error"]["code"] == "auth.forbidden"
        url = mint(client, f"/workspaces/{workspace_id}/runtimes/filler")
    cdp = Cdp(url)  # minted while acting as operator: no raw reads through it either
    try:
        read = {"expression": "document.querySelector('#pass').value", "returnByValue": True}
        refused = cdp.send("Runtime.evaluate", read, cdp.page_session())
        assert refused.get("error", {}).get("data") == "cdp.sealed" and PASSWORD not in json.dumps(refused)
    finally:
        cdp.close()
    with acting(engine, "operator", "admin") as client:  # an operator key asking for more: still sealed
        assert read_password(client, workspace_id)["error"]["code"] == "vault.sealed"
    with acting(engine, "admin", "admin") as client:  # the same key acting as itself reads
        assert read_password(client, workspace_id)["result"] == PASSWORD
