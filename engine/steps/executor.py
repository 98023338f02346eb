"""Run a list of steps against one live runtime, fail-fast.

Steps of one request run in order under the runtime's execute lock, so two concurrent executes
against one runtime never interleave their steps. The hot path writes nothing to the database:
step events are buffered by the event log, bindings persist with its next batch.

The vault's use-without-read rules are applied here, from each call's declared `page_data`
(engine/steps/registry.py): a call that reads page data is refused with `vault.sealed` while the
runtime shows a document a secret was filled into (unless the caller has raw-read rights), a
call that runs the caller's script taints the documents it may have run in, and results and
error messages are redacted of filled secrets (engine/runtimes/seal.py).
"""

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.conf import settings
from playwright.async_api import BrowserContext, Page
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from engine.errors import ApiError
from engine.models import Runtime, Workspace
from engine.mounts import storage_namespace
from engine.runtimes.session import DEFAULT_CONTEXT_BINDING, DEFAULT_PAGE_BINDING, RuntimeSession
from engine.steps import registry
from engine.steps.registry import CallSpec, StepContext, StepError

logger = logging.getLogger("engine.steps")

DEFAULT_TIMEOUT_MS = 30_000
# Playwright enforces timeoutMs itself (with a better message); this only catches calls that
# have no timeout of their own (evaluate, waitForTimeout).
BACKSTOP_GRACE_SECONDS = 0.25
RESERVED_BINDINGS = (DEFAULT_PAGE_BINDING, DEFAULT_CONTEXT_BINDING)


@dataclass
class PlannedStep:
    index: int
    spec: CallSpec
    args: list[Any]
    ref: str | None = None
    bind: str | None = None
    timeout_ms: float = DEFAULT_TIMEOUT_MS
    dry_run: bool = False
    capture_logs: bool = False
    labels: dict[str, str] = field(default_factory=dict)  # the step's scriptId / scriptName, for its events
    extra: dict[str, Any] = field(default_factory=dict)
    prepared: Any = None


def plan(steps: list[dict[str, Any]]) -> tuple[list[PlannedStep], list[dict[str, str]]]:
    """Check every step before running any: (planned steps, problems as {path, message})."""
    planned: list[PlannedStep] = []
    problems: list[dict[str, str]] = []
    for index, step in enumerate(steps):
        spec = registry.get(step["call"])
        if spec is None:
            problems.append(
                {"path": f"steps.{index}.call", "message": f"Unknown call {step['call']!r}; see help."}
            )
            continue
        for problem in spec.check_args(step.get("args") or []):
            problems.append({"path": f"steps.{index}.{problem['path']}", "message": problem["message"]})
        if step.get("bind") in RESERVED_BINDINGS:
            problems.append({"path": f"steps.{index}.bind", "message": "page and context name the defaults."})
        if step.get("bind") and not spec.binds:
            problems.append(
                {"path": f"steps.{index}.bind", "message": f"{spec.name} creates nothing to bind."}
            )
        if spec.long_running and index != len(steps) - 1:
            problems.append(
                {
                    "path": f"steps.{index}",
                    "message": f"{spec.name} is long-running (it starts an operation): make it the last step.",
                }
            )
        options = step.get("options") or {}
        budget_ms = settings.MAX_EXECUTE_SECONDS * 1000
        if budget_ms and (options.get("timeoutMs") or 0) > budget_ms:
            problems.append(
                {
                    "path": f"steps.{index}.options.timeoutMs",
                    "message": f"At most {budget_ms} (a whole execute may take ENGINE_MAX_EXECUTE_SECONDS).",
                }
            )
        planned.append(
            PlannedStep(
                index=index,
                spec=spec,
                args=list(step.get("args") or []),
                ref=step.get("ref"),
                bind=step.get("bind"),
                timeout_ms=options.get("timeoutMs") or spec.default_timeout_ms or DEFAULT_TIMEOUT_MS,
                dry_run=bool(options.get("dryRun")),
                capture_logs=options.get("logs") == "capture",
                labels={k: options[k] for k in ("scriptId", "scriptName") if options.get(k)},
            )
        )
    return planned, problems


