"""The egress policy with real Chromium: refused schemes and addresses get `navigation.blocked`, none of the target.

The session engine allows exactly the suite's site (127.0.0.1:<its port>). The targets that must
stay out of reach are servers the suite starts itself: a second site on another 127.0.0.1 port
and a "private" one on 127.0.0.2. Both record every request, so "nothing reached it" is checked
on the server's side, not only in what the page shows. Every other refusal here is decided
before any connection is made (nothing is ever sent off loopback).
"""

import base64
import io
import json
import time
import zipfile
from collections.abc import Iterator

import httpx
import pytest

from tests.support.engine_process import EngineProcess
from tests.support.site import TestSite as Site
from tests.support.workspaces import new_workspace

SECRET = "Hello from the test site"  # what tests/pages/index.html says


@pytest.fixture(scope="module")
def loopback_site() -> Iterator[Site]:
    """The suite's pages on another 127.0.0.1 port, which ENGINE_EGRESS_ALLOW does not name."""
    served = Site().start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def private_site() -> Iterator[Site]:
    served = Site(host="127.0.0.2").start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def workspace_id(client: httpx.Client) -> Iterator[str]:
    # module-wide, with its runtime `runner`: one Chromium for the module's tests, not one each
    with new_workspace(client, "egress tests", runtime="runner") as workspace_id:
        yield workspace_id


@pytest.fixture(autouse=True)
def nothing_reaches_the_targets(loopback_site: Site, private_site: Site) -> Iterator[None]:
    yield
    assert loopback_site.requests == [] and private_site.requests == []


def execute(client: httpx.Client, workspace_id: str, *steps: dict) -> dict:
    response = client.post(
        f"/workspaces/{workspace_id}/execute", json={"runtime": "runner", "steps": list(steps)}
    )
    assert response.status_code == 200, response.text
    return response.json()


def goto(url: str) -> dict:
    return {"call": "page.goto", "args": [url], "options": {"timeoutMs": 10_000}}


def page_content(client: httpx.Client, workspace_id: str) -> str:
    """What the page shows now (a page still settling after a refusal gets a moment more)."""
    for _ in range(3):
        step = execute(client, workspace_id, {"call": "page.content"})["steps"][0]
        if step["ok"]:
            return step["result"]
        time.sleep(0.5)
    raise AssertionError(step)


def blocked_events(client: httpx.Client, workspace_id: str) -> list[dict]:
    events = client.get(
        f"/workspaces/{workspace_id}/runtimes/runner/events",
        params={"eventTypes": "navigation.blocked", "limit": 500},
    ).json()["events"]
    return [e["eventData"] for e in events]


def assert_blocked(result: dict, rule: str) -> None:
    step = result["steps"][0]
    assert result["status"] == "failed" and step["error"]["code"] == "navigation.blocked", result
    assert rule in step["error"]["message"]
    assert SECRET not in json.dumps(result)


ADDRESS_FORMS = [
    ("http://localhost:{loopback}/index.html", "destination:loopback"),
    ("http://localhost.:{loopback}/index.html", "destination:loopback"),
    ("http://127.1:{loopback}/index.html", "destination:loopback"),
    ("http://0x7f000001:{loopback}/index.html", "destination:loopback"),
    ("http://2130706433:{loopback}/index.html", "destination:loopback"),
    ("http://[::ffff:127.0.0.1]:{loopback}/index.html", "destination:loopback"),
    ("http://0.0.0.0:{loopback}/index.html", "destination:unspecified"),
    ("http://[::1]:{loopback}/index.html", "destination:loopback"),
    ("http://127.0.0.2:{private}/index.html", "destination:loopback"),
    ("https://127.0.0.2:{private}/index.html", "destination:loopback"),
    ("http://{site}/redirect?to=http://127.0.0.2:{private}/index.html", "destination:loopback"),
]


