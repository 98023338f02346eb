"""The runtime manager: one Chromium per runtime, owned by exactly this process.

- One Playwright driver per process, started with the engine; one Chromium per runtime, started
  by the engine itself (engine/cdp/browser.py), its profile the browser's default context.
  Ephemeral runtimes use a scratch user-data dir under the runtime's scratch dir (deleted on
  stop), profiles their persistent dir; both live under VAR_DIR, which is also how tests find a
  runtime's Chromium processes.
- A runtime row is inserted `active` *before* the browser launches: the partial unique
  constraints (alias, profile) are the race-free lock; a launch that fails marks it `failed`.
- The end of a runtime (stop, idle, crash, engine shutdown) is one coroutine run once as a task,
  so concurrent stops, a crash during a stop or a stop during a launch all converge.
- Start reconciles runtimes a previous process left `active`: they become `failed`
  (`runtime.engine_restarted`), since their browsers died with that process.
- Ephemeral launches of the default shape take a browser from the warm pool (`pool.py`) when
  one is waiting; every browser, pooled or not, is started by `start_browser`, the one place
  that says how a runtime's Chromium starts.
- Rooms that follow runtimes (live view, recordings) register a `RuntimeObserver`: told when a
  runtime's browser is ready and, once its end is recorded, that it ended. The manager never
  imports them.
"""

import asyncio
import contextlib
import logging
import os
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone
from playwright.async_api import Playwright, async_playwright

from engine import crypto, paths
from engine.cdp import browser as cdp_browser
from engine.cdp.browser import BrowserSpec, RunningBrowser
from engine.cdp.listener import listener
from engine.egress import engine_policy, launcher
from engine.egress.proxy import EgressProxy, Upstream
from engine.errors import ApiError
from engine.models import BrowserExtension, BrowserProfile, Runtime, RuntimeEvent, Workspace
from engine.runtimes import chromium, operations
from engine.runtimes.chromium import DEFAULT_VIEWPORT
from engine.runtimes.downloads import Downloads
from engine.runtimes.events import event_log
from engine.runtimes.pool import WarmBrowser, WarmPool, eligible
from engine.runtimes.session import RuntimeSession
from engine.updates import record_update

logger = logging.getLogger("engine.runtimes")

DEFAULT_STEP_TIMEOUT_MS = 30_000
CLOSE_TIMEOUT_SECONDS = 10
OBSERVER_TIMEOUT_SECONDS = 10
REAP_INTERVAL_SECONDS = 1.0


@dataclass
class LaunchRequest:
    """A validated launch: what the route hands the manager."""

    alias: str
    kind: str
    driver: str
    mode: str  # ephemeral | profile
    profile_id: UUID | None
    config: dict[str, Any]  # LaunchConfig as sent (may carry a proxy password)
    mounts: dict[str, Any] = field(default_factory=dict)
    api_key_id: str | None = None  # who launched it: ENGINE_MAX_RUNTIMES_PER_KEY counts per key
    requested_mounts: dict[str, Any] = field(default_factory=dict)  # the launch's narrowing ({}: none)
    metadata: dict[str, str] = field(default_factory=dict)  # the caller's labels, never read by the engine


class RuntimeObserver(Protocol):
    def runtime_started(self, session: RuntimeSession) -> None:
        """The browser is ready. Must return at once (start tasks for slow work)."""

    async def runtime_ended(self, session: RuntimeSession, status: str) -> None:
        """The runtime is `stopped` or `failed` and its row says so; the browser is gone."""


