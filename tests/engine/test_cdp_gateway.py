"""The CDP gateway with real Chromium: POST .../cdp, Playwright's connect_over_cdp through it, the
method rules, the tokens that open nothing, and the connection ending with its runtime."""

import contextlib
import html
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser
from playwright.sync_api import Error as PlaywrightError
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.support.cdp import Cdp, mint
from tests.support.engine_process import EngineProcess, browser_pid
from tests.support.site import TestSite


@pytest.fixture
def runtime_url(api: httpx.Client, workspace: dict) -> Iterator[str]:
    response = api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "driven"})
    assert response.status_code == 200, response.text
    yield f"/workspaces/{workspace['id']}/runtimes/driven"


def events(client: httpx.Client, runtime_url: str, types: str) -> list[dict]:
    found: list[dict] = client.get(
        f"{runtime_url}/events", params={"eventTypes": types, "limit": 500}
    ).json()["events"]
    return found


def test_playwright_drives_the_runtime_through_the_gateway(
    api: httpx.Client, runtime_url: str, site: TestSite, browser: Browser, engine: EngineProcess
) -> None:
    url = mint(api, runtime_url, label="ci suite")
    runtime_id = api.get(runtime_url).json()["id"]
    assert url.startswith(f"ws://{engine.url.split('://')[1]}/cdp/{runtime_id}?token=")
    remote = browser.browser_type.connect_over_cdp(url)
    try:
        page = remote.contexts[0].pages[0]
        page.goto(f"{site.url}/form.html")
        assert page.title() == "Test form"
        assert page.screenshot()[:4] == b"\x89PNG"
        assert page.evaluate("[innerWidth, innerHeight]") == [1280, 720]  # the runtime's viewport
        connections = api.get(f"{runtime_url}/cdp").json()["connections"]
        assert [(c["label"], c["keyName"]) for c in connections] == [("ci suite", "test-admin")]
        assert connections[0]["messages"] > 0
    finally:
        remote.close()
    navigated = [e["eventData"]["url"] for e in events(api, runtime_url, "page.navigated")]
    assert f"{site.url}/form.html" in navigated
    kinds = [e["eventType"] for e in events(api, runtime_url, "cdp.connected,cdp.disconnected")]
    assert kinds == ["cdp.connected", "cdp.disconnected"]
    # The engine's own steps still drive the same page afterwards.
    result = api.post(
        runtime_url.replace("/runtimes/driven", "/execute"),
        json={"runtime": "driven", "steps": [{"call": "page.title"}]},
    ).json()
    assert result["steps"][0]["result"] == "Test form", result


@pytest.mark.parametrize("own_context", [False, True], ids=["its page", "a context of the clients own"])
def test_a_refused_address_is_refused_through_cdp(
    api: httpx.Client, runtime_url: str, browser: Browser, own_context: bool
) -> None:
    """On the runtime's page, and in a context the client makes (`browser.new_context()`, what
    most Playwright scripts do: a context may not name a proxy of its own, so its traffic crosses
    the runtime's egress proxy too)."""
    private = TestSite(host="127.0.0.2").start()  # not in the engine's ENGINE_EGRESS_ALLOW
    remote = browser.browser_type.connect_over_cdp(mint(api, runtime_url))
    try:
        page = remote.new_context().new_page() if own_context else remote.contexts[0].pages[0]
        with contextlib.suppress(PlaywrightError):  # an error page, or a proxy's refusal
            page.goto(f"{private.url}/index.html")
    finally:
        remote.close()
        private.stop()
    assert private.requests == []
    blocked = events(api, runtime_url, "navigation.blocked")
    assert blocked and blocked[-1]["eventData"]["rule"] == "destination:loopback"
    assert blocked[-1]["eventData"]["url"].startswith(private.url)


def test_a_context_the_client_makes_is_the_runtimes_too(
    api: httpx.Client, runtime_url: str, site: TestSite, browser: Browser
) -> None:
    """Pages of a context the client makes are the runtime's to watch: their navigations and
    network are in the runtime's events (and its live view) like its own page's."""
    remote = browser.browser_type.connect_over_cdp(mint(api, runtime_url))
    try:
        page = remote.new_context().new_page()
        page.goto(f"{site.url}/form.html?own-context")
        assert page.title() == "Test form"
    finally:
        remote.close()
    navigated = [e["eventData"]["url"] for e in events(api, runtime_url, "page.navigated")]
    assert f"{site.url}/form.html?own-context" in navigated
    requested = [e["eventData"]["url"] for e in events(api, runtime_url, "network.request")]
    assert f"{site.url}/form.html?own-context" in requested