@pytest.mark.parametrize(("template", "rule"), ADDRESS_FORMS)
def test_it_refuses_each_address_form(
    client: httpx.Client,
    workspace_id: str,
    site: Site,
    loopback_site: Site,
    private_site: Site,
    template: str,
    rule: str,
) -> None:
    url = template.format(
        loopback=loopback_site.server.server_address[1],
        private=private_site.server.server_address[1],
        site=site.host_port,
    )
    result = execute(client, workspace_id, goto(url), {"call": "page.content"})
    assert_blocked(result, rule)
    content = page_content(client, workspace_id)
    assert SECRET not in content
    assert any(e["rule"] == rule for e in blocked_events(client, workspace_id))


def test_a_new_user_learns_which_setting_opens_localhost(client: httpx.Client, workspace_id: str) -> None:
    result = execute(client, workspace_id, goto("http://localhost:3000/"))
    assert_blocked(result, "destination:loopback")
    assert "ENGINE_EGRESS_ALLOW=localhost:3000" in result["steps"][0]["error"]["message"]


SCHEMES = [
    ("file:///etc/passwd", "scheme:file"),
    ("file://{var_dir}/engine.sqlite3", "scheme:file"),
    ("chrome://version", "scheme:chrome"),
    ("view-source:{site}/index.html", "scheme:view-source"),
    ("devtools://devtools/bundled/inspector.html", "scheme:devtools"),
    ("data:text/html,<p>inline page</p>", "scheme:data"),
    ("filesystem:{site}/temporary/index.html", "scheme:filesystem"),
    ("javascript:document.title='x'", "scheme:javascript"),
]


@pytest.mark.parametrize(("template", "rule"), SCHEMES)
def test_it_refuses_each_scheme(
    client: httpx.Client, workspace_id: str, engine: EngineProcess, site: Site, template: str, rule: str
) -> None:
    url = template.format(var_dir=engine.var_dir, site=site.url)
    result = execute(client, workspace_id, goto(url), {"call": "page.content"})
    assert_blocked(result, rule)
    content = page_content(client, workspace_id)
    assert "root:" not in content and "inline page" not in content and "SQLite" not in content
    assert {"url": url, "rule": rule} in blocked_events(client, workspace_id)


def test_chromium_itself_refuses_a_scheme_the_step_never_saw(
    client: httpx.Client, workspace_id: str, site: Site
) -> None:
    # A page may not be sent to file: or chrome: by anyone: here a redirect the page follows.
    for target in ("chrome://version", "file:///etc/passwd"):
        result = execute(
            client, workspace_id, goto(f"{site.url}/redirect?to={target}"), {"call": "page.content"}
        )
        assert_blocked(result, "scheme:redirect")
        content = page_content(client, workspace_id)
        assert "root:" not in content and "Command Line" not in content


def test_chromium_refuses_what_an_extension_opens(engine: EngineProcess, workspace: dict) -> None:
    """No step asks for these URLs: an extension's own code opens them, and Chromium refuses them."""
    inline = base64.b64encode(b"<p>extension page</p>").decode()  # the error page may show the URL
    opened = ["chrome://version", "file:///etc/passwd", f"data:text/html;base64,{inline}"]
    manifest = {
        "name": "Opener",
        "version": "1.0",
        "manifest_version": 3,
        "background": {"service_worker": "bg.js"},
    }
    script = "".join(f"chrome.tabs.create({{url: {json.dumps(url)}}});" for url in opened)
    with engine.client("admin") as api:
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as package:
            package.writestr("manifest.json", json.dumps(manifest))
            package.writestr("bg.js", script)
        extension = api.post("/browser-extensions/upload", files={"file": ("opener.zip", archive.getvalue())})
        assert extension.status_code == 201, extension.text
        config = {"extensionIds": [extension.json()["id"]]}
        url = f"/workspaces/{workspace['id']}/runtimes"
        assert (
            api.post(
                url, json={"alias": "opener", "launch": {"mode": "ephemeral", "config": config}}
            ).status_code
            == 200
        )
        deadline = time.monotonic() + 20
        while len(pages := _extra_pages(api, workspace["id"])) < len(opened) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(pages) == len(opened), pages
        time.sleep(1)  # let each tab settle where Chromium leaves it
        for page_id in _extra_pages(api, workspace["id"]):
            result = api.post(
                f"/workspaces/{workspace['id']}/execute",
                json={
                    "runtime": "opener",
                    "steps": [{"call": "page.content", "ref": page_id}, {"call": "page.url", "ref": page_id}],
                },
            ).json()
            text = json.dumps(result)
            assert "Command Line" not in text and "root:" not in text and "extension page" not in text, result
            assert result["steps"][1]["result"].startswith(("chrome-error:", "about:blank")), result


