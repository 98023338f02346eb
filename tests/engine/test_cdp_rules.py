"""The CDP gateway's method rules as a table (engine/cdp/rules.py): docs/api.md shows each one, and
the judged and rewritten methods behave as the table says (no browser needed for these)."""

import json
from pathlib import Path

from engine.cdp import rules
from engine.runtimes.seal import Seal
from tests.support.loops import in_own_loop

DOCS = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()


class Policy:
    downloads_dir = "/var/engine/runtimes/r1/downloads"

    def __init__(self, sealed: bool = False, filled: str | None = None) -> None:
        self.is_sealed = sealed
        self.filled = filled  # a value typed into the runtime (and the caller may not read raw)
        self.scripted_targets: list[str | None] = []

    async def sealed(self) -> bool:
        return self.is_sealed

    async def scripted(self, target_id: str | None) -> None:
        self.scripted_targets.append(target_id)

    def controlled_by_someone_else(self) -> bool:
        return False

    def withholds(self) -> bool:
        return self.filled is not None

    def redact(self, message: dict) -> dict:
        seal = Seal()
        seal.remember([self.filled or ""])
        redacted: dict = seal.redact(message)
        return redacted


async def judge(method: str, params: dict, policy: Policy | None = None) -> rules.Refused | None:
    return await rules.Judge(policy or Policy()).judge(method, params, "T1")


def test_every_rule_is_in_the_docs() -> None:
    for method, code, _why in rules.table():
        assert f"| `{method}` | `{code}` |" in DOCS, method
    for domain in rules.ALLOWED_DOMAINS:
        assert f"`{domain}`" in DOCS, domain


@in_own_loop
async def test_it_rewrites_downloads_into_the_runtime() -> None:
    params = {"behavior": "allow", "downloadPath": "/etc", "eventsEnabled": True}
    assert await judge("Browser.setDownloadBehavior", params) is None
    assert params == {"behavior": "allowAndName", "downloadPath": Policy.downloads_dir, "eventsEnabled": True}
    denied = {"behavior": "deny", "downloadPath": "/etc"}
    assert await judge("Page.setDownloadBehavior", denied) is None and denied == {"behavior": "deny"}


@in_own_loop
async def test_only_http_and_about_blank_open() -> None:
    assert await judge("Page.navigate", {"url": "https://example.test/"}) is None
    assert await judge("Target.createTarget", {"url": "about:blank"}) is None
    for url in ("file:///etc/passwd", "chrome://settings", "data:text/html,x", "view-source:http://a/"):
        refused = await judge("Page.navigate", {"url": url})
        assert refused is not None and refused.rule.code == "cdp.scheme", url
    assert await judge("Fetch.continueRequest", {"requestId": "1"}) is None
    assert await judge("Fetch.continueRequest", {"requestId": "1", "url": "file:///x"}) is not None


@in_own_loop
async def test_a_stream_opens_only_for_the_client_handed_it() -> None:
    judge_ = rules.Judge(Policy())
    assert await judge_.judge("IO.read", {"handle": "7"}, None) is not None
    judge_.handed({"data": "...", "stream": "7"})
    assert await judge_.judge("IO.read", {"handle": "7"}, None) is None
    assert await judge_.judge("IO.close", {"handle": "7"}, None) is None
    assert await judge_.judge("IO.read", {"handle": "7"}, None) is not None


@in_own_loop
async def test_reading_a_sealed_runtime_is_refused_and_scripting_marks_the_page() -> None:
    sealed = Policy(sealed=True)
    refused = await judge("Runtime.evaluate", {"expression": "document.body.innerHTML"}, sealed)
    assert refused is not None and refused.rule.code == "cdp.sealed"
    assert await judge("Runtime.enable", {}, sealed) is None  # attaching still works
    assert await judge("Page.navigate", {"url": "https://example.test/"}, sealed) is None
    open_ = Policy()
    assert await judge("Runtime.evaluate", {"expression": "1"}, open_) is None
    assert await judge("Runtime.addBinding", {"name": "b"}, open_) is None
    assert open_.scripted_targets == ["T1", "T1"]


@in_own_loop
async def test_the_error_names_the_method_and_the_rule() -> None:
    refused = await judge("Browser.close", {})
    assert refused is not None
    error = refused.error(12)
    assert (
        error["id"] == 12 and error["error"]["code"] == -32000 and error["error"]["data"] == "cdp.browser_end"
    )
    assert error["error"]["message"].startswith(
        "Browser.close refused by the BCTRL gateway (cdp.browser_end)"
    )


@in_own_loop
async def test_after_a_fill_bodies_are_withheld_and_values_replaced() -> None:
    for method in rules.BODY_READS:
        assert await judge(method, {"requestId": "1"}) is None, method  # nothing filled yet
        refused = await judge(method, {"requestId": "1"}, Policy(filled="hunter22"))
        assert refused is not None and refused.rule.code == "cdp.withheld", method
    event = {
        "method": "Network.requestWillBeSent",
        "params": {
            "request": {"url": "http://a/", "postData": "pass=x", "postDataEntries": [{"bytes": "x"}]}
        },
    }
    assert "postData" in rules.Judge(Policy()).shown(json.loads(json.dumps(event)))
    shown = rules.Judge(Policy(filled="hunter22")).shown(event)
    assert "postData" not in shown and '"url":"http://a/"' in shown
    answer = {"id": 3, "result": {"result": {"value": "welcome, hunter22"}}}
    assert (
        rules.Judge(Policy(filled="hunter22")).shown(answer)
        == '{"id":3,"result":{"result":{"value":"welcome, [secret]"}}}'
    )
