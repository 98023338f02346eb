"""Use without read, tried as an attacker with an operator key and a real Chromium.

An operator may have the engine type a vault secret into a login page; it must not get the
secret back: not by reading the filled page (`vault.sealed` until the page navigates), not by a
listener it planted before the fill (`vault.document_tainted`), not in a screenshot (masked),
an event, a URL or a one-time code. An admin key (raw-read rights) still reads; a real login
still sends the site the right password.
"""

import json
import re
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pyotp
import pytest

from tests.support.cdp import Cdp, mint
from tests.support.engine_process import EngineProcess
from tests.support.png import pixel
from tests.support.site import TestSite as Site

PASSWORD = f"pw-{secrets.token_hex(10)}"
USERNAME = f"ada-{secrets.token_hex(4)}"
SEED = pyotp.random_base32()
MAGENTA = (255, 0, 255)  # Playwright's mask colour
USER_FIELD = (120, 35)  # the middle of #user on vault-login-post.html (fixed layout)


class Runtime:
    def __init__(self, engine: EngineProcess, workspace_id: str, site: Site, key: str) -> None:
        self.engine, self.workspace_id, self.site, self.key = engine, workspace_id, site, key

    def run(self, *steps: dict[str, Any], scope: str = "operator") -> dict[str, Any]:
        with self.engine.client(scope) as client:
            response = client.post(
                f"/workspaces/{self.workspace_id}/execute", json={"runtime": "filler", "steps": list(steps)}
            )
        assert response.status_code == 200, response.text
        return response.json()

    def ok(self, *steps: dict[str, Any], scope: str = "operator") -> list[Any]:
        body = self.run(*steps, scope=scope)
        assert body["status"] == "succeeded", body
        return [step["result"] for step in body["steps"]]

    def error(self, *steps: dict[str, Any], scope: str = "operator") -> dict[str, Any]:
        body = self.run(*steps, scope=scope)
        assert body["status"] == "failed", body
        return body["steps"][-1]["error"]

    def login_page(self) -> dict[str, Any]:
        return call("page.goto", f"{self.site.url}/vault-login-post.html")

    def fill(self, **selectors: str) -> dict[str, Any]:
        return call(
            "vault.fill", self.key, selectors or {"usernameSelector": "#user", "passwordSelector": "#pass"}
        )


def call(name: str, *args: Any, **extra: Any) -> dict[str, Any]:
    return {"call": name, "args": list(args), **extra}


@pytest.fixture(scope="module")
def runtime(engine: EngineProcess, site: Site) -> Iterator[Runtime]:
    prefix = f"sealing-{uuid.uuid4().hex[:6]}"
    key = f"{prefix}/crm"
    with engine.client("admin") as admin:
        entry = {"username": USERNAME, "password": PASSWORD, "totp": SEED, "origins": [site.url]}
        assert admin.put(f"/vault/{key}", json=entry).status_code == 200
        workspace = admin.post(
            "/workspaces", json={"name": "sealing", "mounts": {"vault": {"allow": [f"{prefix}/"]}}}
        ).json()
        assert (
            admin.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "filler"}).status_code == 200
        )
        yield Runtime(engine, workspace["id"], site, key)
        admin.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})
        admin.delete(f"/vault/{key}")


READS = [
    call("page.inputValue", "#pass"),
    call("page.evaluate", "document.querySelector('#pass').value"),
    call("page.content"),
    call("page.textContent", "body"),
    call("page.innerText", "body"),
    call("page.getAttribute", "#pass", "value"),
    call("page.querySelectorAll", "input", {"attributes": ["value"]}),
    call("page.title"),
    call("page.pdf"),
]


def test_a_filled_password_cannot_be_read_back_until_the_page_navigates(runtime: Runtime) -> None:
    assert runtime.ok(runtime.login_page(), runtime.fill())[1] == {"filled": ["username", "password"]}
    for read in READS:
        body = runtime.run(read)
        error = body["steps"][0]["error"]
        assert error is not None and error["code"] == "vault.sealed", (read["call"], body)
        assert "navigation" in error["message"] and PASSWORD not in json.dumps(body)
    # Another page of the runtime is no way around it: its script could reach the filled one.
    other = runtime.run(call("context.newPage", bind="other"), call("page.evaluate", "1 + 1", ref="other"))
    assert other["steps"][1]["error"]["code"] == "vault.sealed"
    runtime.ok(call("page.close", ref="other"))
    # Raw-read rights read it: an admin key.
    assert runtime.ok(call("page.inputValue", "#pass"), scope="admin") == [PASSWORD]
    # A navigation replaces the document: reads work again (and the new page holds nothing).
    assert runtime.ok(runtime.login_page(), call("page.inputValue", "#pass"))[1] == ""


