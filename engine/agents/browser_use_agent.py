"""`browserUse.agent.execute` runs browser-use's own `Agent` (PyPI `browser-use`) on the runtime.

browser-use drives Chromium through a CDP URL. It gets a single-use loopback URL to the runtime's
CDP multiplexer with the gateway's rules (engine/gateway/clients.py), so it is judged like any
CDP client without raw vault reads: no file access, no proxy change, sealed documents unreadable.
The model is the one the call chose (platform / saved / inline, engine/ai/auth.py) through
browser-use's own client for the provider (its wire format: OpenAI structured output, Anthropic
tools, Gemini response schemas), over an httpx client of the engine's.

What is switched off: telemetry, cloud sync and the PyPI version check (environment, set before
browser-use is imported), its logging set-up, its signal handler (the engine owns SIGINT/SIGTERM),
the judge (an extra model call per run), cost lookups (a price list from the internet), and its
file tools (`write_file`, `read_file`, `replace_file`, `upload_file`, `save_as_pdf`: they touch
the engine's disk). It writes its scratch files under the runtime's scratch dir.

Each step of browser-use's becomes an `agent.step` runtime event, an `operation.progress`
update and a trace row; the run's limits, cancel and ends are the engine's loop's
(engine/agents/loop.py `run`), so the operation ends the same ways.
"""

import os
import time
from typing import Any

from django.conf import settings

from engine import paths

os.environ.update(
    {
        "ANONYMIZED_TELEMETRY": "false",
        "BROWSER_USE_CLOUD_SYNC": "false",
        "BROWSER_USE_VERSION_CHECK": "false",
        "BROWSER_USE_SETUP_LOGGING": "false",
        "BROWSER_USE_CONFIG_DIR": str(paths.var_dir() / "browser-use"),
    }
)

from browser_use import Agent, BrowserSession, Tools  # (after its environment, above)
from browser_use.agent.views import AgentHistoryList, AgentOutput
from browser_use.browser.views import BrowserStateSummary
from browser_use.llm.anthropic.chat import ChatAnthropic
from browser_use.llm.base import BaseChatModel
from browser_use.llm.google.chat import ChatGoogle
from browser_use.llm.openai.chat import ChatOpenAI

from engine.agents.config import AgentSetup
from engine.agents.loop import AgentRun, report_progress
from engine.gateway import clients
from engine.models import OperationTraceEntry

FILE_TOOLS = ["write_file", "read_file", "replace_file", "upload_file", "save_as_pdf"]
MAX_TEXT = 4000


def model_for(setup: AgentSetup) -> BaseChatModel:
    """browser-use's own client for the provider the call chose, with its key, URL and limits."""
    auth, options = setup.auth, setup.options
    timeout = options.requestTimeoutMs / 1000 if options.requestTimeoutMs else settings.AI_TIMEOUT_SECONDS
    retries = options.maxRetries if options.maxRetries is not None else settings.AI_MAX_RETRIES
    if auth.provider == "anthropic":
        return ChatAnthropic(
            model=auth.model,
            api_key=auth.api_key,
            base_url=auth.base_url,
            timeout=timeout,
            max_retries=retries,
        )
    if auth.provider == "google":
        return ChatGoogle(
            model=auth.model,
            api_key=auth.api_key,
            http_options={"base_url": auth.base_url, "timeout": int(timeout * 1000)},
            max_retries=retries,
        )
    return ChatOpenAI(
        model=auth.model, api_key=auth.api_key, base_url=auth.base_url, timeout=timeout, max_retries=retries
    )


async def steps(agent: AgentRun) -> bool:
    """Run browser-use's Agent to its end: True when it called `done`, False at maxSteps."""
    session = agent.ctx.session
    url = await clients.offer(session, {"agent": "browser-use", "operationId": str(agent.operation.id)})
    browser = BrowserSession(cdp_url=url, keep_alive=True)
    scratch = paths.runtime_scratch_dir(session.runtime_id) / "browser-use"
    trace = _Trace(agent)
    runner: Agent[Any, Any] = Agent(
        task=agent.task,
        llm=model_for(agent.setup),
        browser_session=browser,
        tools=Tools(exclude_actions=FILE_TOOLS),
        use_vision=not _withheld(agent),
        use_judge=False,
        enable_signal_handler=False,
        calculate_cost=False,
        file_system_path=str(scratch),
        register_new_step_callback=trace.step,
    )
    trace.runner = runner
    try:
        history: AgentHistoryList = await runner.run(max_steps=agent.config.maxSteps)
    finally:
        await browser.stop()
    _usage(agent, history)
    agent.answer = (history.final_result() or "")[:10_000]
    if history.is_done():
        agent.actions.append(
            {
                "step": len(history.history),
                "method": "done",
                "success": bool(history.is_successful()),
                "ok": True,
            }
        )
        return True
    return False


def _withheld(agent: AgentRun) -> bool:
    """A vault secret was typed into the runtime and the caller may not read raw: the model gets
    no screenshots from then on. A page may show what was typed (a login's answer page echoes it),
    and a picture is beyond the replacement of filled values that the text browser-use reads
    through the gateway gets (engine/cdp/rules.py); the model may be one the caller chose
    (`baseUrl`)."""
    return agent.ctx.session.seal.withholds(agent.ctx.raw_reads)


class _Trace:
    """browser-use's step callback: an agent.step event, operation.progress, and a trace row; and
    vision off for the steps after a vault fill (`_withheld`)."""

    def __init__(self, agent: AgentRun) -> None:
        self.agent = agent
        self.started = time.perf_counter()
        self.runner: Agent[Any, Any] | None = None

    async def step(self, state: BrowserStateSummary, output: AgentOutput, number: int) -> None:
        if self.runner is not None and _withheld(self.agent):
            self.runner.settings.use_vision = False
        actions = [a.model_dump(exclude_unset=True) for a in output.action]
        names = [next(iter(a), "?") for a in actions]
        description = "; ".join(
            f"{name} {_args(a.get(name))}" for name, a in zip(names, actions, strict=True)
        )
        self.agent.actions.append(
            {"step": number, "method": ",".join(names), "description": description[:500]}
        )
        await OperationTraceEntry.objects.acreate(
            operation_id=self.agent.operation.id,
            sequence=number,
            step=number,
            provider=self.agent.setup.auth.provider,
            model=self.agent.setup.auth.model,
            system="browser-use's agent system prompt",
            prompt=f"{self.agent.task}\n\nPage: {state.url} ({state.title})"[:MAX_TEXT],
            tools=names,
            response={
                "toolCalls": [
                    {"name": n, "arguments": a.get(n)} for n, a in zip(names, actions, strict=True)
                ],
                "text": (output.next_goal or output.thinking or "")[:MAX_TEXT],
                "attempts": 1,
            },
            outcome={"ok": True, "action": {"method": ",".join(names)}},
            error=None,
            usage={},
            duration_ms=round((time.perf_counter() - self.started) * 1000),
        )
        self.started = time.perf_counter()
        await report_progress(self.agent, number, names[0] if names else "?", description or "thinking")


def _args(value: Any) -> str:
    return str(value)[:120] if value else ""


def _usage(agent: AgentRun, history: AgentHistoryList) -> None:
    usage = history.usage
    if usage is not None:
        agent.usage.input_tokens += usage.total_prompt_tokens
        agent.usage.output_tokens += usage.total_completion_tokens
    agent.usage.requests += len(history.history)