REFUSED = [
    ("Browser.close", {}, "cdp.browser_end"),
    ("Browser.crash", {}, "cdp.browser_end"),
    ("Browser.executeBrowserCommand", {"commandId": "openTabSearch"}, "cdp.engine"),
    ("Tethering.bind", {"port": 9222}, "cdp.network"),
    ("Target.createBrowserContext", {"proxyServer": "http://127.0.0.1:1"}, "cdp.proxy"),
    ("Target.exposeDevToolsProtocol", {"targetId": "x"}, "cdp.channel"),
    ("Target.attachToBrowserTarget", {}, "cdp.channel"),
    ("Target.setRemoteLocations", {"locations": [{"host": "127.0.0.1", "port": 9222}]}, "cdp.network"),
    ("Target.createTarget", {"url": "file:///etc/passwd"}, "cdp.scheme"),
    ("Extensions.loadUnpacked", {"path": "/tmp"}, "cdp.extensions"),
    ("PWA.install", {"manifestId": "x"}, "cdp.files"),
    ("Network.loadNetworkResource", {"url": "file:///etc/passwd", "options": {}}, "cdp.network"),
    ("SomeFutureDomain.doThings", {}, "cdp.domain_not_allowed"),
    ("IO.read", {"handle": "1"}, "cdp.stream"),
]


def test_each_refused_method_answers_an_error_and_changes_nothing(
    api: httpx.Client, runtime_url: str, site: TestSite
) -> None:
    cdp = Cdp(mint(api, runtime_url))
    try:
        contexts = cdp.send("Target.getBrowserContexts")["result"]["browserContextIds"]
        targets = len(cdp.send("Target.getTargets")["result"]["targetInfos"])
        for method, params, rule in REFUSED:
            answer = cdp.send(method, params)
            assert answer["error"]["data"] == rule, (method, answer)
            assert rule in answer["error"]["message"] and method in answer["error"]["message"]
        session = cdp.page_session()
        cdp.send("Page.navigate", {"url": f"{site.url}/form.html"}, session)
        time.sleep(1)
        refused = cdp.send("Page.navigate", {"url": "file:///etc/passwd"}, session)
        assert refused["error"]["data"] == "cdp.scheme"
        document = cdp.send("DOM.getDocument", {}, session)["result"]["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": document, "selector": "#name"}, session)["result"][
            "nodeId"
        ]
        files = cdp.send("DOM.setFileInputFiles", {"files": ["/etc/passwd"], "nodeId": node}, session)
        assert files["error"]["data"] == "cdp.files"
        # No effect: the browser lives, no context or target was added, the page stayed.
        assert cdp.send("Browser.getVersion")["result"]["product"].startswith(("HeadlessChrome", "Chrome"))
        assert cdp.send("Target.getBrowserContexts")["result"]["browserContextIds"] == contexts
        assert len(cdp.send("Target.getTargets")["result"]["targetInfos"]) == targets
        href = cdp.send("Runtime.evaluate", {"expression": "location.href", "returnByValue": True}, session)
        assert href["result"]["result"]["value"] == f"{site.url}/form.html"
    finally:
        cdp.close()
    rules = {e["eventData"]["rule"] for e in events(api, runtime_url, "cdp.refused")}
    assert {rule for _m, _p, rule in REFUSED} | {"cdp.files", "cdp.scheme"} <= rules


def test_downloads_go_to_the_runtimes_own_dir(api: httpx.Client, runtime_url: str, site: TestSite) -> None:
    cdp = Cdp(mint(api, runtime_url))
    try:
        answer = cdp.send(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": "/tmp", "eventsEnabled": True},
        )
        assert "error" not in answer, answer
        session = cdp.page_session()
        cdp.send("Page.navigate", {"url": f"{site.url}/download.html"}, session)
        time.sleep(1)
        cdp.send("Runtime.evaluate", {"expression": "document.getElementById('get').click()"}, session)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not events(api, runtime_url, "download.finished"):
            time.sleep(0.3)
    finally:
        cdp.close()
    finished = events(api, runtime_url, "download.finished")
    assert finished and finished[-1]["eventData"]["artifactId"], finished


