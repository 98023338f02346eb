"""Start a runtime's Chromium with its CDP pipe in the engine's hands, and Playwright on top.

The engine starts Chromium itself (`process.py`) and puts a multiplexer on the browser's one CDP
pipe (`mux.py`), so that no client owns the browser: the engine's Playwright connects through the
loopback listener (`connect_over_cdp`) as the first of any number of clients. What that means:

- **Flags.** `PLAYWRIGHT_SWITCHES` are the switches Playwright's own launch adds (as Playwright
  1.65 passes them; its docs warn that a browser started without them may break some of its
  features), then the runtime's own (`chromium.FLAGS`, extensions, proxy).
- **The default context is the persistent profile**: `browser.contexts[0]`.
- **Viewport, user agent, locale, time zone** are the browser's own, since a context Playwright
  did not create takes no emulation options: the multiplexer sizes every window's content to the
  viewport (`--screen-info` makes the screen match), `--user-agent`, `--lang` + `--accept-lang`,
  and `TZ` in the environment. No client's emulation or detach can change them for the others.
- **Downloads** land in the runtime's downloads dir: Playwright is told it is its artifacts dir,
  and the gateway rewrites every other client's download behaviour to the same dir.
- **Ending.** `close()` tells every client why, then Browser.close (the profile flushes), then
  SIGKILL to the process group. A browser that dies on its own closes the pipe, the multiplexer
  closes its clients, and Playwright's context emits "close" (on which the manager gives the
  browser's uid back).
"""

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Playwright

from engine.cdp.listener import listener
from engine.cdp.mux import CLOSE_GOING_AWAY, Multiplexer
from engine.cdp.process import BrowserExited, BrowserProcess

START_TIMEOUT_MS = 60_000
HEADLESS = ("--headless", "--hide-scrollbars", "--mute-audio")
PLAYWRIGHT_SWITCHES = (
    "--disable-field-trial-config",
    "--disable-background-networking",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--disable-back-forward-cache",
    "--disable-breakpad",
    "--disable-component-extensions-with-background-pages",
    "--disable-component-update",
    "--no-default-browser-check",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--disable-features=AvoidUnnecessaryBeforeUnloadCheckSync,DestroyProfileOnBrowserClose,HttpsUpgrades,"
    "HttpsFirstBalancedModeAutoEnable,LensOverlay,MediaRouter,PaintHolding,ThirdPartyStoragePartitioning,"
    "AvoidCorsURLLoaderRestartOnRedirect,OptimizationHints,NetworkTimeServiceQuerying,AimEnabled,"
    "PreconnectToSearch",
    "--enable-features=CDPScreenshotNewSurface,SkipListAccountsWithoutGaiaCookies",
    "--allow-pre-commit-input",
    "--disable-hang-monitor",
    "--disable-ipc-flooding-protection",
    "--disable-popup-blocking",
    "--disable-prompt-on-repost",
    "--disable-renderer-backgrounding",
    "--force-color-profile=srgb",
    "--metrics-recording-only",
    "--no-first-run",
    "--password-store=basic",
    "--use-mock-keychain",
    "--no-service-autorun",
    "--disable-search-engine-choice-screen",
    "--unsafely-disable-devtools-self-xss-warnings",
    "--enable-unsafe-swiftshader",
    "--disable-infobars",
    "--disable-sync",
    "--blink-settings=primaryHoverType=2,availableHoverTypes=2,primaryPointerType=4,availablePointerTypes=4",
)


@dataclass
class BrowserSpec:
    """How one runtime's Chromium starts (the manager fills it in from the launch config)."""

    executable: str
    flags: Sequence[str]  # the project's own (chromium.FLAGS, sandbox-adjusted, extensions)
    user_data: Path
    downloads: Path
    proxy_url: str
    viewport: dict[str, int]
    env: Mapping[str, str]
    user_agent: str | None = None
    locale: str | None = None
    timezone_id: str | None = None
    extensions: bool = False

    def argv(self) -> list[str]:
        width, height = self.viewport["width"], self.viewport["height"]
        argv = [self.executable, *PLAYWRIGHT_SWITCHES, *HEADLESS]
        if not self.extensions:
            argv.append("--disable-extensions")
        argv += list(self.flags)
        argv += [
            f"--proxy-server={self.proxy_url}",
            "--proxy-bypass-list=<-loopback>",  # loopback goes through the proxy too (and is judged)
            f"--window-size={width},{height}",
            f"--screen-info={{{width}x{height}}}",
        ]
        if self.user_agent:
            argv.append(f"--user-agent={self.user_agent}")
        if self.locale:
            argv += [f"--lang={self.locale}", f"--accept-lang={self.locale}"]
        argv += [f"--user-data-dir={self.user_data}", "--remote-debugging-pipe", "about:blank"]
        return argv

    def environment(self) -> dict[str, str]:
        env = dict(self.env)
        if self.timezone_id:
            env["TZ"] = self.timezone_id
        return env


@dataclass
class RunningBrowser:
    """A runtime's browser: its process, the multiplexer on its pipe, the engine's Playwright view."""

    process: BrowserProcess
    mux: Multiplexer
    browser: Browser
    context: BrowserContext

    async def close(self, reason: str, grace_seconds: float) -> None:
        """End it: every client is told `reason`, the profile flushes, nothing is left running."""
        self.mux.close_all(CLOSE_GOING_AWAY, reason)
        await self.process.close(grace_seconds)
        with contextlib.suppress(Exception):
            await self.browser.close()


async def start(playwright: Playwright, spec: BrowserSpec) -> RunningBrowser:
    """Start Chromium per `spec` and connect the engine's Playwright; raises BrowserExited."""
    process = await BrowserProcess.spawn(spec.argv(), spec.environment(), lambda _message: None)
    mux = Multiplexer(process, spec.viewport)
    try:
        await mux.start(START_TIMEOUT_MS / 1000)
        url = await listener.offer(mux, None, {"engine": True})
        browser = await playwright.chromium.connect_over_cdp(
            url, artifacts_dir=spec.downloads, is_local=True, timeout=START_TIMEOUT_MS
        )
    except BaseException as exc:
        await process.close(0)
        if isinstance(exc, Exception) and not isinstance(exc, BrowserExited):
            raise BrowserExited(f"Chromium did not start: {exc}", process.log_tail()) from exc
        raise
    return RunningBrowser(process, mux, browser, browser.contexts[0])