def test_a_listener_planted_before_the_fill_makes_it_refuse(runtime: Runtime) -> None:
    plant = call(
        "page.evaluate",
        "document.querySelector('#pass').addEventListener('input', e => { window.stolen = e.target.value })",
    )
    error = runtime.error(runtime.login_page(), plant, runtime.fill())
    assert error["code"] == "vault.document_tainted" and "Navigate" in error["message"]
    # Nothing was typed, so nothing is sealed either: the page is as the caller left it.
    assert runtime.ok(call("page.inputValue", "#pass"), call("page.evaluate", "window.stolen ?? null")) == [
        "",
        None,
    ]
    # A script in another page of the runtime taints the fill too (a popup or opener reaches it).
    spy = runtime.run(call("context.newPage", bind="spy"), call("page.evaluate", "window.name", ref="spy"))
    assert spy["status"] == "succeeded", spy
    assert runtime.error(runtime.login_page(), runtime.fill())["code"] == "vault.document_tainted"
    runtime.ok(call("page.close", ref="spy"))
    # A fresh document, and no scripted page left: the fill goes through.
    assert runtime.ok(runtime.login_page(), runtime.fill())[1] == {"filled": ["username", "password"]}


def test_screenshots_mask_the_filled_fields(runtime: Runtime) -> None:
    def shot() -> bytes:
        artifact = runtime.ok(call("page.screenshot"))[0]["artifact"]
        with runtime.engine.client("operator") as client:
            return client.get(f"/artifacts/{artifact['id']}/content").content

    runtime.ok(runtime.login_page(), call("page.fill", "#user", "a visible name"))
    assert pixel(shot(), *USER_FIELD)[:3] != MAGENTA
    runtime.ok(runtime.login_page(), runtime.fill())
    assert pixel(shot(), *USER_FIELD)[:3] == MAGENTA


def test_a_real_login_sends_the_site_the_password_and_nothing_else_carries_it(
    runtime: Runtime, site: Site
) -> None:
    site.posts.clear()
    results = runtime.ok(
        runtime.login_page(),
        runtime.fill(),
        call("page.click", "#go"),
        call("page.waitForURL", "**/login"),
        call("page.textContent", "#welcome"),  # a new document: nothing to seal
    )
    assert results[-1] == "Welcome"
    [(path, body)] = site.posts
    assert path == "/login" and parse_qs(body.decode()) == {"user": [USERNAME], "pass": [PASSWORD]}
    with runtime.engine.client("operator") as client:
        events = client.get(
            f"/workspaces/{runtime.workspace_id}/runtimes/filler/events", params={"limit": 500}
        ).json()["events"]
    logged = [e["eventData"]["text"] for e in events if e["eventType"] == "console.message"]
    assert any(text.startswith(f"signing in as {USERNAME} with [secret]") for text in logged), logged
    assert PASSWORD not in json.dumps(events)


def test_a_one_time_code_is_typed_for_an_operator_and_returned_only_to_an_admin(runtime: Runtime) -> None:
    refused = runtime.error(call("vault.totp", runtime.key))
    assert refused["code"] == "vault.raw_read_denied" and "selector" in refused["message"]
    typed = runtime.ok(runtime.login_page(), call("vault.totp", runtime.key, "#otp"))[1]
    assert typed["filled"] == ["totp"] and "code" not in typed
    assert runtime.error(call("page.inputValue", "#otp"))["code"] == "vault.sealed"
    in_page = runtime.ok(call("page.inputValue", "#otp"), scope="admin")[0]
    assert pyotp.TOTP(SEED).verify(in_page, valid_window=1)
    code = runtime.ok(call("vault.totp", runtime.key), scope="admin")[0]
    assert pyotp.TOTP(SEED).verify(code["code"], valid_window=1)


def test_a_password_goes_only_into_a_password_input(runtime: Runtime) -> None:
    # A text field would show it in the page, the live view and recordings, and send it in a GET form.
    error = runtime.error(runtime.login_page(), runtime.fill(passwordSelector="#user"))
    assert error["code"] == "vault.field_refused" and "password input" in error["message"]
    assert runtime.ok(call("page.inputValue", "#user")) == [""]  # nothing typed, nothing sealed


def test_the_sealing_table_in_the_docs_is_the_catalogues_own(runtime: Runtime) -> None:
    """docs/api.md lists what every call does with page data; `help` serves the same column."""
    with runtime.engine.client("read") as reader:
        calls = reader.get(f"/workspaces/{runtime.workspace_id}/help").json()["calls"]
    served = {c["name"]: c["pageData"] for c in calls}
    reference = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    documented = dict(re.findall(r"^\| `([\w.]+)` \| (reads|script|masked|none) \|", reference, re.M))
    assert documented == served


def test_a_cdp_client_cannot_read_a_filled_page_and_a_page_it_scripted_is_not_filled(
    runtime: Runtime,
) -> None:
    """The CDP gateway (engine/cdp/) answers to the same seal as the steps do."""
    with runtime.engine.client("operator") as operator:
        url = mint(operator, f"/workspaces/{runtime.workspace_id}/runtimes/filler")
    cdp = Cdp(url)
    try:
        session = cdp.page_session()
        runtime.ok(runtime.login_page(), runtime.fill())
        read = {"expression": "document.querySelector('#pass').value", "returnByValue": True}
        refused = cdp.send("Runtime.evaluate", read, session)
        assert refused.get("error", {}).get("data") == "cdp.sealed" and PASSWORD not in json.dumps(refused)
        # A new document un-seals; the client's script then marks the page: no fill into it.
        runtime.ok(runtime.login_page())
        assert cdp.send("Runtime.evaluate", read, session)["result"]["result"]["value"] == ""
        assert runtime.error(runtime.login_page(), runtime.fill())["code"] == "vault.document_tainted"
    finally:
        cdp.close()
