"""The agent calls of the execute catalogue (registered in engine.steps.registry).

- `stagehand.act`, `stagehand.extract`, `stagehand.observe`: one model request each (extract may
  retry once), run inside the execute request like any step, on the step's page.
- `stagehand.agent.execute`, `browserUse.agent.execute`: long-running; each starts an operation
  whose loop (engine/agents/loop.py) runs as a task of the engine process, and returns at once.

Why our own loop rather than the browser-use or Stagehand Python packages: both drive Chromium
over a CDP websocket URL (browser-use launches its own browser or connects to a debugging port;
Stagehand's Python SDK runs a bundled Node server binary that does the same), while our
runtimes' Chromium is launched by Playwright over a pipe with no debugging port, and opening one
would give every local process an unauthenticated control channel into the browser. The loop
here keeps their observable behaviour (observe → decide → act until done) on our own session.

Model failures are step errors with the contract's codes (`agent.provider_error`,
`agent.timeout`, `agent.invalid_output`); auth and mount refusals happen in `prepare`, before
any step of the request runs.
"""

import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from engine.agents import loop, prompts, runner, snapshot
from engine.agents.actions import (
    ACTION_TIMEOUT_MS,
    FILL_SECRET,
    PAGE_TOOLS,
    Actor,
    element_of,
    one_call,
)
from engine.agents.config import AgentConfig, AgentSetup, prepare, public_args
from engine.ai.chat import ChatRequest, ModelError, Tool
from engine.errors import ApiError
from engine.models import Runtime
from engine.runtimes import operations
from engine.steps.registry import Arg, StepContext, StepError, StepFunction, step

# A model request can take a while; a step that makes one gets more than the 30 s default.
AGENT_STEP_TIMEOUT_MS = 120_000
DEFAULT_EXTRACT_SCHEMA = {
    "type": "object",
    "properties": {"extraction": {"type": "string"}},
    "required": ["extraction"],
}
OBSERVE_METHODS = ["click", "fill", "type", "press", "select"]
OPTIONS_ARG = Arg(
    "options",
    "object",
    required=False,
    description="{auth?, provider?, model?, mounts?, requestTimeoutMs?, maxRetries?}",
)
CONFIG_ARG = Arg(
    "config",
    "object",
    required=False,
    description="{auth?, provider?, model?, mounts?, maxSteps? (20), timeoutMs? (600000), requestTimeoutMs?, maxRetries?}",
)

AGENT_RESULT = "{operationId} (and the execute result's `operation`)"
ModelCall = Callable[..., Awaitable[Any]]


def _agent_step(name: str, **options: Any) -> Callable[[StepFunction], StepFunction]:
    """Register an agent call: its page snapshots show filled fields as "filled", never their
    values; one that makes its model requests inside the execute request gets AGENT_STEP_TIMEOUT_MS."""
    if not options.get("long_running"):
        options["default_timeout_ms"] = AGENT_STEP_TIMEOUT_MS
    return step(name, page_data="masked", **options)


def _model_errors_as_step_errors(fn: ModelCall) -> ModelCall:
    @functools.wraps(fn)
    async def wrapped(*args: Any) -> Any:
        try:
            return await fn(*args)
        except ModelError as exc:
            raise StepError(exc.code, exc.message) from None

    return wrapped


def _setup(ctx: StepContext) -> AgentSetup:
    assert isinstance(ctx.prepared, AgentSetup), "prepare did not run"
    return ctx.prepared


def _page_tools(setup: AgentSetup) -> tuple[Tool, ...]:
    return (*PAGE_TOOLS, FILL_SECRET) if setup.vault_keys else PAGE_TOOLS


# ---- act / observe / extract ----------------------------------------------------------------


async def _prepare_options(runtime: Runtime, instruction: str, options: Any = None) -> AgentSetup:
    return await prepare(runtime, options, 1)


