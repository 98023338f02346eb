"""Which CDP methods a guarded client (the gateway's, browser-use's) may send, and how they change.

The engine's own Playwright is trusted and passes unjudged; every other client of a runtime's
browser is judged message by message, before anything reaches Chromium. The table is the
contract (docs/api.md shows it; tests/engine/test_cdp_rules.py keeps the two in step):

- **Allowed domains** (`ALLOWED_DOMAINS`): what automation libraries use on a page and its
  browser context. A domain not listed is refused (`cdp.domain_not_allowed`): a new Chromium
  domain is closed until someone has read what it can reach.
- **Refused methods** (`REFUSED`), each with the rule it breaks: they would end the browser for
  its other clients, open ports or reach the network around the egress proxy, read or write files
  outside the runtime, load extensions, or hand the page a CDP channel the gateway cannot see.
- **Judged methods**: a URL that opens a document must be http(s) or about:blank (the steps' own
  scheme rule); a new browser context may not name its own proxy; IO streams are readable only
  by the client they were handed to.
- **Rewritten methods**: `Browser.setDownloadBehavior` / `Page.setDownloadBehavior` always
  download into the runtime's own downloads dir, named by their guid (Playwright sends one at
  connect: refusing it would break every Playwright client), so the engine still stores each
  download as an artifact.
- **Sealed methods** (`SEALED_METHODS`, `SEALED_DOMAINS`): they read a document's state (scripts,
  DOM snapshots, the accessibility tree, heap). On a document the vault filled, they are refused
  to callers without raw reads, as steps are (`policy.sealed`); sending one also marks the target
  as scripted by the caller (`policy.scripted`), so the vault will not fill it afterwards.
  `TAINTING` methods (a binding, an init script, a fulfilled response) write into documents:
  never refused, they mark the page scripted too.
- **Input** (`Input.*`): refused while a person holds the runtime's live control
  (`policy.controlled_by_someone_else`).
- **Withheld after a fill** (`BODY_READS`, `POST_DATA_EVENTS`): once a vault secret was typed
  into the runtime, a caller without raw reads may not read a request's or response's body (a site
  may echo what was typed, a login's POST carries it): the methods that read one are refused
  (`cdp.withheld`, as the API withholds kept bodies), the request bodies in events are left out,
  and every message the client gets has the filled values replaced (`Judge.shown`).

A refusal answers the message with a CDP error (code -32000, the rule in `data`) and nothing is
sent to the browser; the gateway also records a `cdp.refused` runtime event.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.cdp import wire
from engine.egress.policy import scheme_refusal

ERROR_CODE = -32000

ALLOWED_DOMAINS = frozenset(
    {
        "Accessibility",
        "Animation",
        "Audits",
        "Autofill",
        "BackgroundService",
        "BluetoothEmulation",
        "Browser",
        "CSS",
        "CacheStorage",
        "Console",
        "DOM",
        "DOMDebugger",
        "DOMSnapshot",
        "DOMStorage",
        "Database",
        "Debugger",
        "DeviceAccess",
        "DeviceOrientation",
        "Emulation",
        "EventBreakpoints",
        "FedCm",
        "Fetch",
        "FileSystem",
        "HeadlessExperimental",
        "HeapProfiler",
        "IO",
        "IndexedDB",
        "Input",
        "Inspector",
        "LayerTree",
        "Log",
        "Media",
        "Memory",
        "Network",
        "Overlay",
        "Page",
        "Performance",
        "PerformanceTimeline",
        "Preload",
        "Profiler",
        "Runtime",
        "Schema",
        "Security",
        "ServiceWorker",
        "Storage",
        "SystemInfo",
        "Target",
        "Tracing",
        "WebAudio",
        "WebAuthn",
    }
)


@dataclass(frozen=True)
class Rule:
    code: str  # stable: in the CDP error's data, the cdp.refused event, docs/api.md
    why: str  # what the client is told


BROWSER_END = Rule(
    "cdp.browser_end", "ends the browser for every client of this runtime; stop the runtime instead"
)
NETWORK = Rule("cdp.network", "reaches the network around the runtime's egress proxy")
FILES = Rule("cdp.files", "reads or writes files outside the runtime")
EXTENSIONS = Rule(
    "cdp.extensions", "loads or changes extensions; launch the runtime with extensionIds instead"
)
CHANNEL = Rule("cdp.channel", "opens a CDP channel the gateway cannot judge")
ENGINE = Rule("cdp.engine", "is the engine's own business")
SCHEME = Rule("cdp.scheme", "opens a URL whose scheme runtimes may not open (only http(s) and about:blank)")
PROXY = Rule("cdp.proxy", "changes the runtime's proxy: its traffic goes through its egress proxy only")
STREAM = Rule("cdp.stream", "reads a stream this client was not handed")
SEALED = Rule(
    "cdp.sealed",
    "reads a document the vault filled with a secret; it needs an API key with raw vault reads",
)
WITHHELD = Rule(
    "cdp.withheld",
    "reads a request's or response's body after a vault secret was typed into this runtime; "
    "it needs an API key with raw vault reads",
)
CONTROL = Rule("cdp.live_control", "sends input while a person holds this runtime's live control")
DOMAIN = Rule("cdp.domain_not_allowed", "is in a CDP domain the gateway does not allow")

REFUSED: dict[str, Rule] = {
    "Browser.close": BROWSER_END,
    "Browser.crash": BROWSER_END,
    "Browser.crashGpuProcess": BROWSER_END,
    "Browser.executeBrowserCommand": ENGINE,
    "Browser.getBrowserCommandLine": ENGINE,
    "Target.attachToBrowserTarget": CHANNEL,
    "Target.exposeDevToolsProtocol": CHANNEL,
    "Target.setRemoteLocations": NETWORK,
    "DOM.setFileInputFiles": FILES,
    "Network.loadNetworkResource": NETWORK,
    "Page.setInterceptFileChooserDialog": FILES,
}
REFUSED_DOMAINS: dict[str, Rule] = {
    "Tethering": NETWORK,
    "Cast": NETWORK,
    "Extensions": EXTENSIONS,
    "PWA": FILES,
}

# Methods that read a request's or response's body: refused once the runtime holds a filled secret.
BODY_READS = frozenset(
    {
        "Network.getResponseBody",
        "Network.getRequestPostData",
        "Network.getResponseBodyForInterception",
        "Network.takeResponseBodyForInterceptionAsStream",
        "Network.searchInResponseBody",
        "Fetch.getResponseBody",
        "Fetch.takeResponseBodyAsStream",
        "Page.getResourceContent",
        "Page.searchInResource",
    }
)
# Events whose `request` carries the request's body (`postData`, `postDataEntries`).
POST_DATA_EVENTS = frozenset(
    {"Network.requestWillBeSent", "Network.requestIntercepted", "Fetch.requestPaused"}
)

# A URL parameter that opens a document: the steps' scheme rule applies.
URL_PARAMS: dict[str, str] = {
    "Page.navigate": "url",
    "Target.createTarget": "url",
    "Fetch.continueRequest": "url",
    "Network.continueInterceptedRequest": "url",
}

SEALED_METHODS = frozenset(
    {
        "DOM.getOuterHTML",
        "DOM.resolveNode",
        "DOM.getNodeStackTraces",
        "Page.captureSnapshot",
    }
)
SEALED_DOMAINS = frozenset(
    {"Runtime", "Debugger", "DOMSnapshot", "Accessibility", "HeapProfiler", "Profiler", "DOMDebugger"}
)
# Runtime methods that read or run nothing in the page (Playwright and Puppeteer send them on
# every page at attach): never refused, never mark a page scripted.
HARMLESS = frozenset(
    {
        "Runtime.enable",
        "Runtime.disable",
        "Runtime.runIfWaitingForDebugger",
        "Runtime.releaseObject",
        "Runtime.releaseObjectGroup",
        "Runtime.discardConsoleEntries",
        "Runtime.setAsyncCallStackDepth",
        "Runtime.addBinding",  # (taints: TAINTING)
        "Runtime.removeBinding",
        "Debugger.enable",
        "Debugger.disable",
        "Profiler.enable",
        "Profiler.disable",
        "Accessibility.enable",
        "Accessibility.disable",
    }
)


# They write into documents (a binding, an init script, a response body): never refused, but the
# page counts as scripted by the caller from then on.
TAINTING = frozenset({"Runtime.addBinding", "Page.addScriptToEvaluateOnNewDocument", "Fetch.fulfillRequest"})


class RuntimePolicy(Protocol):
    """What the judge needs to know about the runtime and the caller (the gateway supplies it)."""

    downloads_dir: str

    async def sealed(self) -> bool:
        """A page of the runtime shows a document the vault filled, and the caller may not read it."""

    async def scripted(self, target_id: str | None) -> None:
        """The caller scripted (or may have scripted) the document in `target_id`."""

    def controlled_by_someone_else(self) -> bool:
        """A person holds the runtime's live control."""

    def withholds(self) -> bool:
        """A vault secret was typed into the runtime, and the caller may not read raw."""

    def redact(self, message: dict[str, Any]) -> dict[str, Any]:
        """`message` with the runtime's filled values replaced in its strings."""