def test_tokens_that_open_nothing(
    api: httpx.Client, runtime_url: str, workspace: dict, engine: EngineProcess
) -> None:
    url = mint(api, runtime_url)
    base, query = url.split("?", 1)
    token = parse_qs(query)["token"][0]
    other = api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "other"}).json()
    expired = mint(api, runtime_url, ttlSeconds=1)
    time.sleep(1.5)
    attempts = {
        "tampered": f"{base}?token={token[:-2]}xx",
        "foreign": f"{base.rsplit('/', 1)[0]}/{other['id']}?token={token}",
        "expired": expired,
        "none": base,
        "embed token": base + "?token=" + api.post(f"{runtime_url}/embed/live").json()["token"],
    }
    for name, attempt in attempts.items():
        with pytest.raises(InvalidStatus) as refused:
            connect(attempt)
        assert refused.value.response.status_code == 403, name
    api.post(f"{runtime_url}/stop")
    with pytest.raises(InvalidStatus):
        connect(url)  # a token whose runtime stopped
    assert token not in engine.log()


def test_a_read_key_cannot_mint_one(engine: EngineProcess, runtime_url: str) -> None:
    with engine.client("read") as reader:
        response = reader.post(f"{runtime_url}/cdp")
        assert response.status_code == 403 and response.json()["error"]["code"] == "auth.forbidden"
        assert reader.get(f"{runtime_url}/cdp").status_code == 403


def test_bad_bodies_get_a_clear_error(api: httpx.Client, runtime_url: str, workspace: dict) -> None:
    too_long = api.post(f"{runtime_url}/cdp", json={"ttlSeconds": 10 * 24 * 3600})
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "request.invalid"
    assert api.post(f"{runtime_url}/cdp", json={"label": "x" * 500}).status_code == 400
    missing = api.post(f"/workspaces/{workspace['id']}/runtimes/nobody/cdp")
    assert missing.status_code == 404


def test_the_connection_closes_when_the_runtime_stops(api: httpx.Client, runtime_url: str) -> None:
    cdp = Cdp(mint(api, runtime_url))
    assert cdp.send("Browser.getVersion")["result"]
    api.post(f"{runtime_url}/stop")
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            cdp.socket.recv(timeout=30)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001 and "runtime stopped" in closed.value.rcvd.reason


def test_a_clients_sessions_are_its_own(api: httpx.Client, runtime_url: str) -> None:
    first, second = Cdp(mint(api, runtime_url)), Cdp(mint(api, runtime_url))
    try:
        session = first.page_session()
        answer = second.send("Runtime.evaluate", {"expression": "1"}, session)
        assert answer["error"]["message"].startswith("Session with given id not found")
        assert "result" in first.send("Runtime.evaluate", {"expression": "1"}, session)
    finally:
        first.close()
        second.close()


def test_the_url_has_the_engines_public_address(api: httpx.Client, runtime_url: str) -> None:
    parts = urlsplit(mint(api, runtime_url))
    assert parts.scheme == "ws" and parts.path.startswith("/cdp/")


