"""Input calls: clicking, typing and choosing, through Playwright's auto-waiting actions."""

from playwright.async_api import Page

from engine.steps.registry import Arg, StepContext, step

SELECTOR = Arg("selector", "string", description="A Playwright selector (CSS, text=, xpath=...).")


@step("page.click", args=[SELECTOR], description="Click the element.", page_data="none")
async def click(ctx: StepContext, selector: str) -> None:
    await ctx.page.click(selector, timeout=ctx.timeout_ms)


@step("page.dblclick", args=[SELECTOR], description="Double-click the element.", page_data="none")
async def dblclick(ctx: StepContext, selector: str) -> None:
    await ctx.page.dblclick(selector, timeout=ctx.timeout_ms)


@step("page.hover", args=[SELECTOR], description="Move the mouse over the element.", page_data="none")
async def hover(ctx: StepContext, selector: str) -> None:
    await ctx.page.hover(selector, timeout=ctx.timeout_ms)


@step(
    "page.fill",
    args=[SELECTOR, Arg("value", "string")],
    description="Replace an input's value.",
    page_data="none",
)
async def fill(ctx: StepContext, selector: str, value: str) -> None:
    await ctx.page.fill(selector, value, timeout=ctx.timeout_ms)


@step(
    "page.type",
    args=[SELECTOR, Arg("text", "string")],
    description="Type text key by key into the element.",
    page_data="none",
)
async def type_text(ctx: StepContext, selector: str, text: str) -> None:
    await ctx.page.locator(selector).press_sequentially(text, timeout=ctx.timeout_ms)


@step(
    "page.press",
    args=[SELECTOR, Arg("key", "string", description="e.g. Enter, Control+A")],
    description="Press a key (or chord) on the element.",
    page_data="none",
)
async def press(ctx: StepContext, selector: str, key: str) -> None:
    await ctx.page.press(selector, key, timeout=ctx.timeout_ms)


@step("page.check", args=[SELECTOR], description="Check a checkbox or radio button.", page_data="none")
async def check(ctx: StepContext, selector: str) -> None:
    await ctx.page.check(selector, timeout=ctx.timeout_ms)


@step("page.uncheck", args=[SELECTOR], description="Uncheck a checkbox.", page_data="none")
async def uncheck(ctx: StepContext, selector: str) -> None:
    await ctx.page.uncheck(selector, timeout=ctx.timeout_ms)


@step(
    "page.selectOption",
    args=[SELECTOR, Arg("values", "string|array", description="A value or a list of values.")],
    result="string[]",
    description="Select options of a <select> by value; returns the selected values.",
    page_data="none",
)
async def select_option(ctx: StepContext, selector: str, values: str | list[str]) -> list[str]:
    return await ctx.page.select_option(selector, values, timeout=ctx.timeout_ms)


@step(
    "page.mouse.click",
    args=[Arg("x", "number"), Arg("y", "number")],
    description="Click at page coordinates (CSS pixels).",
    page_data="none",
)
async def mouse_click(ctx: StepContext, x: float, y: float) -> None:
    await ctx.page.mouse.click(x, y)


@step(
    "page.keyboard.type",
    args=[Arg("text", "string")],
    description="Type text into whatever has focus.",
    page_data="none",
)
async def keyboard_type(ctx: StepContext, text: str) -> None:
    page: Page = ctx.page
    await page.keyboard.type(text)