@dataclass
class Refused:
    rule: Rule
    method: str
    detail: str = ""

    def error(self, message_id: int) -> dict[str, Any]:
        text = f"{self.method} refused by the BCTRL gateway ({self.rule.code}): it {self.rule.why}."
        if self.detail:
            text += f" {self.detail}"
        return {
            "id": message_id,
            "error": {"code": ERROR_CODE, "message": text, "data": self.rule.code},
        }


@dataclass
class Judge:
    """Judges one guarded client's messages; remembers the IO streams it was handed."""

    policy: RuntimePolicy
    streams: set[str] = field(default_factory=set)

    async def judge(self, method: str, params: dict[str, Any], target_id: str | None) -> Refused | None:
        """None to pass the message (its `params` possibly rewritten in place), or why not."""
        domain = method.split(".", 1)[0]
        rule = REFUSED.get(method) or REFUSED_DOMAINS.get(domain)
        if rule is not None:
            return Refused(rule, method)
        if domain not in ALLOWED_DOMAINS:
            return Refused(DOMAIN, method, f"Allowed domains: {', '.join(sorted(ALLOWED_DOMAINS))}.")
        special = _SPECIAL.get(method)
        if special is not None:
            refused = special(self, method, params)
            if refused is not None:
                return refused
        if method in BODY_READS and self.policy.withholds():
            return Refused(WITHHELD, method)
        if domain == "Input" and self.policy.controlled_by_someone_else():
            return Refused(CONTROL, method, "Wait until they hand control back.")
        reads = (domain in SEALED_DOMAINS or method in SEALED_METHODS) and method not in HARMLESS
        if reads and await self.policy.sealed():
            return Refused(SEALED, method)
        if reads or method in TAINTING:
            await self.policy.scripted(target_id)
        return None

    def shown(self, message: dict[str, Any]) -> str:
        """`message` as this client gets it (encoded): once the runtime holds a filled secret and
        the client may not read raw, without requests' bodies and with the filled values replaced."""
        if not self.policy.withholds():
            return wire.encode(message).decode()
        params = message.get("params")
        request = params.get("request") if isinstance(params, dict) else None
        if message.get("method") in POST_DATA_EVENTS and isinstance(request, dict):
            request.pop("postData", None)
            request.pop("postDataEntries", None)
        return wire.encode(self.policy.redact(message)).decode()

    def handed(self, payload: Any) -> None:
        """Remember the stream handles in a result or event this client receives."""
        if isinstance(payload, dict):
            for key in ("stream", "uuid"):
                value = payload.get(key)
                if isinstance(value, str):
                    self.streams.add(value if key == "stream" else f"blob:{value}")

    # ---- methods judged on their params ------------------------------------------------

    def _url(self, method: str, params: dict[str, Any]) -> Refused | None:
        url = params.get(URL_PARAMS[method])
        if url is None and method in ("Fetch.continueRequest", "Network.continueInterceptedRequest"):
            return None  # no new URL: the request goes on as it was
        refusal = scheme_refusal(str(url or ""))
        return None if refusal is None else Refused(SCHEME, method, refusal.message)

    def _context(self, method: str, params: dict[str, Any]) -> Refused | None:
        if params.get("proxyServer") or params.get("proxyBypassList"):
            return Refused(PROXY, method, "Create the context without proxyServer/proxyBypassList.")
        return None

    def _downloads(self, method: str, params: dict[str, Any]) -> Refused | None:
        if params.get("behavior") in ("allow", "allowAndName"):
            params["behavior"] = "allowAndName"
            params["downloadPath"] = self.policy.downloads_dir
        else:
            params.pop("downloadPath", None)
        return None

    def _stream(self, method: str, params: dict[str, Any]) -> Refused | None:
        if str(params.get("handle")) not in self.streams:
            return Refused(STREAM, method)
        if method == "IO.close":
            self.streams.discard(str(params.get("handle")))
        return None