def test_a_key_holds_at_most_its_connections(
    api: httpx.Client, runtime_url: str, engine: EngineProcess
) -> None:
    limit = 5  # ENGINE_CDP_MAX_CONNECTIONS_PER_KEY's default (the session engine keeps it)
    held = [Cdp(mint(api, runtime_url)) for _ in range(limit)]
    try:
        for client in held:
            assert client.send("Browser.getVersion")["result"]
        with connect(mint(api, runtime_url)) as extra, pytest.raises(ConnectionClosed) as closed:
            extra.recv(timeout=30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
        assert "ENGINE_CDP_MAX_CONNECTIONS_PER_KEY" in closed.value.rcvd.reason
        with engine.client("operator") as operator:  # the limit is the key's, not the runtime's
            other = Cdp(mint(operator, runtime_url))
            assert other.send("Browser.getVersion")["result"]
            other.close()
        held.pop().close()
        again = eventually_connected(mint(api, runtime_url))
        assert again.send("Browser.getVersion")["result"]
        held.append(again)
    finally:
        for client in held:
            client.close()


def eventually_connected(url: str) -> Cdp:
    """A connection once a slot is free again (a closed one gives its slot back as it ends)."""
    deadline = time.monotonic() + 30
    while True:
        client = Cdp(url)
        try:
            client.send("Browser.getVersion")
            return client
        except ConnectionClosed:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_a_connected_client_keeps_its_runtime_from_idling(api: httpx.Client, workspace: dict) -> None:
    url = f"/workspaces/{workspace['id']}/runtimes/kept"
    launched = api.post(
        f"/workspaces/{workspace['id']}/runtimes",
        json={"alias": "kept", "launch": {"mode": "ephemeral", "config": {"idleTimeoutSeconds": 3}}},
    )
    assert launched.status_code == 200, launched.text
    cdp = Cdp(mint(api, url))

    def stopped_within(ms: int) -> bool:
        waited = api.post(
            f"{url}/events/wait",
            json={"after": 0, "eventTypes": ["runtime.stopped"], "timeoutMs": ms, "keepAlive": False},
            timeout=60,
        ).json()
        return not waited["timedOut"]

    try:
        assert not stopped_within(8_000)  # twice its idle timeout, connected and silent
        assert api.get(url).json()["status"] == "active"
    finally:
        cdp.close()
    assert stopped_within(30_000)  # once the client left, its idle time runs again
    assert api.get(url).json()["stopReason"] == "idle"


def test_the_browser_inherits_none_of_the_engines_environment(
    api: httpx.Client, runtime_url: str, engine: EngineProcess
) -> None:
    """The engine spawns Chromium itself (engine/cdp/process.py), through the isolating launcher:
    its environment is PATH and the locale, HOME, the jail's view, and no setting of the engine."""
    runtime_id = api.get(runtime_url).json()["id"]
    environ = Path(f"/proc/{browser_pid(engine.var_dir / 'runtimes' / runtime_id)}/environ").read_bytes()
    names = {entry.split(b"=", 1)[0].decode() for entry in environ.split(b"\0") if entry}
    assert "HOME" in names and "PATH" in names
    assert not [n for n in names if n.startswith(("ENGINE_", "CONSOLE_", "DJANGO"))], names


def test_a_document_the_vault_filled_is_sealed_to_a_cdp_client_without_raw_reads(
    api: httpx.Client, engine: EngineProcess, site: TestSite
) -> None:
    password, prefix = f"pw-{uuid.uuid4().hex}", f"cdp-{uuid.uuid4().hex[:6]}"
    entry = {"username": "ada", "password": password, "origins": [site.url]}
    assert api.put(f"/vault/{prefix}/crm", json=entry).status_code == 200
    mounts = {"vault": {"allow": [f"{prefix}/"]}}
    workspace = api.post("/workspaces", json={"name": "cdp sealing", "mounts": mounts}).json()
    runtime_url = f"/workspaces/{workspace['id']}/runtimes/filler"
    read = {"expression": "document.querySelector('#pass').value", "returnByValue": True}
    try:
        assert (
            api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "filler"}).status_code == 200
        )
        with engine.client("operator") as operator:
            steps = [
                {"call": "page.goto", "args": [f"{site.url}/vault-login-post.html"]},
                {"call": "vault.fill", "args": [f"{prefix}/crm", {"passwordSelector": "#pass"}]},
            ]
            filled = operator.post(
                f"/workspaces/{workspace['id']}/execute", json={"runtime": "filler", "steps": steps}
            ).json()
            assert filled["status"] == "succeeded", filled
            cdp = Cdp(mint(operator, runtime_url))
            try:
                answer = cdp.send("Runtime.evaluate", read, cdp.page_session())
            finally:
                cdp.close()
        assert answer["error"]["data"] == "cdp.sealed" and password not in json.dumps(answer), answer
        refused = [e["eventData"] for e in events(api, runtime_url, "cdp.refused")]
        assert {"method": "Runtime.evaluate", "rule": "cdp.sealed"}.items() <= refused[-1].items()
        admin = Cdp(mint(api, runtime_url))  # raw-read rights read it, as with steps
        try:
            assert (
                admin.send("Runtime.evaluate", read, admin.page_session())["result"]["result"]["value"]
                == password
            )
        finally:
            admin.close()
    finally:
        api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})
        api.delete(f"/vault/{prefix}/crm")


