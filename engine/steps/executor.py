"""Run a list of steps against one live runtime, fail-fast.

Steps of one request run in order under the runtime's execute lock, so two concurrent executes
against one runtime never interleave their steps. The hot path writes nothing to the database:
step events are buffered by the event log, bindings persist with its next batch.
"""

import asyncio
import json
import logging
import math
import time
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


async def run(
    session: RuntimeSession,
    workspace: Workspace,
    runtime: Runtime,
    steps: list[PlannedStep],
    operation_id: UUID | None = None,
) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    started_operations: list[Any] = []  # the operation a long-running last step started
    namespace = storage_namespace(runtime.mounts, runtime.workspace_id)
    # One request's steps share ENGINE_MAX_EXECUTE_SECONDS (counted from when they may start).
    budget = settings.MAX_EXECUTE_SECONDS or math.inf
    with session.in_use():
        async with session.execute_lock:
            deadline = time.monotonic() + budget
            for planned in steps:
                left_ms = (deadline - time.monotonic()) * 1000
                result = await _run_one(
                    session, workspace, runtime, namespace, planned, operation_id, started_operations, left_ms
                )
                results.append(result)
                if not result["ok"]:
                    break
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
        if timeout_ms <= 0:
            raise StepError(
                "step.timeout",
                f"The execute used up its time budget (ENGINE_MAX_EXECUTE_SECONDS={settings.MAX_EXECUTE_SECONDS}) "
                f"before {spec.name} could run.",
            )
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
        )
        event = {"call": spec.name, "index": planned.index, "contextId": session.context_id, **planned.labels}
        if spec.ref == "page" and target_id:
            event["pageId"] = target_id
        session.emit("step.started", event, operation_id)
        emitted = True
        if logs is not None:
            session.log_collectors.append(logs)
        try:
            value = await asyncio.wait_for(
                spec.fn(ctx, *planned.args), timeout_ms / 1000 + BACKSTOP_GRACE_SECONDS
            )
        finally:
            if logs is not None:
                session.log_collectors.remove(logs)
            if ctx.operation is not None:
                started_operations.append(ctx.operation)
        if spec.binds:
            page: Page = value
            bound = session.bind(planned.bind or session.page_id(page), page)
            out["result"] = {"pageId": bound.id}
            out["binding"] = {"alias": bound.alias, "id": bound.id, "type": bound.type}
        else:
            out["result"] = jsonable(value)
    except StepError as exc:
        _fail(out, exc.code, exc.message)
    except ApiError as exc:  # raised by shared helpers (storage limits, vault mounts...)
        _fail(out, exc.code, exc.message)
    except (PlaywrightTimeoutError, TimeoutError):
        _fail(out, "step.timeout", _timeout_message(planned, timeout_ms))
    except PlaywrightError as exc:
        _fail(out, "step.failed", _playwright_message(exc))
    except Exception as exc:
        logger.exception("Call %s failed unexpectedly", spec.name)
        _fail(out, "step.failed", f"{spec.name} failed: {type(exc).__name__}.")
    duration_ms = round((time.perf_counter() - started) * 1000)
    out["durationMs"] = duration_ms
    if logs is not None:
        out["logs"] = logs
    if emitted:
        finished = {"call": spec.name, "index": planned.index, "ok": out["ok"], "durationMs": duration_ms}
        finished.update(planned.labels)
        if out["error"]:
            finished["error"] = out["error"]
        session.emit("step.finished", finished, operation_id)
    session.touch()
    return out


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