async def prepare(runtime: Runtime, steps: list[PlannedStep]) -> None:
    """Run each call's `prepare` (see the registry) before any step runs.

    A refusal (ApiError) refuses the whole request; its field paths are made relative to the
    request body, like the problems `plan` finds.
    """
    for planned in steps:
        if planned.spec.prepare is None:
            continue
        try:
            planned.prepared = await planned.spec.prepare(runtime, *planned.args)
        except ApiError as exc:
            fields = (exc.details or {}).get("fields")
            if isinstance(fields, list):
                exc.details = {
                    **(exc.details or {}),
                    "fields": [{**f, "path": f"steps.{planned.index}.{f['path']}"} for f in fields],
                }
            raise


# Calls whose last run may set off a download a moment after they return (a link clicked): the
# run waits this long for it before it answers, so the step's result can name it.
DOWNLOAD_CAUSES = frozenset({"page.click", "page.dblclick", "page.press"})
DOWNLOAD_SETTLE_SECONDS = 0.3


@contextlib.contextmanager
def _downloads_by_step(session: RuntimeSession) -> Iterator[list[list[dict[str, Any]]]]:
    """One list per step started (the caller appends one as each step starts) of the downloads
    that began from its start until the next step's: a click returns before its download starts,
    so a download belongs to the step that ran last when it began."""
    buckets: list[list[dict[str, Any]]] = []

    def on_event(event_type: str, data: dict[str, Any]) -> None:
        if event_type == "download.started" and buckets:
            buckets[-1].append({"url": data.get("url"), "suggestedFilename": data.get("suggestedFilename")})

    session.listeners.append(on_event)
    try:
        yield buckets
    finally:
        session.listeners.remove(on_event)


async def run(
    session: RuntimeSession,
    workspace: Workspace,
    runtime: Runtime,
    steps: list[PlannedStep],
    operation_id: UUID | None = None,
    admin: bool = False,
) -> dict[str, Any]:
    """Run `steps`; `admin`: the request's key is an admin's (raw-read rights, see the registry)."""
    results: list[dict[str, Any]] = []
    started_operations: list[Any] = []  # the operation a long-running last step started
    namespace = storage_namespace(runtime.mounts, runtime.workspace_id)
    # One request's steps share ENGINE_MAX_EXECUTE_SECONDS (counted from when they may start).
    budget = settings.MAX_EXECUTE_SECONDS or math.inf
    with session.in_use(), _downloads_by_step(session) as downloads:
        async with session.execute_lock:
            deadline = time.monotonic() + budget
            for planned in steps:
                downloads.append([])
                left_ms = (deadline - time.monotonic()) * 1000
                result = await _run_one(
                    session,
                    workspace,
                    runtime,
                    namespace,
                    planned,
                    operation_id,
                    started_operations,
                    left_ms,
                    admin,
                )
                results.append(result)
                if not result["ok"]:
                    break
            if results and results[-1]["ok"] and results[-1]["call"] in DOWNLOAD_CAUSES:
                # a download starts a moment after the click that set it off
                await asyncio.sleep(DOWNLOAD_SETTLE_SECONDS)
    for result, started in zip(results, downloads, strict=False):
        if started:
            result["downloads"] = started
    failed = any(not r["ok"] for r in results)
    return {
        "mode": "fail-fast",
        "status": "failed" if failed else "succeeded",
        "steps": results,
        "operation": started_operations[0] if started_operations else None,
    }