def test_after_a_fill_a_client_without_raw_reads_gets_no_body_and_no_value(
    api: httpx.Client, engine: EngineProcess, site: TestSite
) -> None:
    """A site may echo what the vault typed (the login's POST carries it, its answer page shows
    it): from the first fill on, an operator's CDP client gets no request or response body, and the
    value is replaced in every message it gets, in each form a message carries it (and in the
    steps' results: the answer page's markup has it HTML-escaped)."""
    password, prefix = f"pw {uuid.uuid4().hex[:12]}&<x>", f"cdp-{uuid.uuid4().hex[:6]}"
    forms = {password, quote_plus(password), quote(password, safe=""), html.escape(password)}
    entry = {"username": "ada", "password": password, "origins": [site.url]}
    assert api.put(f"/vault/{prefix}/echo", json=entry).status_code == 200
    workspace = api.post(
        "/workspaces", json={"name": "cdp withheld", "mounts": {"vault": {"allow": [f"{prefix}/"]}}}
    ).json()
    runtime_url = f"/workspaces/{workspace['id']}/runtimes/echoer"
    steps = [
        {
            "call": "vault.fill",
            "args": [f"{prefix}/echo", {"usernameSelector": "#user", "passwordSelector": "#pass"}],
        },
        {"call": "page.click", "args": ["#go"]},
        {"call": "page.waitForURL", "args": ["**/echo"]},
        {"call": "page.waitForSelector", "args": ["#fetched:has-text('done')"]},
    ]
    try:
        assert (
            api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "echoer"}).status_code == 200
        )
        with engine.client("operator") as operator:
            cdp = Cdp(mint(operator, runtime_url))
            try:
                session = cdp.page_session()
                cdp.send("Network.enable", {}, session)
                cdp.send("Page.navigate", {"url": f"{site.url}/vault-login-echo.html"}, session)
                login = _response_id(cdp, session, "/vault-login-echo.html")
                before = cdp.send("Network.getResponseBody", {"requestId": login}, session)
                assert "Sign in" in before["result"]["body"]  # nothing filled yet: bodies are readable
                run = operator.post(
                    f"/workspaces/{workspace['id']}/execute", json={"runtime": "echoer", "steps": steps}
                ).json()
                assert run["status"] == "succeeded", run
                echo = _response_id(cdp, session, "/echo")
                answers = [
                    cdp.send(method, {"requestId": echo}, session)
                    for method in ("Network.getResponseBody", "Network.getRequestPostData")
                ]
                page_text = cdp.send(
                    "Runtime.evaluate",
                    {
                        "expression": "document.documentElement.outerHTML + document.body.innerText",
                        "returnByValue": True,
                    },
                    session,
                )
                content = operator.post(  # the steps' door: the answer page's markup, redacted too
                    f"/workspaces/{workspace['id']}/execute",
                    json={"runtime": "echoer", "steps": [{"call": "page.content"}, {"call": "page.url"}]},
                ).json()
                got = json.dumps([cdp.events, answers, page_text, content], ensure_ascii=False)
            finally:
                cdp.close()
        assert [a["error"]["data"] for a in answers] == ["cdp.withheld", "cdp.withheld"]
        assert not [form for form in forms if form in got]
        assert "[secret]" in page_text["result"]["result"]["value"]
        assert "[secret]" in content["steps"][0]["result"], content
        posted = [
            e["params"]["request"]
            for e in cdp.events
            if e.get("method") == "Network.requestWillBeSent" and e["params"]["request"]["method"] == "POST"
        ]
        assert posted and all(r.get("hasPostData") and "postData" not in r for r in posted)
        admin = Cdp(mint(api, runtime_url))  # raw-read rights: the body as the site sent it
        try:
            admin_session = admin.page_session()
            admin.send("Network.enable", {}, admin_session)
            admin.send("Page.reload", {}, admin_session)
            reloaded = _response_id(admin, admin_session, "/echo")
            body = admin.send("Network.getResponseBody", {"requestId": reloaded}, admin_session)
            assert body["result"]["body"]  # readable (a reload's answer: the form is not posted again)
        finally:
            admin.close()
    finally:
        api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})
        api.delete(f"/vault/{prefix}/echo")


def _response_id(cdp: Cdp, session: str, path: str) -> str:
    """The requestId of the last response to `path` the client was told of (waits up to 10 s)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for event in reversed(cdp.events):
            if event.get("method") == "Network.loadingFinished":
                request_id = str(event["params"]["requestId"])
                for seen in cdp.events:
                    params = seen.get("params") or {}
                    if (
                        seen.get("method") == "Network.responseReceived"
                        and params.get("requestId") == request_id
                        and urlsplit(params["response"]["url"]).path == path
                    ):
                        return request_id
        cdp.send("Target.getTargets")  # a round trip: the events meanwhile are collected
        time.sleep(0.1)
    raise AssertionError(f"no response to {path}")