@_agent_step(
    "stagehand.act",
    args=[Arg("instruction", "string", description="What to do, in words."), OPTIONS_ARG],
    result="{success, action: {method, element, selector, args}, description, usage}",
    prepare=_prepare_options,
    description="One model-chosen action on the page (click, fill, type, press, select, scroll, navigate).",
)
@_model_errors_as_step_errors
async def act(ctx: StepContext, instruction: str, options: Any = None) -> dict[str, Any]:
    setup = _setup(ctx)
    page = ctx.page
    tools = _page_tools(setup)
    seen = await snapshot.take(page, ctx.session.seal.redact)
    async with setup.client() as client:
        response = await client.complete(
            ChatRequest(prompts.ACT_SYSTEM, prompts.single(instruction, seen, setup.vault_keys), tools)
        )
    call = one_call(response, tools)
    outcome = await Actor(replace(ctx, mounts=setup.mounts, timeout_ms=ACTION_TIMEOUT_MS)).perform(
        page, call, seen
    )
    description = outcome.description if outcome.ok else f"{outcome.description}: {outcome.error}"
    return {
        "success": outcome.ok,
        "action": outcome.action,
        "description": description,
        "usage": response.usage.as_json(),
    }


OBSERVE_TOOL = Tool(
    "report_candidates",
    "Report the actions on the page that match the instruction, best first.",
    {
        "type": "object",
        "properties": {
            "candidates": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "element": {"type": "string", "description": "An element id, like e7."},
                        "description": {"type": "string"},
                        "method": {"type": "string", "enum": OBSERVE_METHODS},
                        "args": {"type": "array", "items": {"type": "string"}},
                    },
                    "required": ["element", "description", "method"],
                },
            }
        },
        "required": ["candidates"],
    },
)


@_agent_step(
    "stagehand.observe",
    args=[Arg("instruction", "string", description="What to look for, in words."), OPTIONS_ARG],
    result="[{selector, description, method, args}]",
    prepare=_prepare_options,
    description="Candidate actions matching an instruction, without acting.",
)
@_model_errors_as_step_errors
async def observe(ctx: StepContext, instruction: str, options: Any = None) -> list[dict[str, Any]]:
    setup = _setup(ctx)
    seen = await snapshot.take(ctx.page, ctx.session.seal.redact)
    tools = (OBSERVE_TOOL,)
    async with setup.client() as client:
        response = await client.complete(
            ChatRequest(prompts.OBSERVE_SYSTEM, prompts.single(instruction, seen), tools)
        )
    call = one_call(response, tools)
    candidates = []
    for index, candidate in enumerate(call.arguments["candidates"]):
        if not isinstance(candidate, dict) or candidate.get("method") not in OBSERVE_METHODS:
            raise ModelError(
                "agent.invalid_output",
                f"The model's candidate {index} is not {{element, description, method}}.",
            )
        element = element_of(candidate.get("element"), seen)
        candidates.append(
            {
                "selector": element["selector"],
                "description": str(candidate.get("description", ""))[:500],
                "method": candidate["method"],
                "args": [str(a) for a in candidate.get("args") or []],
            }
        )
    return candidates


async def _prepare_extract(
    runtime: Runtime, instruction: str, schema: Any = None, options: Any = None
) -> AgentSetup:
    if schema is not None:
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ApiError(
                400,
                "request.invalid",
                f"The extract schema is not a JSON Schema: {exc.message[:300]}",
                {"fields": [{"path": "args.1", "message": exc.message[:300]}]},
            ) from None
    return await prepare(runtime, options, 2)


