"""The tools a model may call on a page, and how the engine carries each one out with Playwright.

The model names elements by their snapshot ids (`e7`); the engine acts on the element carrying
that id, never on a selector the model wrote. Arguments come from a model and are untrusted:
ids must look like ids, navigation obeys the egress policy's `scheme_refusal`, and a vault entry
is filled only through `vault.fill`'s own rules (the call's vault mount, the entry's origins).

An action that fails on the page (element gone, not editable, a timeout) is an `Outcome` with
`ok=False`, not an exception: an agent loop tells the model and lets it try something else.
A tool call that does not fit its tool (unknown name, missing or mistyped arguments) is the
model's fault and raises `ModelError("agent.invalid_output")`.
"""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Page

from engine.agents.snapshot import Snapshot, describe, locator_for
from engine.ai.chat import ChatResponse, ModelError, Tool, ToolCall
from engine.egress.policy import scheme_refusal
from engine.steps import secrets
from engine.steps.registry import StepContext, StepError

ACTION_TIMEOUT_MS = 10_000
ELEMENT_ID = re.compile(r"^e[0-9]{1,6}$")
KEYS = re.compile(r"^[A-Za-z0-9+]{1,40}$")

_ELEMENT = {"type": "string", "description": "An element id from the page, like e7."}


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


PAGE_TOOLS = (
    Tool("click", "Click an element.", _object({"element": _ELEMENT}, ["element"])),
    Tool(
        "fill",
        "Replace the value of a text field with `value`.",
        _object({"element": _ELEMENT, "value": {"type": "string"}}, ["element", "value"]),
    ),
    Tool(
        "type",
        "Type `text` into a field key by key (for fields that react to typing).",
        _object({"element": _ELEMENT, "text": {"type": "string"}}, ["element", "text"]),
    ),
    Tool(
        "press",
        "Press a key (Enter, Tab, Escape, ArrowDown, Control+A...), on an element or the page.",
        _object({"key": {"type": "string"}, "element": _ELEMENT}, ["key"]),
    ),
    Tool(
        "select",
        "Choose option(s) of a select element, by their labels.",
        _object(
            {"element": _ELEMENT, "values": {"type": "array", "items": {"type": "string"}}},
            ["element", "values"],
        ),
    ),
    Tool(
        "scroll",
        "Scroll the page up or down by most of a screen.",
        _object({"direction": {"type": "string", "enum": ["up", "down"]}}, ["direction"]),
    ),
    Tool(
        "navigate",
        "Open an http(s) URL in this page.",
        _object({"url": {"type": "string"}}, ["url"]),
    ),
)
FILL_SECRET = Tool(
    "fill_secret",
    "Fill a login form from the vault without seeing the secret: name the vault entry's key and "
    "the elements to fill with its username, password and (optional) one-time code.",
    _object(
        {
            "key": {"type": "string", "description": "A vault key from the list you were given."},
            "usernameElement": _ELEMENT,
            "passwordElement": _ELEMENT,
            "totpElement": _ELEMENT,
        },
        ["key"],
    ),
)
DONE = Tool(
    "done",
    "Finish: the task is complete (success true) or cannot be completed (success false).",
    _object(
        {
            "success": {"type": "boolean"},
            "answer": {"type": "string", "description": "The answer or a short summary of what was done."},
        },
        ["success", "answer"],
    ),
)


@dataclass
class Outcome:
    ok: bool
    action: dict[str, Any]  # {method, element?, selector?, args}
    description: str
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        out = {"ok": self.ok, "action": self.action, "description": self.description}
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class Actor:
    """Carries out tool calls on one page, for one call (its step context gives mounts and events)."""

    ctx: StepContext
    filled_keys: list[str] = field(default_factory=list)

    async def perform(self, page: Page, call: ToolCall, snapshot: Snapshot) -> Outcome:
        name, args = call.name, call.arguments
        check_arguments(call, (*PAGE_TOOLS, FILL_SECRET))
        if name == "fill_secret":
            return await self._fill_secret(page, args, snapshot)
        element = None
        if "element" in args:
            element = element_of(args["element"], snapshot)
        action: dict[str, Any] = {"method": name, "args": [v for k, v in args.items() if k != "element"]}
        if element is not None:
            action["element"] = element["id"]
            action["selector"] = element.get("selector")
        target = describe(element) if element is not None else "the page"
        tool = self._tools().get(name)
        if tool is None:
            raise ModelError("agent.invalid_output", f"The model called an unknown tool {name[:64]!r}.")
        try:
            return await tool(page, Act(args, element, action, target))
        except PlaywrightError as exc:
            first = (exc.message or "").strip().splitlines()[:1]
            return Outcome(
                False, action, f"could not {name} {target}", (first[0] if first else "failed")[:300]
            )

    def _tools(self) -> dict[str, Callable[[Page, "Act"], Awaitable[Outcome]]]:
        return {
            "click": _click,
            "fill": _fill,
            "type": _type,
            "press": _press,
            "select": _select,
            "scroll": _scroll,
            "navigate": self._navigate,
        }

    async def _navigate(self, page: Page, act: "Act") -> Outcome:
        url = act.args["url"]
        refusal = scheme_refusal(url)
        if refusal is not None:
            self.ctx.session.on_refused(refusal)
            return Outcome(False, act.action, f"did not open {_short(url)}", refusal.message)
        await page.goto(url, timeout=ACTION_TIMEOUT_MS * 3)
        return Outcome(True, act.action, f"opened {_short(url, 120)}")

    async def _fill_secret(self, page: Page, args: dict[str, Any], snapshot: Snapshot) -> Outcome:
        key = args["key"]
        chosen = {
            field: element_of(args[f"{field}Element"], snapshot)
            for field in ("username", "password", "totp")
            if args.get(f"{field}Element")
        }
        action = {"method": "fill_secret", "args": [key], "elements": {f: e["id"] for f, e in chosen.items()}}
        if not chosen:
            return Outcome(False, action, f"did not fill {key}", "Name at least one element to fill.")
        selectors = {f"{f}Selector": locator_for(e["id"]) for f, e in chosen.items()}
        # vault.fill's own rules: the taint check, the fields' kinds, the seal, and the fields
        # marked so no later snapshot shows their values.
        try:
            result = await secrets.fill(replace(self.ctx, target=page), key, selectors)
        except StepError as exc:
            return Outcome(False, action, f"did not fill vault entry {key!r}", f"{exc.code}: {exc.message}")
        self.filled_keys.append(key)
        fields = ", ".join(result["filled"])
        return Outcome(True, action, f"filled vault entry {key!r} ({fields})")


