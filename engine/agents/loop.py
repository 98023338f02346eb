"""The agent loop behind `stagehand.agent.execute` and `browserUse.agent.execute`.

Each step: snapshot the page → one model request (the task, the steps so far, the page) → the
tool the model chose is carried out → trace row, `agent.step` runtime event, `operation.progress`
update. The loop ends when the model calls `done`, after `maxSteps`, at the run's `timeoutMs`,
on a model failure, or when the operation is cancelled.

Ends, and what the operation says:
- `done` → succeeded (result.success is the model's verdict);
- maxSteps without `done` → failed `agent.max_steps`;
- timeoutMs → timed_out `agent.timeout`;
- provider failure → failed `agent.provider_error` / `agent.timeout`; a malformed tool call →
  failed `agent.invalid_output`;
- the runtime or its page gone → failed `runtime.not_active` / `step.invalid_ref`;
- cancel → cancelled (within a second: cancelling the task interrupts the model request or the
  browser call in flight); engine shutdown → failed `server.shutdown`.
Every end keeps the actions taken and the token usage in `result`.

The runtime stays usable throughout: the loop takes the runtime's execute lock only around a
snapshot and an action (never while waiting for the model), so other executes interleave
between agent steps, and it counts as busy so the idle reaper leaves the runtime alone.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError
from playwright.async_api import Page

from engine.agents import prompts, snapshot
from engine.agents.actions import DONE, FILL_SECRET, PAGE_TOOLS, Actor, one_call
from engine.agents.config import AgentConfig, AgentSetup
from engine.agents.trace import Tracer
from engine.ai.chat import ChatRequest, ModelClient, ModelError, Usage
from engine.models import Operation
from engine.runtimes import operations
from engine.runtimes.session import RuntimeSession
from engine.steps.executor import resolve_ref
from engine.steps.registry import StepContext, StepError

logger = logging.getLogger("engine.agents")


@dataclass
class AgentRun:
    operation: Operation
    ctx: StepContext  # where it runs: session, runtime, effective mounts, the page ref
    setup: AgentSetup
    task: str
    actions: list[dict[str, Any]] = field(default_factory=list)
    history: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    answer: str | None = None

    @property
    def config(self) -> AgentConfig:
        assert isinstance(self.setup.options, AgentConfig)
        return self.setup.options

    def result(self, success: bool, completed: bool) -> dict[str, Any]:
        return {
            "success": success,
            "completed": completed,
            "answer": self.answer,
            "actions": self.actions,
            "usage": self.usage.as_json(),
            **self.setup.auth.describe(),
        }


Steps = Callable[[AgentRun], Awaitable[bool]]


async def run(agent: AgentRun, steps: "Steps | None" = None) -> None:
    """Run `steps` (the engine's own loop unless given: browser-use's is another) to an end the
    operation records; `steps` answers whether the agent called done (False: maxSteps passed)."""
    # In use for the whole run: the idle reaper never stops a runtime an agent is driving.
    with agent.ctx.session.in_use():
        await _run(agent, steps or _steps)


async def _run(agent: AgentRun, steps: Steps) -> None:
    operation = agent.operation
    try:
        await operations.start(operation)
        async with asyncio.timeout(agent.config.timeoutMs / 1000):
            completed = await steps(agent)
        if completed:
            success = bool(agent.actions and agent.actions[-1].get("success", True))
            await operations.finish(operation, Operation.Status.SUCCEEDED, agent.result(success, True))
        else:
            await _fail(
                agent,
                "agent.max_steps",
                f"The agent used its {agent.config.maxSteps} steps without finishing; raise config.maxSteps"
                " or make the task smaller.",
            )
    except TimeoutError:
        await operations.finish(
            operation,
            Operation.Status.TIMED_OUT,
            agent.result(False, False),
            {
                "code": "agent.timeout",
                "message": f"The agent did not finish within {agent.config.timeoutMs} ms.",
            },
        )
    except ModelError as exc:
        await _fail(agent, exc.code, exc.message)
    except StepError as exc:
        await _fail(agent, exc.code, exc.message)
    except asyncio.CancelledError:
        interruption = operations.interruption(operation.id)
        if interruption is not None:  # the engine's reason: it is stopping, or the runtime ended
            await _fail(agent, *interruption)
        else:
            await operations.finish(
                operation,
                Operation.Status.CANCELLED,
                agent.result(False, False),
                {"code": "operation.cancelled", "message": "Cancelled on request."},
            )
    except Exception:
        if not await Operation.objects.filter(id=operation.id).aexists():
            # Deleted with its workspace while it ran: there is nothing left to report to.
            logger.info("Agent operation %s was deleted while it ran", operation.id)
            return
        logger.exception("Agent operation %s failed unexpectedly", operation.id)
        await _fail(agent, "server.error", "The agent failed unexpectedly; the engine log has the details.")


async def _fail(agent: AgentRun, code: str, message: str) -> None:
    try:
        await operations.finish(
            agent.operation,
            Operation.Status.FAILED,
            agent.result(False, False),
            {"code": code, "message": message},
        )
    except DatabaseError:
        # The row went with its workspace (a force delete stops the runtime, then deletes).
        if await Operation.objects.filter(id=agent.operation.id).aexists():
            raise
        logger.info("Agent operation %s was deleted while it ran", agent.operation.id)


async def _steps(agent: AgentRun) -> bool:
    """Run steps until the model calls done (True) or maxSteps pass (False)."""
    async with agent.setup.client() as client:
        return await _run_steps(agent, client)


async def _run_steps(agent: AgentRun, client: ModelClient) -> bool:
    ctx, setup, config = agent.ctx, agent.setup, agent.config
    tracer = Tracer(agent.operation.id, setup.auth)
    actor = Actor(ctx)
    tools = (*PAGE_TOOLS, *((FILL_SECRET,) if setup.vault_keys else ()), DONE)
    system = prompts.AGENT_SYSTEM
    for step in range(1, config.maxSteps + 1):
        page = _page(ctx)
        async with ctx.session.execute_lock:
            seen = await snapshot.take(page, ctx.session.seal.redact)
        request = ChatRequest(
            system=system,
            prompt=prompts.agent_step(
                agent.task, agent.history, seen, step, config.maxSteps, setup.vault_keys
            ),
            tools=tools,
        )
        started = time.perf_counter()
        response = None
        try:
            response = await client.complete(request)
            agent.usage.add(response.usage)
            call = one_call(response, tools)
        except ModelError as exc:
            await tracer.record(
                step,
                request,
                response,
                _ms(started),
                error={"code": exc.code, "message": exc.message},
            )
            raise
        model_ms = _ms(started)
        if call.name == DONE.name:
            agent.answer = str(call.arguments.get("answer", ""))[:10_000]
            agent.actions.append(
                {"step": step, "method": "done", "success": bool(call.arguments["success"]), "ok": True}
            )
            await tracer.record(
                step, request, response, model_ms, outcome={"ok": True, "action": {"method": "done"}}
            )
            await report_progress(agent, step, "done", f"done: {agent.answer[:200]}")
            return True
        async with ctx.session.execute_lock:
            outcome = await actor.perform(_page(ctx), call, seen)
        ctx.session.touch()
        agent.actions.append({"step": step, **outcome.as_json()})
        agent.history.append(
            f"{outcome.description} → " + ("ok" if outcome.ok else f"failed: {outcome.error}")
        )
        await tracer.record(step, request, response, model_ms, outcome=outcome.as_json())
        await report_progress(
            agent, step, call.name, outcome.description + ("" if outcome.ok else " (failed)")
        )
    return False


async def report_progress(agent: AgentRun, step: int, tool: str, message: str) -> None:
    # The runtime event first: a progress update is what `wait`-ers and the stream see, and by
    # then the event it names is already listed.
    agent.ctx.emit(
        "agent.step",
        {"operationId": str(agent.operation.id), "step": step, "action": tool, "message": message[:500]},
    )
    await operations.progress(
        agent.operation, step=step, currentCall=tool, lastEventType="agent.step", message=message[:500]
    )


def _page(ctx: StepContext) -> Page:
    session: RuntimeSession = ctx.session
    if session.closing or session.context is None:
        raise StepError("runtime.not_active", "The runtime stopped while the agent ran.")
    target, _ = resolve_ref(session, ctx.target_id, "page")
    assert isinstance(target, Page)
    return target


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