def public_config(config: dict[str, Any]) -> dict[str, Any]:
    """The effective LaunchConfig as the API shows it: defaults filled, no proxy password."""
    proxy = config.get("proxy")
    return {
        "viewport": config.get("viewport") or DEFAULT_VIEWPORT,
        "userAgent": config.get("userAgent"),
        "locale": config.get("locale"),
        "timezoneId": config.get("timezoneId"),
        "proxy": ({"server": proxy["server"], "username": proxy.get("username")} if proxy else None),
        "extensionIds": [str(e) for e in config.get("extensionIds") or []],
        "idleTimeoutSeconds": config.get("idleTimeoutSeconds") or settings.DEFAULT_IDLE_TIMEOUT_SECONDS,
        "recording": settings.RECORDING_ENABLED if config.get("recording") is None else config["recording"],
    }


class RuntimeManager:
    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._playwright_lock = asyncio.Lock()
        self.sessions: dict[UUID, RuntimeSession] = {}
        self._launching: dict[UUID, asyncio.Task[Runtime]] = {}
        self._ending: dict[UUID, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._launched_by: dict[UUID, str] = {}  # live or launching runtime -> its API key
        self.launcher = launcher.unisolated(settings.CHROMIUM_PATH)
        # The isolation mode (/healthz, GET /v1/limits, the console, /readyz): decided at start.
        self.isolation = launcher.Isolation("pending", False)
        self.uids = launcher.Uids(settings.BROWSER_UID, settings.BROWSER_UID_COUNT)
        self.observers: list[RuntimeObserver] = []
        self.pool = WarmPool(settings.WARM_POOL_SIZE, self.start_browser)

    # ---- process lifecycle --------------------------------------------------------------

    async def start(self) -> None:
        await self._reconcile()
        await self._choose_launcher()
        event_log.start()
        await self._driver()
        self._reaper = asyncio.get_running_loop().create_task(self._reap(), name="idle-reaper")
        if self.isolation.allowed:
            self.pool.start()

    async def shutdown(self) -> None:
        await self.pool.close()
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        for task in list(self._launching.values()):
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
        await asyncio.gather(
            *(
                self._end(s, "stopped", reason=Runtime.StopReason.ENGINE_SHUTDOWN)
                for s in list(self.sessions.values())
            ),
            return_exceptions=True,
        )
        await event_log.stop()
        await listener.close()
        if self._playwright is not None:
            with contextlib.suppress(Exception):
                await self._playwright.stop()
            self._playwright = None

    async def _choose_launcher(self) -> None:
        """Isolate runtimes if this host allows it (tried with a real browser), else say why."""
        reason = await sync_to_async(launcher.why_not_isolated)(
            settings.BROWSER_UID, settings.BROWSER_UID_COUNT
        )
        if reason is None:
            isolating = await sync_to_async(launcher.isolating)(
                settings.CHROMIUM_PATH, paths.browser_launcher_dir()
            )
            for sandbox in (True, False):
                candidate = replace(isolating, sandbox=sandbox)
                problem = await self._probe(candidate)
                if problem is None:
                    self.launcher = candidate
                    self.isolation = launcher.Isolation(launcher.ISOLATED, True, sandbox)
                    if reason:
                        logger.warning(
                            "Chromium's sandbox does not start inside a runtime's isolation here (%s); "
                            "runtimes run isolated, as their own uid, with --no-sandbox.",
                            reason,
                        )
                    logger.info("Runtimes run isolated (namespaces, own uid, sandbox %s)", sandbox)
                    return
                reason = reason or problem
        fallback = launcher.unisolated(settings.CHROMIUM_PATH)
        allowed = settings.ALLOW_UNISOLATED
        if allowed and fallback.sandbox and await self._probe(fallback) is not None:
            fallback = replace(fallback, sandbox=False)  # not root, but no user namespaces either
        self.launcher = fallback
        self.isolation = launcher.Isolation(
            launcher.UNISOLATED, allowed, allowed and fallback.sandbox, reason or ""
        )
        if allowed:
            logger.warning(
                "Runtimes run UNISOLATED (ENGINE_ALLOW_UNISOLATED=true): %s. A page or extension can "
                "reach around the egress proxy and read what the engine's user can read.",
                reason,
            )
        else:
            logger.error(
                "This engine cannot isolate runtimes: %s. It refuses to launch runtimes until it can; "
                "set ENGINE_ALLOW_UNISOLATED=true to run them unisolated anyway.",
                reason,
            )

    async def _probe(self, candidate: launcher.Launcher) -> str | None:
        """Start one real browser the way runtimes would under `candidate`; None, or what failed."""
        probe = paths.browser_launcher_dir() / "probe"
        proxy = EgressProxy(engine_policy(), lambda _refusal: None)
        try:
            running = await self.start_browser(probe, probe / "user-data", {}, [], proxy, candidate)
            try:
                context = running.context
                page = context.pages[0] if context.pages else await context.new_page()
                await page.evaluate("1")  # a renderer runs (inside the sandbox, when it is on)
            finally:
                await running.close("The start-up check is done.", CLOSE_TIMEOUT_SECONDS)
            return None
        except Exception as exc:
            logger.info("The start-up browser did not start (%s): %s", candidate, exc)  # Playwright's log
            return _first_line(exc)
        finally:
            await proxy.close()
            await sync_to_async(shutil.rmtree)(probe, ignore_errors=True)

    async def _driver(self) -> Playwright:
        async with self._playwright_lock:
            if self._playwright is None:
                self._playwright = await async_playwright().start()
            return self._playwright

    async def _reconcile(self) -> None:
        """Runtimes left active by a previous process lost their browser with it: fail them."""
        now = timezone.now()
        message = "The engine restarted while this runtime ran; its browser is gone. Launch it again."
        left = [r async for r in Runtime.objects.filter(status=Runtime.Status.ACTIVE)]
        for runtime in left:
            runtime.status = Runtime.Status.FAILED
            runtime.failure_code = "runtime.engine_restarted"
            runtime.failure_message = message
            runtime.stopped_at = now
            runtime.bindings = []
            runtime.last_sequence += 1
            await RuntimeEvent.objects.acreate(
                runtime=runtime,
                workspace_id=runtime.workspace_id,
                sequence=runtime.last_sequence,
                event_type="runtime.failed",
                event_data={"code": runtime.failure_code, "message": message},
                created_at=now,
            )
            await runtime.asave(
                update_fields=[
                    "status",
                    "failure_code",
                    "failure_message",
                    "stopped_at",
                    "bindings",
                    "last_sequence",
                ]
            )
            await record_update(
                "runtime.failed",
                {"alias": runtime.alias, "runtimeId": str(runtime.id), "code": runtime.failure_code},
                runtime.workspace_id,
            )
        if left:
            logger.warning("Marked %d runtime(s) left active by a previous process as failed", len(left))
        await sync_to_async(_remove_stale_scratch)()

    # ---- launch -------------------------------------------------------------------------

    def _forget_failed_launch(self, runtime_id: UUID, task: "asyncio.Task[Runtime]") -> None:
        if task.cancelled() or task.exception() is not None:
            self._launched_by.pop(runtime_id, None)

    def _check_key_share(self, api_key_id: str | None) -> None:
        limit = settings.MAX_RUNTIMES_PER_KEY
        held = sum(1 for key in self._launched_by.values() if key == api_key_id)
        if api_key_id and limit and held >= limit:
            raise ApiError(
                429,
                "rate_limited",
                f"This API key already runs {limit} runtimes (ENGINE_MAX_RUNTIMES_PER_KEY); stop one of them, "
                "or ask the engine's admin to raise the limit or make this a team key.",
                {"limit": "ENGINE_MAX_RUNTIMES_PER_KEY", "maxRuntimesPerKey": limit},
                headers={"Retry-After": "5"},
            )

    def _check_capacity(self) -> None:
        """Refuse a launch this engine cannot take: it cannot isolate, or it runs its most runtimes."""
        if not self.isolation.allowed:
            raise ApiError(
                503,
                "runtime.isolation_unavailable",
                f"This engine cannot isolate runtimes ({self.isolation.reason or 'it is still starting'}), "
                "so it runs none. Run it as root with namespaces allowed (see the README), or set "
                "ENGINE_ALLOW_UNISOLATED=true to run runtimes without isolation.",
                {"isolation": self.isolation.payload()},
            )
        if len(self.sessions) + len(self._launching) >= settings.MAX_ACTIVE_RUNTIMES:
            raise ApiError(
                429,
                "rate_limited",
                f"The engine already runs {settings.MAX_ACTIVE_RUNTIMES} runtimes (ENGINE_MAX_ACTIVE_RUNTIMES); "
                "stop one, or ask the engine's admin to raise the limit.",
                {"limit": "ENGINE_MAX_ACTIVE_RUNTIMES", "maxActiveRuntimes": settings.MAX_ACTIVE_RUNTIMES},
                headers={"Retry-After": "5"},
            )

    async def launch(self, workspace: Workspace, request: LaunchRequest) -> Runtime:
        """Launch a browser and return its runtime once it is ready (status active)."""
        self._check_capacity()
        config, profile = await _launch_config(request)
        _check_idle_timeout(config)
        self._check_key_share(request.api_key_id)
        extension_dirs = await _extension_dirs(config.get("extensionIds") or [])
        await _check_free(workspace, request.alias, profile)

        warm = self.pool.take() if profile is None and eligible(request.mode, config) else None
        runtime = Runtime(
            **({"id": warm.runtime_id} if warm is not None else {}),
            workspace=workspace,
            alias=request.alias,
            kind=request.kind,
            driver=request.driver,
            status=Runtime.Status.ACTIVE,
            launch_mode=request.mode,
            profile=profile,
            config=public_config(config),
            mounts=request.mounts,
            requested_mounts=request.requested_mounts,
            metadata=request.metadata,
            last_activity_at=timezone.now(),
        )
        try:
            await runtime.asave(force_insert=True)
        except BaseException as exc:
            if warm is not None:  # never used by anyone, but never handed out twice either
                self._spawn(self.pool.discard(warm))
            if isinstance(exc, IntegrityError):
                await _check_free(workspace, request.alias, profile)  # names which one was taken
            raise
        # Shielded: a client that hangs up mid-launch must not leave a half-made runtime.
        task = asyncio.get_running_loop().create_task(
            self._open(runtime, config, extension_dirs, profile, warm)
        )
        self._launching[runtime.id] = task
        if request.api_key_id:
            self._launched_by[runtime.id] = request.api_key_id
        task.add_done_callback(lambda _t: self._launching.pop(runtime.id, None))
        task.add_done_callback(lambda t: self._forget_failed_launch(runtime.id, t))
        return await asyncio.shield(task)

    async def _open(
        self,
        runtime: Runtime,
        config: dict[str, Any],
        extension_dirs: list[Path],
        profile: BrowserProfile | None,
        warm: WarmBrowser | None = None,
    ) -> Runtime:
        tail = event_log.open(runtime)
        idle_timeout = float(runtime.config["idleTimeoutSeconds"])
        session = RuntimeSession(runtime, tail, event_log, idle_timeout)
        session.on_browser_gone = self._browser_gone
        session.on_download = Downloads(paths.runtime_scratch_dir(runtime.id) / "downloads").take
        try:
            if warm is not None:
                # Launched for the pool exactly as below, with its own proxy; untouched until now.
                session.proxy, running = warm.proxy, warm.browser
                session.proxy.on_refused = session.on_refused
            else:
                # Every request of this browser goes through its own egress proxy, chained to the
                # runtime's proxy when its config names one (whose password stays here, not in Chromium).
                session.proxy = EgressProxy(
                    engine_policy(), session.on_refused, Upstream.from_config(config.get("proxy"))
                )
                scratch = paths.runtime_scratch_dir(runtime.id)
                user_data = paths.profile_user_data_dir(profile.id) if profile else scratch / "user-data"
                running = await self.start_browser(scratch, user_data, config, extension_dirs, session.proxy)
        except Exception as exc:
            raise await self._launch_failed(runtime, session, exc) from exc
        await self._go_live(runtime, session, running, warm, profile)
        return runtime

    async def _launch_failed(self, runtime: Runtime, session: RuntimeSession, exc: Exception) -> ApiError:
        """The browser did not start: the runtime ends failed, and this is the launch's answer."""
        # the message carries the end of Chromium's own log
        logger.warning("Runtime %s: the browser did not start: %s", runtime.id, exc)
        if session.proxy is not None:
            await session.proxy.close()
        if isinstance(exc, launcher.NoFreeUid):
            error = _no_free_uid(exc)
            ended = error.message
        else:
            error = ApiError(
                503,
                "runtime.launch_failed",
                f"The browser did not start: {_first_line(exc)}. Check CHROMIUM_PATH and the engine log.",
            )
            ended = f"Chromium did not start: {_first_line(exc)}"
        event_log.emit(session.tail, "runtime.failed", {"code": error.code, "message": str(exc)[:500]})
        await self._mark_ended(runtime, "failed", error.code, ended)
        return error

    async def _go_live(
        self,
        runtime: Runtime,
        session: RuntimeSession,
        running: RunningBrowser,
        warm: WarmBrowser | None,
        profile: BrowserProfile | None,
    ) -> None:
        """The browser runs: the session takes it, the runtime's row says so, and observers learn of it."""
        context = running.context
        context.set_default_timeout(DEFAULT_STEP_TIMEOUT_MS)
        session.emit(
            "runtime.started",
            {
                "alias": runtime.alias,
                "runtimeId": str(runtime.id),
                "launchMode": runtime.launch_mode,
                "warm": warm is not None,  # its browser came from the warm pool
            },
        )
        session.attach(running)
        page = context.pages[0] if context.pages else await context.new_page()
        runtime.default_page_id = session.make_default(page)
        runtime.default_context_id = session.context_id
        runtime.started_at = timezone.now()
        runtime.bindings = session.bindings_json()
        self.sessions[runtime.id] = session
        await runtime.asave(update_fields=["default_page_id", "default_context_id", "started_at", "bindings"])
        for observer in self.observers:
            try:
                observer.runtime_started(session)
            except Exception:
                logger.exception("Observer %r failed on the start of runtime %s", observer, runtime.id)
        if profile is not None:
            await BrowserProfile.objects.filter(id=profile.id).aupdate(last_used_at=runtime.started_at)
        await record_update(
            "runtime.started", {"alias": runtime.alias, "runtimeId": str(runtime.id)}, runtime.workspace_id
        )

    async def start_browser(
        self,
        scratch: Path,
        user_data: Path,
        config: dict[str, Any],
        extension_dirs: list[Path],
        proxy: EgressProxy,
        using: launcher.Launcher | None = None,
    ) -> RunningBrowser:
        """Start a runtime's Chromium: the one place that says how (cold launches and the pool).

        Starts `proxy` (in a network namespace of its own when isolated) and Chromium through the
        launcher (`using`, else the engine's): flags from `chromium.FLAGS` and the config, all
        traffic through the proxy, downloads in `scratch`; isolated, in its own view of the
        files, as a uid leased for as long as the browser runs, with its sandbox on. The engine
        holds the browser's CDP pipe (engine/cdp/): its Playwright connects through the
        multiplexer, as gateway clients do.
        """
        using = using or self.launcher
        if not using.isolated:
            logger.warning("A runtime's browser starts UNISOLATED (ENGINE_ALLOW_UNISOLATED=true)")
        playwright = await self._driver()
        await proxy.start(isolated=using.isolated)
        lease = await sync_to_async(self.uids.lease)() if using.isolated else None
        try:
            home = scratch / "home"
            downloads = scratch / "downloads"
            writable = [scratch] if scratch in user_data.parents else [scratch, user_data]
            # Made (and owned) here: Chromium would make a missing user-data dir as the engine's user.
            await sync_to_async(_make_dirs)(lease, *writable, user_data, downloads, home)
            spec = browser_spec(config, user_data, downloads, extension_dirs)
            uid = lease.uid if lease else os.geteuid()
            spec.executable, spec.proxy_url = using.executable, proxy.url
            spec.env = _browser_environment() | using.environment(
                proxy.namespace, uid, home, writable, extension_dirs
            )
            if using.sandbox:
                spec.flags = [arg for arg in spec.flags if arg != "--no-sandbox"]
            running = await cdp_browser.start(playwright, spec)
        except BaseException:
            if lease is not None:
                lease.release()
            raise
        if lease is not None:
            running.context.on("close", lambda _context: lease.release())
        return running

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ---- the end of a runtime -----------------------------------------------------------

    async def stop(self, runtime_id: UUID) -> None:
        """Stop a runtime (closes its browser); a no-op for one that already ended."""
        launching = self._launching.get(runtime_id)
        if launching is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(launching)
        session = self.sessions.get(runtime_id)
        if session is not None:
            await self._end(session, "stopped", reason=Runtime.StopReason.REQUESTED)
            return
        ending = self._ending.get(runtime_id)
        if ending is not None:
            await asyncio.shield(ending)
            return
        # Active in the table but not live here (should not happen after reconcile): end the row.
        runtime = await Runtime.objects.filter(id=runtime_id, status=Runtime.Status.ACTIVE).afirst()
        if runtime is not None:
            await self._mark_ended(runtime, "stopped", "", "", Runtime.StopReason.REQUESTED)

    def _browser_gone(self, session: RuntimeSession) -> None:
        self._spawn(
            self._end(
                session,
                "failed",
                code="runtime.browser_crashed",
                message="The browser process exited unexpectedly (crashed or was killed). Launch the runtime again.",
            )
        )

    async def _end(
        self, session: RuntimeSession, status: str, code: str = "", message: str = "", reason: str = ""
    ) -> None:
        task = self._ending.get(session.runtime_id)
        if task is None:
            task = asyncio.get_running_loop().create_task(
                self._finish(session, status, code, message, reason)
            )
            self._ending[session.runtime_id] = task
            task.add_done_callback(lambda _t: self._ending.pop(session.runtime_id, None))
        await asyncio.shield(task)

    async def _finish(
        self, session: RuntimeSession, status: str, code: str, message: str, reason: str
    ) -> None:
        runtime = session.runtime
        # Operations driving this runtime (agents) end now, each `failed` with runtime.not_active,
        # not whenever their loop next touches the browser; then the browser goes.
        ended = f"was stopped ({reason})" if status == "stopped" else f"failed ({code})"
        await operations.interrupt_runtime(
            runtime.id,
            "runtime.not_active",
            f"The runtime {ended} while this operation ran.",
            OBSERVER_TIMEOUT_SECONDS,
        )
        session.closing = True
        if session.browser is not None:
            try:
                await session.browser.close(_close_reason(status, code, reason), CLOSE_TIMEOUT_SECONDS)
            except Exception:
                logger.exception("Closing the browser of runtime %s failed", runtime.id)
        await session.network.close()  # nothing of the network is told after the runtime's end
        self.sessions.pop(runtime.id, None)
        self._launched_by.pop(runtime.id, None)
        if session.proxy is not None:
            await session.proxy.close()
        data = {"alias": runtime.alias, "runtimeId": str(runtime.id)}
        if status == "failed":
            session.emit("runtime.failed", {**data, "code": code, "message": message})
        else:
            session.emit("runtime.stopped", {**data, "reason": reason})
        await self._mark_ended(runtime, status, code, message, reason if status == "stopped" else "")
        for observer in self.observers:
            try:
                await asyncio.wait_for(observer.runtime_ended(session, status), OBSERVER_TIMEOUT_SECONDS)
            except Exception:
                logger.exception("Observer %r failed on the end of runtime %s", observer, runtime.id)
        if runtime.launch_mode == "ephemeral":
            await sync_to_async(shutil.rmtree)(paths.runtime_scratch_dir(runtime.id), ignore_errors=True)

    async def _mark_ended(
        self, runtime: Runtime, status: str, code: str, message: str, reason: str = ""
    ) -> None:
        # The last event of the runtime is written before its row says it ended.
        event_log.close(runtime.id)
        with contextlib.suppress(Exception):
            await event_log.flush()
        runtime.status = status
        runtime.failure_code = code
        runtime.failure_message = message
        runtime.stop_reason = reason
        runtime.stopped_at = timezone.now()
        runtime.bindings = []
        await Runtime.objects.filter(id=runtime.id).aupdate(
            status=status,
            failure_code=code,
            failure_message=message,
            stop_reason=reason,
            stopped_at=runtime.stopped_at,
            bindings=[],
        )
        update = {"alias": runtime.alias, "runtimeId": str(runtime.id)}
        if code:
            update["code"] = code
        if reason:
            update["reason"] = reason
        await record_update(f"runtime.{status}", update, runtime.workspace_id)

    # ---- idle reaping -------------------------------------------------------------------

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(REAP_INTERVAL_SECONDS)
            for session in list(self.sessions.values()):
                if session.idle_for() > session.idle_timeout and session.runtime_id not in self._ending:
                    logger.info("Stopping idle runtime %s", session.runtime_id)
                    self._spawn(self._end(session, "stopped", reason=Runtime.StopReason.IDLE))

    def session(self, runtime_id: UUID) -> RuntimeSession | None:
        return self.sessions.get(runtime_id)


def browser_spec(
    config: dict[str, Any], user_data: Path, downloads: Path, extension_dirs: list[Path]
) -> BrowserSpec:
    """How a runtime's Chromium starts, from its launch config (the manager adds launcher and proxy)."""
    flags = list(chromium.FLAGS)
    if extension_dirs:
        joined = ",".join(str(d) for d in extension_dirs)
        flags += [f"--disable-extensions-except={joined}", f"--load-extension={joined}"]
    return BrowserSpec(
        executable=settings.CHROMIUM_PATH,
        flags=flags,
        user_data=user_data,
        downloads=downloads,
        proxy_url="",
        viewport=config.get("viewport") or DEFAULT_VIEWPORT,
        env=_browser_environment(),
        user_agent=config.get("userAgent"),
        locale=config.get("locale"),
        timezone_id=config.get("timezoneId"),
        extensions=bool(extension_dirs),
    )


async def _launch_config(request: LaunchRequest) -> tuple[dict[str, Any], BrowserProfile | None]:
    """The launch's config, refining its profile's (when it launches one), and that profile."""
    config = dict(request.config)
    profile = None
    if request.mode == "profile" and request.profile_id is not None:
        profile = await BrowserProfile.objects.filter(id=request.profile_id).afirst()
        if profile is None:
            raise ApiError(404, "profile.not_found", f"Browser profile {request.profile_id} does not exist.")
        # The launch's own config (if any) refines the profile's.
        base = crypto.open_proxy_password(dict(profile.config or {}))
        base["extensionIds"] = list(profile.extension_ids or []) + list(config.get("extensionIds") or [])
        config = {**base, **{k: v for k, v in config.items() if k != "extensionIds" and v is not None}}
    return config, profile


def _check_idle_timeout(config: dict[str, Any]) -> None:
    """A runtime may not idle longer than ENGINE_MAX_IDLE_TIMEOUT_SECONDS (its profile's config included)."""
    wanted, ceiling = config.get("idleTimeoutSeconds"), settings.MAX_IDLE_TIMEOUT_SECONDS
    if wanted is not None and wanted > ceiling:
        raise ApiError(
            400,
            "request.invalid",
            f"idleTimeoutSeconds may be at most {ceiling} on this engine (ENGINE_MAX_IDLE_TIMEOUT_SECONDS).",
            {"fields": [{"path": "launch.config.idleTimeoutSeconds", "message": f"At most {ceiling}."}]},
        )


async def _extension_dirs(extension_ids: list[Any]) -> list[Path]:
    if not extension_ids:
        return []
    wanted = [str(e) for e in extension_ids]
    rows = {str(e.id): e async for e in BrowserExtension.objects.filter(id__in=wanted)}
    problems = []
    for index, extension_id in enumerate(wanted):
        extension = rows.get(extension_id)
        if extension is None:
            problems.append({"path": f"launch.config.extensionIds.{index}", "message": "No such extension."})
        elif not extension.enabled:
            problems.append(
                {"path": f"launch.config.extensionIds.{index}", "message": "The extension is disabled."}
            )
    if problems:
        raise ApiError(
            400,
            "request.invalid",
            "Every extension must exist and be enabled: " + "; ".join(p["message"] for p in problems),
            {"fields": problems},
        )
    return [paths.extension_unpacked_dir(e) for e in dict.fromkeys(wanted)]


async def _check_free(workspace: Workspace, alias: str, profile: BrowserProfile | None) -> None:
    active = Runtime.objects.filter(status=Runtime.Status.ACTIVE)
    if await active.filter(workspace=workspace, alias=alias).aexists():
        raise ApiError(
            409,
            "runtime.alias_in_use",
            f"An active runtime is already called '{alias}' in this workspace; stop it or pick another alias.",
        )
    if profile is not None:
        holder = await active.filter(profile=profile).afirst()
        if holder is not None:
            raise ApiError(
                409,
                "profile.in_use",
                f"Browser profile {profile.id} is in use by runtime '{holder.alias}'; stop it first.",
                {"workspaceId": str(holder.workspace_id), "runtime": holder.alias},
            )


def _close_reason(status: str, code: str, reason: str) -> str:
    """What a connected CDP client is told when its runtime ends (a websocket close reason)."""
    return f"The runtime stopped ({reason})." if status == "stopped" else f"The runtime failed ({code})."


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _no_free_uid(exc: launcher.NoFreeUid) -> ApiError:
    """A launch refused for want of a browser uid: a capacity of the host, not a broken Chromium."""
    return ApiError(
        503,
        "runtime.capacity_exhausted",
        f"Every browser uid this engine may run a runtime as is in use ({exc.base}..{exc.base + exc.count - 1}, "
        f"ENGINE_BROWSER_UID_COUNT={exc.count}, shared by the engines of this host): stop a runtime, or ask "
        "the engine's admin to raise ENGINE_BROWSER_UID_COUNT.",
        {"limit": "ENGINE_BROWSER_UID_COUNT", "browserUidCount": exc.count},
    )


def _make_dirs(lease: launcher.Lease | None, *dirs: Path) -> None:
    """Make a browser's directories, its user's own (whole trees: a profile's too) when it has one."""
    for directory in dirs:
        directory.mkdir(parents=True, exist_ok=True)
    if lease is not None:
        launcher.own(lease.uid, *dirs)


def _browser_environment() -> dict[str, str]:
    """What Chromium inherits of the engine's environment: nothing that may hold a secret."""
    return {name: os.environ[name] for name in ("PATH", "LANG", "LC_ALL", "TZ") if name in os.environ}


def _remove_stale_scratch() -> None:
    """At start no runtime is live: every scratch dir left over is garbage."""
    root = paths.var_dir() / "runtimes"
    if root.is_dir():
        for child in root.iterdir():
            shutil.rmtree(child, ignore_errors=True)


manager = RuntimeManager()