@dataclass(frozen=True)
class Act:
    """One tool call on a page: its arguments, the element it names (if any), and how it is reported."""

    args: dict[str, Any]
    element: dict[str, Any] | None
    action: dict[str, Any]
    target: str

    def locator(self, page: Page) -> Locator:
        assert self.element is not None
        return page.locator(locator_for(self.element["id"]))


async def _click(page: Page, act: Act) -> Outcome:
    await act.locator(page).click(timeout=ACTION_TIMEOUT_MS)
    return Outcome(True, act.action, f"clicked {act.target}")


async def _fill(page: Page, act: Act) -> Outcome:
    await act.locator(page).fill(act.args["value"], timeout=ACTION_TIMEOUT_MS)
    return Outcome(True, act.action, f"filled {act.target} with {_short(act.args['value'])}")


async def _type(page: Page, act: Act) -> Outcome:
    await act.locator(page).press_sequentially(act.args["text"], timeout=ACTION_TIMEOUT_MS)
    return Outcome(True, act.action, f"typed {_short(act.args['text'])} into {act.target}")


async def _press(page: Page, act: Act) -> Outcome:
    key = act.args["key"]
    if not KEYS.match(key):
        return Outcome(False, act.action, f"did not press {_short(key)}", "Not a key name.")
    if act.element is not None:
        await act.locator(page).press(key, timeout=ACTION_TIMEOUT_MS)
    else:
        await page.keyboard.press(key)
    return Outcome(True, act.action, f"pressed {key} on {act.target}")


async def _select(page: Page, act: Act) -> Outcome:
    values = [str(v) for v in act.args["values"]]
    await act.locator(page).select_option(label=values, timeout=ACTION_TIMEOUT_MS)
    return Outcome(True, act.action, f"selected {', '.join(_short(v) for v in values)} in {act.target}")


async def _scroll(page: Page, act: Act) -> Outcome:
    height = (page.viewport_size or {"height": 720})["height"]
    await page.mouse.wheel(0, (1 if act.args["direction"] == "down" else -1) * height * 0.8)
    return Outcome(True, act.action, f"scrolled {act.args['direction']}")


def one_call(response: ChatResponse, tools: tuple[Tool, ...]) -> ToolCall:
    """The one tool call a model answer must hold, checked against the tools it was offered."""
    if len(response.tool_calls) != 1:
        raise ModelError(
            "agent.invalid_output",
            f"The model answered with {len(response.tool_calls)} tool calls; each request needs exactly one.",
        )
    check_arguments(response.tool_calls[0], tools)
    return response.tool_calls[0]


def check_arguments(call: ToolCall, tools: tuple[Tool, ...]) -> None:
    """The call names one of `tools` and has its required arguments, of the right JSON types."""
    tool = next((t for t in tools if t.name == call.name), None)
    if tool is None:
        raise ModelError(
            "agent.invalid_output",
            f"The model called {call.name[:64]!r}, which is not one of its tools"
            f" ({', '.join(t.name for t in tools)}).",
        )
    properties = tool.parameters.get("properties", {})
    for name in tool.parameters.get("required", []):
        if name not in call.arguments:
            raise ModelError("agent.invalid_output", f"The model called {call.name} without {name!r}.")
    for name, value in call.arguments.items():
        expected = (properties.get(name) or {}).get("type")
        if expected and not _has_type(value, expected):
            raise ModelError(
                "agent.invalid_output",
                f"The model called {call.name} with {name!r} that is not a {expected}.",
            )


def _has_type(value: Any, expected: str) -> bool:
    return {
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
    }.get(expected, True)


def element_of(element_id: Any, snapshot: Snapshot) -> dict[str, Any]:
    if not isinstance(element_id, str) or not ELEMENT_ID.match(element_id):
        raise ModelError(
            "agent.invalid_output", f"The model named an element {str(element_id)[:40]!r}, not an id like e7."
        )
    element = snapshot.elements.get(element_id)
    if element is None:
        raise ModelError(
            "agent.invalid_output",
            f"The model named element {element_id}, which is not on the page it was shown.",
        )
    return element


def _short(text: str, limit: int = 60) -> str:
    text = str(text)
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
