"""Navigation calls: where a page is, and opening, moving and closing pages."""

from typing import Any

from playwright.async_api import Page

from engine.steps.registry import Arg, StepContext, StepError, step

LOAD_STATES = ("load", "domcontentloaded", "networkidle", "commit")


def _wait_until(options: dict[str, Any] | None) -> Any:
    wait_until = (options or {}).get("waitUntil", "load")
    if wait_until not in LOAD_STATES:
        raise StepError("step.invalid_args", f"waitUntil must be one of {', '.join(LOAD_STATES)}.")
    return wait_until


def _navigation(response: Any, page: Page) -> dict[str, Any]:
    return {"url": page.url, "status": response.status if response is not None else None}


@step(
    "page.goto",
    args=[Arg("url", "string"), Arg("options", "object", required=False, description="{waitUntil?}")],
    result="{url, status}",
    description="Navigate the page to a URL and wait for it to load.",
)
async def goto(ctx: StepContext, url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await ctx.page.goto(url, wait_until=_wait_until(options), timeout=ctx.timeout_ms)
    return _navigation(response, ctx.page)


@step(
    "page.reload",
    args=[Arg("options", "object", required=False, description="{waitUntil?}")],
    result="{url, status}",
    description="Reload the page.",
)
async def reload(ctx: StepContext, options: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await ctx.page.reload(wait_until=_wait_until(options), timeout=ctx.timeout_ms)
    return _navigation(response, ctx.page)


@step("page.goBack", result="{url, status}", description="Go back in the page's history.")
async def go_back(ctx: StepContext) -> dict[str, Any]:
    return _navigation(await ctx.page.go_back(timeout=ctx.timeout_ms), ctx.page)


@step("page.goForward", result="{url, status}", description="Go forward in the page's history.")
async def go_forward(ctx: StepContext) -> dict[str, Any]:
    return _navigation(await ctx.page.go_forward(timeout=ctx.timeout_ms), ctx.page)


@step("page.url", result="string", description="The page's current URL.")
async def url(ctx: StepContext) -> str:
    return ctx.page.url


@step("page.title", result="string", description="The page's title.")
async def title(ctx: StepContext) -> str:
    return await ctx.page.title()


@step(
    "context.newPage",
    result="{pageId}",
    ref="context",
    binds="page",
    description="Open a new page (tab); `bind` names it for later steps' `ref`.",
)
async def new_page(ctx: StepContext) -> Page:
    return await ctx.context.new_page()


@step("page.close", result="null", description="Close the page.")
async def close(ctx: StepContext) -> None:
    await ctx.page.close()


@step("page.bringToFront", result="null", description="Make the page the active tab.")
async def bring_to_front(ctx: StepContext) -> None:
    await ctx.page.bring_to_front()
