"""Reading calls: the page's content, element text and attributes, and script results."""

from typing import Any

from engine.steps.registry import Arg, StepContext, StepError, step

SELECTOR = Arg("selector", "string")
MAX_ELEMENTS = 1000


@step("page.content", result="string", description="The page's full HTML.")
async def content(ctx: StepContext) -> str:
    return await ctx.page.content()


@step("page.textContent", args=[SELECTOR], result="string|null", description="The element's textContent.")
async def text_content(ctx: StepContext, selector: str) -> str | None:
    return await ctx.page.text_content(selector, timeout=ctx.timeout_ms)


@step("page.innerText", args=[SELECTOR], result="string", description="The element's rendered text.")
async def inner_text(ctx: StepContext, selector: str) -> str:
    return await ctx.page.inner_text(selector, timeout=ctx.timeout_ms)


@step(
    "page.getAttribute",
    args=[SELECTOR, Arg("name", "string")],
    result="string|null",
    description="An attribute of the element.",
)
async def get_attribute(ctx: StepContext, selector: str, name: str) -> str | None:
    return await ctx.page.get_attribute(selector, name, timeout=ctx.timeout_ms)


@step("page.inputValue", args=[SELECTOR], result="string", description="The value of an input.")
async def input_value(ctx: StepContext, selector: str) -> str:
    return await ctx.page.input_value(selector, timeout=ctx.timeout_ms)


@step(
    "page.evaluate",
    args=[Arg("expression", "string", description="A JavaScript expression or function source.")],
    result="any",
    description="Evaluate JavaScript in the page; returns its JSON-serialisable result.",
    page_data="script",
)
async def evaluate(ctx: StepContext, expression: str) -> Any:
    return await ctx.page.evaluate(expression)


@step(
    "page.querySelectorAll",
    args=[SELECTOR, Arg("options", "object", required=False, description="{attributes?: [names]}")],
    result="[{text, attributes}]",
    description=f"Every matching element's text and chosen attributes (at most {MAX_ELEMENTS}).",
)
async def query_selector_all(
    ctx: StepContext, selector: str, options: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    names = (options or {}).get("attributes") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise StepError("step.invalid_args", "options.attributes must be a list of attribute names.")
    # One round trip for all elements, rather than one per element and attribute.
    return await ctx.page.eval_on_selector_all(
        selector,
        """(elements, [names, max]) => elements.slice(0, max).map(e => ({
            text: (e.textContent || "").trim(),
            attributes: Object.fromEntries(names.map(n => [n, e.getAttribute(n)])),
        }))""",
        [names, MAX_ELEMENTS],
    )