async def _run_one(
    session: RuntimeSession,
    workspace: Workspace,
    runtime: Runtime,
    namespace: str,
    planned: PlannedStep,
    operation_id: UUID | None,
    started_operations: list[Any],
    left_ms: float = math.inf,
    admin: bool = False,
) -> dict[str, Any]:
    spec = planned.spec
    started = time.perf_counter()
    timeout_ms = planned.timeout_ms if left_ms == math.inf else min(planned.timeout_ms, int(left_ms))
    out: dict[str, Any] = {
        "index": planned.index,
        "call": spec.name,
        "ok": True,
        "result": None,
        "error": None,
    }
    logs: list[dict[str, Any]] | None = [] if planned.capture_logs else None
    emitted = False
    try:
        _check_budget(spec, timeout_ms)
        target, target_id = resolve_ref(session, planned.ref, spec.ref)
        if planned.dry_run:
            out["durationMs"] = 0
            out["dryRun"] = True
            return out
        ctx = StepContext(
            session=session,
            runtime=runtime,
            workspace=workspace,
            mounts=runtime.mounts,
            storage_namespace=namespace,
            operation_id=operation_id,
            timeout_ms=timeout_ms,
            target=target,
            target_id=target_id,
            logs=logs,
            prepared=planned.prepared,
            admin=admin,
        )
        session.emit("step.started", _started_event(session, planned, target_id), operation_id)
        emitted = True
        value = await _collecting(session, ctx, planned, started_operations)
        out.update(_result(session, planned, ctx, value))
    except Exception as exc:
        _fail(out, *_failure(planned, timeout_ms, exc))
    if out["error"]:
        out["error"]["message"] = session.seal.redact(out["error"]["message"])
    out["durationMs"] = round((time.perf_counter() - started) * 1000)
    if logs is not None:
        out["logs"] = logs
    if emitted:
        session.emit("step.finished", _finished_event(planned, out), operation_id)
    session.touch()
    return out


def _check_budget(spec: CallSpec, timeout_ms: float) -> None:
    if timeout_ms <= 0:
        raise StepError(
            "step.timeout",
            f"The execute used up its time budget (ENGINE_MAX_EXECUTE_SECONDS={settings.MAX_EXECUTE_SECONDS}) "
            f"before {spec.name} could run.",
        )


async def _collecting(
    session: RuntimeSession, ctx: StepContext, planned: PlannedStep, started_operations: list[Any]
) -> Any:
    """The call, with the page's console logs collected (when asked) and the operation it started kept."""
    if ctx.logs is not None:
        session.log_collectors.append(ctx.logs)
    try:
        return await _call(planned.spec, ctx, planned.args, ctx.timeout_ms / 1000 + BACKSTOP_GRACE_SECONDS)
    finally:
        if ctx.logs is not None:
            session.log_collectors.remove(ctx.logs)
        if ctx.operation is not None:
            started_operations.append(ctx.operation)


def _started_event(session: RuntimeSession, planned: PlannedStep, target_id: str | None) -> dict[str, Any]:
    event = {"call": planned.spec.name, "index": planned.index, "contextId": session.context_id}
    event.update(planned.labels)
    if planned.spec.ref == "page" and target_id:
        event["pageId"] = target_id
    return event


def _finished_event(planned: PlannedStep, out: dict[str, Any]) -> dict[str, Any]:
    finished = {
        "call": planned.spec.name,
        "index": planned.index,
        "ok": out["ok"],
        "durationMs": out["durationMs"],
    }
    finished.update(planned.labels)
    if out["error"]:
        finished["error"] = out["error"]
    return finished


def _result(session: RuntimeSession, planned: PlannedStep, ctx: StepContext, value: Any) -> dict[str, Any]:
    """A step's result as the execute answers it: a page it bound, or its value as JSON (redacted
    unless the call reads raw)."""
    if planned.spec.binds:
        page: Page = value
        bound = session.bind(planned.bind or session.page_id(page), page)
        return {
            "result": {"pageId": bound.id},
            "binding": {"alias": bound.alias, "id": bound.id, "type": bound.type},
        }
    value = jsonable(value)
    return {"result": value if ctx.raw_reads else session.seal.redact(value)}