@_agent_step(
    "stagehand.extract",
    args=[
        Arg("instruction", "string", description="What to extract, in words."),
        Arg("schema", "object", required=False, description="A JSON Schema the result must match."),
        OPTIONS_ARG,
    ],
    result="the data, matching `schema` (default {extraction: string})",
    prepare=_prepare_extract,
    description="Structured data from the page, validated against a JSON Schema (one retry).",
)
@_model_errors_as_step_errors
async def extract(ctx: StepContext, instruction: str, schema: Any = None, options: Any = None) -> Any:
    setup = _setup(ctx)
    wanted = schema or DEFAULT_EXTRACT_SCHEMA
    validator = jsonschema.validators.validator_for(wanted)(wanted)
    tool = Tool(
        "extract",
        "Return the requested data as `data`.",
        {"type": "object", "properties": {"data": wanted}, "required": ["data"]},
    )
    seen = await snapshot.take(ctx.page, ctx.session.seal.redact)
    async with setup.client() as client:
        note = ""
        problem = ""
        for _attempt in range(2):
            response = await client.complete(
                ChatRequest(prompts.EXTRACT_SYSTEM, prompts.single(instruction, seen, note=note), (tool,))
            )
            if len(response.tool_calls) != 1 or response.tool_calls[0].name != tool.name:
                data: Any = None
                problem = "the answer was not one extract call"
            else:
                data = response.tool_calls[0].arguments.get("data")
                error = best_match(validator.iter_errors(data))
                if error is None and "data" in response.tool_calls[0].arguments:
                    return data
                where = "/".join(str(p) for p in error.absolute_path) if error is not None else ""
                problem = f"{where or 'data'}: {error.message if error is not None else 'missing'}"[:300]
            note = (
                f"Your previous answer did not match the requested schema ({problem}). Previous answer:"
                f" {json.dumps(data)[:2000]}. Answer again, matching the schema exactly."
            )
    raise StepError("agent.invalid_output", f"The model's answer did not match the schema twice ({problem}).")


# ---- the long-running agents ----------------------------------------------------------------


async def _prepare_agent(runtime: Runtime, task: str, config: Any = None) -> AgentSetup:
    return await prepare(runtime, config, 1, AgentConfig)


async def _start(ctx: StepContext, call: str, task: str, config: Any) -> dict[str, Any]:
    setup = _setup(ctx)
    assert isinstance(setup.options, AgentConfig)
    args = [task] if config is None else [task, config]
    operation = await operations.create(
        ctx.workspace.id,
        call,
        public_args(args, 1),
        runtime_alias=ctx.runtime.alias,
        runtime_id=ctx.runtime.id,
        total_steps=setup.options.maxSteps,
    )
    agent_ctx = replace(
        ctx, mounts=setup.mounts, operation_id=operation.id, timeout_ms=ACTION_TIMEOUT_MS, logs=None
    )
    steps = None
    if call == "browserUse.agent.execute":
        from engine.agents import browser_use_agent  # heavy (browser-use and its model SDKs): on first use

        steps = browser_use_agent.steps
    runner.start(
        operation.id, loop.run(loop.AgentRun(operation, agent_ctx, setup, task), steps), operation.runtime_id
    )
    ctx.operation = operation
    return {"operationId": str(operation.id)}


@_agent_step(
    "stagehand.agent.execute",
    args=[Arg("instruction", "string", description="The task, in words."), CONFIG_ARG],
    result=AGENT_RESULT,
    prepare=_prepare_agent,
    long_running=True,
    description="A multi-step agent run (observe → decide → act until done) as an operation.",
)
async def stagehand_agent(ctx: StepContext, instruction: str, config: Any = None) -> dict[str, Any]:
    return await _start(ctx, "stagehand.agent.execute", instruction, config)


@_agent_step(
    "browserUse.agent.execute",
    args=[Arg("task", "string", description="The task, in words."), CONFIG_ARG],
    result=AGENT_RESULT,
    prepare=_prepare_agent,
    long_running=True,
    description="browser-use's own Agent (the PyPI package) driving the runtime through the CDP gateway, as an operation.",
)
async def browser_use_agent(ctx: StepContext, task: str, config: Any = None) -> dict[str, Any]:
    return await _start(ctx, "browserUse.agent.execute", task, config)