_SPECIAL: dict[str, Callable[[Judge, str, dict[str, Any]], Refused | None]] = {
    **{method: Judge._url for method in URL_PARAMS},
    "Target.createBrowserContext": Judge._context,
    "Browser.setDownloadBehavior": Judge._downloads,
    "Page.setDownloadBehavior": Judge._downloads,
    "IO.read": Judge._stream,
    "IO.close": Judge._stream,
}


def table() -> list[tuple[str, str, str]]:
    """(method or domain, rule code, what it does) for every refused or judged entry (docs, tests)."""
    rows = [(method, rule.code, rule.why) for method, rule in REFUSED.items()]
    rows += [(f"{domain}.*", rule.code, rule.why) for domain, rule in REFUSED_DOMAINS.items()]
    rows += [(method, SCHEME.code, SCHEME.why) for method in URL_PARAMS]
    rows += [("Target.createBrowserContext", PROXY.code, PROXY.why)]
    rows += [(m, STREAM.code, STREAM.why) for m in ("IO.read", "IO.close")]
    rows += [(m, WITHHELD.code, WITHHELD.why) for m in sorted(BODY_READS)]
    rows += [(m, "rewritten", "downloads go to the runtime's downloads dir") for m in _DOWNLOADS]
    return rows


_DOWNLOADS = ("Browser.setDownloadBehavior", "Page.setDownloadBehavior")