def _failure(planned: PlannedStep, timeout_ms: float, exc: Exception) -> tuple[str, str]:
    """The error code and message a step failed with."""
    if isinstance(
        exc, (StepError, ApiError)
    ):  # ApiError: from shared helpers (storage limits, vault mounts...)
        return exc.code, exc.message
    if isinstance(exc, (PlaywrightTimeoutError, TimeoutError)):
        return "step.timeout", _timeout_message(planned, timeout_ms)
    if isinstance(exc, PlaywrightError):
        return "step.failed", _playwright_message(exc)
    logger.exception("Call %s failed unexpectedly", planned.spec.name)
    return "step.failed", f"{planned.spec.name} failed: {type(exc).__name__}."


async def _call(spec: CallSpec, ctx: StepContext, args: list[Any], timeout: float) -> Any:
    """The call, under the vault's use-without-read rules for what it does with page data."""
    seal = ctx.session.seal
    if spec.page_data in ("reads", "script") and not ctx.raw_reads:
        reason = await seal.sealed()
        if reason is not None:
            raise StepError(
                "vault.sealed",
                f"{spec.name} is refused: {reason}, and that document is still shown. Until it is "
                "replaced (a navigation: page.goto, a link, the form's submit; or closing the page), calls "
                "that read page data need raw-read rights (an admin key, or allowRawReads in the vault mount).",
            )
    if spec.page_data == "script":
        async with seal.scripting(ctx.page, f"{spec.name} ran the caller's script in page {ctx.page_id}"):
            return await asyncio.wait_for(spec.fn(ctx, *args), timeout)
    return await asyncio.wait_for(spec.fn(ctx, *args), timeout)


def resolve_ref(
    session: RuntimeSession, ref: str | None, needs: str | None
) -> tuple[Page | BrowserContext | None, str | None]:
    """The live object a step's `ref` names (a binding alias or an id); default: the default page.

    `needs` is the call's declared `ref` ("page", "context" or None for calls that act on
    neither); a missing or closed target is the step's failure (`step.invalid_ref`).
    """
    if ref is None:
        if needs == "context":
            return session.context, session.context_id
        page = session.pages.get(session.default_page_id or "")
        if page is None or page.is_closed():
            if needs is None:
                return None, None
            raise StepError(
                "step.invalid_ref",
                "The runtime's default page is closed; pass `ref` naming another page "
                "(see the runtime's bindings) or open one with context.newPage.",
            )
        return page, session.default_page_id
    bound = session.bindings.get(ref)
    target_id = bound.id if bound else ref
    if target_id == session.context_id:
        return session.context, session.context_id
    page = session.pages.get(target_id)
    if page is None or page.is_closed():
        raise StepError(
            "step.invalid_ref",
            f"`ref` {ref!r} names no open page or context of this runtime; see its bindings.",
        )
    if needs == "context":
        return page.context, session.context_id
    return page, target_id


def _fail(out: dict[str, Any], code: str, message: str) -> None:
    out["ok"] = False
    out["error"] = {"code": code, "message": message}


def _timeout_message(planned: PlannedStep, timeout_ms: float) -> str:
    """Which call ran out of time, after how long, and what it waited for (its selector or URL)."""
    capped = " (what was left of ENGINE_MAX_EXECUTE_SECONDS)" if timeout_ms < planned.timeout_ms else ""
    message = f"{planned.spec.name} did not finish within {timeout_ms:g} ms{capped}"
    for arg, value in zip(planned.spec.args, planned.args, strict=False):
        if arg.name in ("selector", "url", "pattern") and isinstance(value, str):
            return f"{message} (waiting for {arg.name} {value[:200]!r})."
    return message + "."


def _playwright_message(exc: PlaywrightError) -> str:
    # Playwright appends a multi-line call log; the first line is the sentence a caller needs.
    message = (exc.message or str(exc)).strip()
    return message.splitlines()[0][:500] if message else "The browser call failed."


def jsonable(value: Any) -> Any:
    """A result as JSON can carry it: NaN/Infinity → null, anything else unknown → its str."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return str(value)
