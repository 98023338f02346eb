"""The warm pool: browsers launched ahead of time, so an ephemeral runtime starts in milliseconds.

- What it holds: ENGINE_WARM_POOL_SIZE browsers (0: none), each already launched exactly as a
  cold runtime's would be, by the manager's own `start_browser` (same flags, managed policy,
  isolation: its own network namespace with its own egress proxy listener, its own view of the
  files and uid; a fresh scratch dir) and
  left untouched on its first blank page.
- Who gets one: an ephemeral launch whose config changes nothing about how Chromium starts
  (`eligible`): no profile, user agent, locale, time zone, proxy or extension, the default
  viewport. Everything else starts cold.
- Fresh, always: a pooled browser serves one runtime and dies with it (its scratch dir goes with
  the runtime, as a cold one's does); nothing is ever handed back to the pool. A pooled browser's
  scratch dir is named by the id its runtime will get, so the runtime finds it where a cold
  runtime's would be (`paths.runtime_scratch_dir`), and nothing else needs to know.
- Refilled in the background as soon as one is taken; a browser that dies while waiting is
  dropped and replaced. Failing launches back off (the engine keeps working cold meanwhile).
- What it costs: each waiting browser holds its memory (bench/density.py prints it) and next to
  no CPU (an idle blank page paints nothing).
"""

import asyncio
import contextlib
import logging
import shutil
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from asgiref.sync import sync_to_async

from engine import paths
from engine.cdp.browser import RunningBrowser
from engine.egress import engine_policy
from engine.egress.policy import Refusal
from engine.egress.proxy import EgressProxy
from engine.runtimes.chromium import DEFAULT_VIEWPORT

logger = logging.getLogger("engine.runtimes")

RETRY_SECONDS = (1, 5, 30)  # after consecutive failed launches, then every last one
CLOSE_WAIT_SECONDS = 30
BROWSER_CLOSE_SECONDS = 10
# LaunchConfig fields that do not change how Chromium is started (read by the runtime itself).
LAUNCH_NEUTRAL = {"idleTimeoutSeconds", "recording"}


def eligible(mode: str, config: dict[str, Any]) -> bool:
    """Whether a launch can take a pooled browser: ephemeral, started the default way."""
    if mode != "ephemeral":
        return False
    for key, value in config.items():
        if key in LAUNCH_NEUTRAL or value in (None, [], {}):
            continue
        if key == "viewport" and value == DEFAULT_VIEWPORT:
            continue
        return False
    return True


def _no_refusal_yet(refusal: Refusal) -> None:
    """A pooled browser browses nothing until a runtime takes it (which rebinds this)."""
    logger.warning("A pooled browser's proxy refused %s before any runtime took it", refusal.url)


@dataclass
class WarmBrowser:
    runtime_id: UUID  # the id of the runtime that takes it: its scratch dir is named so
    proxy: EgressProxy
    browser: RunningBrowser
    alive: bool = True


StartBrowser = Callable[[Path, Path, dict[str, Any], list[Path], EgressProxy], Awaitable[RunningBrowser]]


class WarmPool:
    def __init__(self, size: int, start_browser: StartBrowser) -> None:
        self.size = size
        self._start_browser = start_browser
        self.ready: list[WarmBrowser] = []
        self._filling: asyncio.Task[None] | None = None
        self._closed = False
        self.launched = 0  # browsers launched for the pool since start (for tests and benches)

    def start(self) -> None:
        self._refill()

    def take(self) -> WarmBrowser | None:
        """A fresh pooled browser for a runtime to own, or None (then it starts cold)."""
        while self.ready:
            warm = self.ready.pop(0)
            if warm.alive:
                self._refill()
                return warm
        self._refill()
        return None

    def _refill(self) -> None:
        if self._closed or self.size <= 0 or (self._filling is not None and not self._filling.done()):
            return
        self._filling = asyncio.get_running_loop().create_task(self._fill(), name="warm-pool-fill")

    async def _fill(self) -> None:
        failures = 0
        while not self._closed and len(self.ready) < self.size:
            try:
                warm = await self._launch()
            except Exception as exc:
                failures += 1
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1]
                logger.warning("Warm pool: a browser did not start (%s); trying again in %s s", exc, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            if self._closed:  # the engine began stopping during the launch
                await self.discard(warm)
            else:
                self.ready.append(warm)

    async def _launch(self) -> WarmBrowser:
        runtime_id = uuid.uuid4()
        scratch = paths.runtime_scratch_dir(runtime_id)
        proxy = EgressProxy(engine_policy(), _no_refusal_yet)  # started by start_browser
        try:
            browser = await self._start_browser(scratch, scratch / "user-data", {}, [], proxy)
        except BaseException:
            await proxy.close()
            await sync_to_async(shutil.rmtree, thread_sensitive=False)(scratch, ignore_errors=True)
            raise
        self.launched += 1
        warm = WarmBrowser(runtime_id, proxy, browser)
        browser.context.on("close", lambda _context: self._died(warm))
        return warm

    def _died(self, warm: WarmBrowser) -> None:
        if not warm.alive:
            return
        warm.alive = False
        if warm in self.ready:  # died waiting (killed, crashed): drop it and launch another
            self.ready.remove(warm)
            logger.warning("Warm pool: a waiting browser exited; launching another")
            task = asyncio.get_running_loop().create_task(self.discard(warm))
            task.add_done_callback(lambda _t: self._refill())

    async def discard(self, warm: WarmBrowser) -> None:
        """Close a pooled browser for good (and its proxy and scratch dir)."""
        warm.alive = False
        with contextlib.suppress(Exception):
            await warm.browser.close("The engine is stopping.", BROWSER_CLOSE_SECONDS)
        await warm.proxy.close()
        await sync_to_async(shutil.rmtree, thread_sensitive=False)(
            paths.runtime_scratch_dir(warm.runtime_id), ignore_errors=True
        )

    async def close(self) -> None:
        """Stop refilling and close every waiting browser (the engine is stopping)."""
        self._closed = True
        if self._filling is not None:
            # A launch under way finishes (a cancelled one could leave its browser behind) and is
            # closed by the fill itself; only a wait between failed launches is cut short.
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(self._filling), CLOSE_WAIT_SECONDS)
            self._filling.cancel()
            with contextlib.suppress(BaseException):
                await self._filling
        waiting, self.ready = self.ready, []
        await asyncio.gather(*(self.discard(w) for w in waiting), return_exceptions=True)

    def state(self) -> dict[str, int]:
        return {"size": self.size, "ready": sum(1 for w in self.ready if w.alive)}
