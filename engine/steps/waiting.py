"""Waiting calls: for an element, a load state, a URL or plain time (all bounded by timeoutMs)."""

import asyncio
from typing import Any

from engine.steps.registry import Arg, StepContext, StepError, step

ELEMENT_STATES = ("attached", "detached", "visible", "hidden")
LOAD_STATES = ("load", "domcontentloaded", "networkidle")


@step(
    "page.waitForSelector",
    args=[Arg("selector", "string"), Arg("options", "object", required=False, description="{state?}")],
    result="boolean",
    description="Wait until the element reaches a state (default visible).",
    page_data="none",
)
async def wait_for_selector(ctx: StepContext, selector: str, options: dict[str, Any] | None = None) -> bool:
    state = (options or {}).get("state", "visible")
    if state not in ELEMENT_STATES:
        raise StepError("step.invalid_args", f"state must be one of {', '.join(ELEMENT_STATES)}.")
    await ctx.page.wait_for_selector(selector, state=state, timeout=ctx.timeout_ms)
    return True


@step(
    "page.waitForLoadState",
    args=[Arg("state", "string", required=False, description="load | domcontentloaded | networkidle")],
    description="Wait until the page reaches a load state (default load).",
    page_data="none",
)
async def wait_for_load_state(ctx: StepContext, state: str | None = None) -> None:
    state = state or "load"
    if state not in LOAD_STATES:
        raise StepError("step.invalid_args", f"state must be one of {', '.join(LOAD_STATES)}.")
    await ctx.page.wait_for_load_state(state, timeout=ctx.timeout_ms)  # type: ignore[arg-type]


@step(
    "page.waitForURL",
    args=[Arg("pattern", "string", description="A URL or a glob such as **/done.html")],
    result="string",
    description="Wait until the page's URL matches; returns it.",
    page_data="none",
)
async def wait_for_url(ctx: StepContext, pattern: str) -> str:
    await ctx.page.wait_for_url(pattern, timeout=ctx.timeout_ms)
    return ctx.page.url


@step(
    "page.waitForTimeout",
    args=[Arg("ms", "number")],
    ref=None,
    description="Wait a fixed time (milliseconds); prefer waiting for something.",
    page_data="none",
)
async def wait_for_timeout(ctx: StepContext, ms: float) -> None:
    if ms < 0:
        raise StepError("step.invalid_args", "ms must not be negative.")
    await asyncio.sleep(ms / 1000)
