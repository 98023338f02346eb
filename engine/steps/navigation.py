"""Navigation calls: where a page is, and opening, moving and closing pages.

Every call that moves a page reports a refusal of the egress policy as `navigation.blocked`
(the URL and the rule): a scheme `page.goto` refuses before the browser sees it, a scheme
Chromium's URL policy refused (a reload, a history entry), or a destination the runtime's egress
proxy refused (the page's address, or where its redirect led).
"""

import contextlib
import re
from collections.abc import Awaitable, Callable
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Response

from engine.egress.policy import Refusal, scheme_refusal
from engine.egress.proxy import REFUSED_HEADER
from engine.steps.registry import Arg, StepContext, StepError, step

LOAD_STATES = ("load", "domcontentloaded", "networkidle", "commit")
ERROR_PAGE_WAIT_MS = 5000  # how long a failed navigation waits for Chromium's error page to commit


def _wait_until(options: dict[str, Any] | None) -> Any:
    wait_until = (options or {}).get("waitUntil", "load")
    if wait_until not in LOAD_STATES:
        raise StepError("step.invalid_args", f"waitUntil must be one of {', '.join(LOAD_STATES)}.")
    return wait_until


def _navigation(response: Any, page: Page) -> dict[str, Any]:
    return {"url": page.url, "status": response.status if response is not None else None}


def blocked(refusal: Refusal) -> StepError:
    return StepError("navigation.blocked", f"Blocked {refusal.url} ({refusal.rule}): {refusal.message}")


def _refusal_in(message: str, current_url: str) -> Refusal | None:
    """The refusal a Chromium navigation error stands for: its URL policy, or its redirect rule."""
    found = re.search(r" at (\S+)", message)
    url = found.group(1) if found else current_url
    if "ERR_BLOCKED_BY_ADMINISTRATOR" in message:
        return scheme_refusal(url) or Refusal(url, "scheme", "Chromium's URL policy refuses it.")
    if "ERR_UNSAFE_REDIRECT" in message:
        return Refusal(url, "scheme:redirect", "It redirected to a URL that is not http(s).")
    return None


async def _navigate(ctx: StepContext, move: Callable[[], Awaitable[Response | None]]) -> dict[str, Any]:
    """Run a navigation and turn an egress refusal on its way into `navigation.blocked`."""
    session, page = ctx.session, ctx.page
    before = session.refusal_count
    try:
        response = await move()
    except PlaywrightError as exc:
        message = exc.message or ""
        if "net::ERR_" in message and "ERR_ABORTED" not in message:
            # Chromium commits its error page a moment after the navigation failed; a navigation
            # started before that (the next step's) would be interrupted by it.
            with contextlib.suppress(PlaywrightError):
                await page.wait_for_url(re.compile("^chrome-error:"), timeout=ERROR_PAGE_WAIT_MS)
        refusal = _refusal_in(message, page.url) or next(reversed(session.refusals_since(before)), None)
        if refusal is None:
            raise
        if "ERR_BLOCKED_BY_ADMINISTRATOR" in message or "ERR_UNSAFE_REDIRECT" in message:
            session.on_refused(refusal)  # refused by Chromium itself, so no proxy said so yet
        raise blocked(refusal) from exc
    rule = response.headers.get(REFUSED_HEADER.lower()) if response is not None else None
    if response is not None and rule:
        mine = [r for r in session.refusals_since(before) if r.url == response.url]
        raise blocked(mine[-1] if mine else Refusal(response.url, rule, "The egress policy refused it."))
    return _navigation(response, page)


@step(
    "page.goto",
    args=[Arg("url", "string"), Arg("options", "object", required=False, description="{waitUntil?}")],
    result="{url, status}",
    description="Navigate the page to a URL and wait for it to load.",
    page_data="none",
)
async def goto(ctx: StepContext, url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    wait_until = _wait_until(options)
    refusal = scheme_refusal(url)
    if refusal is not None:
        ctx.session.on_refused(refusal)
        raise blocked(refusal)
    return await _navigate(ctx, lambda: ctx.page.goto(url, wait_until=wait_until, timeout=ctx.timeout_ms))


@step(
    "page.reload",
    args=[Arg("options", "object", required=False, description="{waitUntil?}")],
    result="{url, status}",
    description="Reload the page.",
    page_data="none",
)
async def reload(ctx: StepContext, options: dict[str, Any] | None = None) -> dict[str, Any]:
    wait_until = _wait_until(options)
    return await _navigate(ctx, lambda: ctx.page.reload(wait_until=wait_until, timeout=ctx.timeout_ms))


@step("page.goBack", result="{url, status}", description="Go back in the page's history.", page_data="none")
async def go_back(ctx: StepContext) -> dict[str, Any]:
    return await _navigate(ctx, lambda: ctx.page.go_back(timeout=ctx.timeout_ms))


@step(
    "page.goForward",
    result="{url, status}",
    description="Go forward in the page's history.",
    page_data="none",
)
async def go_forward(ctx: StepContext) -> dict[str, Any]:
    return await _navigate(ctx, lambda: ctx.page.go_forward(timeout=ctx.timeout_ms))


@step("page.url", result="string", description="The page's current URL.", page_data="none")
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
    page_data="none",
)
async def new_page(ctx: StepContext) -> Page:
    return await ctx.context.new_page()


@step("page.close", result="null", description="Close the page.", page_data="none")
async def close(ctx: StepContext) -> None:
    await ctx.page.close()


@step("page.bringToFront", result="null", description="Make the page the active tab.", page_data="none")
async def bring_to_front(ctx: StepContext) -> None:
    await ctx.page.bring_to_front()