def _extra_pages(api: httpx.Client, workspace_id: str) -> list[str]:
    state = api.get(f"/workspaces/{workspace_id}/state").json()
    bindings = next(r["bindings"] for r in state["runtimes"] if r["alias"] == "opener")
    return [b["id"] for b in bindings if b["type"] == "page" and b["alias"] != "page"]


def test_a_page_on_an_allowed_host_gets_nothing_from_a_refused_one(
    client: httpx.Client, workspace_id: str, site: Site, private_site: Site
) -> None:
    target = private_site.url
    detour = f"{site.url}/redirect?to={target}/index.html"
    expression = f"""(async () => {{
        const out = {{}};
        out.fetch = await fetch('{target}/index.html', {{mode: 'no-cors'}}).then(r => r.type, e => 'error');
        out.redirected = await fetch('{detour}').then(r => r.text(), e => 'error');
        const img = document.createElement('img');
        await new Promise(done => {{ img.onload = img.onerror = done; img.src = '{target}/pixel.png'; document.body.append(img); }});
        out.image = img.naturalWidth;
        const frame = document.createElement('iframe');
        await new Promise(done => {{ frame.onload = done; frame.src = '{target}/index.html'; document.body.append(frame); }});
        out.socket = await new Promise(done => {{
            const socket = new WebSocket('ws://{private_site.host_port}/socket');
            socket.onopen = () => done('open'); socket.onerror = () => done('error');
        }});
        return out;
    }})()"""
    result = execute(
        client, workspace_id, goto(f"{site.url}/index.html"), {"call": "page.evaluate", "args": [expression]}
    )
    assert result["status"] == "succeeded", result
    out = result["steps"][1]["result"]
    assert out["image"] == 0 and out["socket"] == "error" and SECRET not in json.dumps(out)
    frame_text = page_content(client, workspace_id)
    assert SECRET not in frame_text.replace("Hello from the test site</h1>", "")  # the top page's own heading
    refused = {e["url"] for e in blocked_events(client, workspace_id)}
    assert {f"{target}/index.html", f"{target}/pixel.png", private_site.host_port} <= refused


@pytest.fixture(scope="module")
def open_engine(tmp_path_factory: pytest.TempPathFactory, site: Site) -> Iterator[EngineProcess]:
    """An engine whose operator opened all of 127.0.0.1 to runtimes."""
    process = EngineProcess(tmp_path_factory.mktemp("open-engine"), allow="127.0.0.1").start()
    yield process
    process.stop()


def test_the_engine_itself_is_never_reachable(open_engine: EngineProcess, site: Site) -> None:
    with open_engine.client("operator") as api:
        workspace_id = api.post("/workspaces", json={"name": "open"}).json()["id"]
        assert api.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": "runner"}).status_code == 200
        allowed = execute(api, workspace_id, goto(f"{site.url}/index.html"))
        assert allowed["status"] == "succeeded", allowed  # 127.0.0.1 is open...
        for url in (
            f"http://127.0.0.1:{open_engine.port}/healthz",
            f"http://localhost:{open_engine.port}/v1/openapi.json",
        ):
            assert_blocked(execute(api, workspace_id, goto(url)), "destination:engine")  # ...never the engine
            content = execute(api, workspace_id, {"call": "page.content"})["steps"][0]["result"]
            assert '"ok"' not in content and "openapi" not in content
        api.delete(f"/workspaces/{workspace_id}", params={"force": "true"})
