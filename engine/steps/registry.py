"""The execute call catalogue: one registry every call module adds itself to.

How to add a call (this is the whole API other modules need):

    from engine.steps.registry import Arg, StepContext, StepError, step

    @step(
        "page.fill",
        args=[Arg("selector", "string"), Arg("value", "string")],
        result="null",
        ref="page",                 # what `ref` must resolve to: "page", "context" or None
        description="Fill an input.",
    )
    async def fill(ctx: StepContext, selector: str, value: str) -> None:
        await ctx.page.fill(selector, value, timeout=ctx.timeout_ms)

- A call function is `async def fn(ctx: StepContext, *args)`: the step's positional `args` are
  passed as positional parameters, already checked against the declared `Arg`s (count and JSON
  type), so the function only checks what a type cannot say (raise `StepError`).
- It returns a JSON-ready value (the step's `result`). A call declared with `binds="page"` returns
  a Playwright Page instead; the executor names it (the step's `bind`, or a generated id) and
  answers `{"pageId": ...}` plus the `binding`.
- `ctx.page` / `ctx.context` are the live Playwright objects the step's `ref` resolved to;
  `ctx.runtime`, `ctx.workspace`, `ctx.mounts` (effective, narrowed mounts), `ctx.storage_namespace`,
  `ctx.operation_id` describe where it runs; `ctx.emit(type, data)` records a runtime event;
  `ctx.timeout_ms` is the step's time budget (pass it to Playwright's own `timeout=`).
- `dryRun` never calls the function: arguments are validated and the step reports ok.
- `prepare=` (optional) is `async def prepare(runtime, *args) -> Any`, run for every step of a
  request before any step runs (dry runs too): it checks what needs the database or the
  runtime's mounts (an AI credential, a narrowing) and raises `ApiError` to refuse the whole
  request with that status (403 for a refused credential); what it returns is `ctx.prepared`.
- `page_data=` says what the call does with the page's data, for the vault's use-without-read
  rules (engine/runtimes/seal.py; the table in docs/api.md is this column): `"reads"` (the
  default, so a new call is safe until said otherwise) returns page data, and is refused with
  `vault.sealed` while a document a secret was filled into is shown; `"script"` runs the
  caller's script in the page: refused the same way, and it taints the document (no secret may
  be filled into it); `"masked"` reads with the filled fields masked (screenshots, the agents'
  page snapshots); `"none"` reads nothing of the page (navigation, input, waits). The executor
  applies them; `ctx.raw_reads` (an admin key, or `allowRawReads` in the vault mount) lifts the
  refusals, never the taint.
- `long_running=True`: the call starts work that outlives the request (an operation). It must
  be the last step of its request; it sets `ctx.operation` to the operation it created and
  returns at once. `default_timeout_ms` overrides the 30 s step default (model calls are slow).
- Raise `StepError(code, message)` for a failure the caller can act on (`step.invalid_args`,
  `vault.forbidden`...). Playwright's TimeoutError becomes `step.timeout` (its message names the
  budget and the call's `selector`, `url` or `pattern` arg), any other Playwright error
  `step.failed` with Playwright's first message line.

Modules listed in CATALOGUE_MODULES are imported once, on first use of the registry. Calls of a
higher layer (the agent calls of `engine.agents`) register when that package is imported, which
the API does: this package never imports the layers above it.
"""

import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from engine.runtimes import seal

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

    from engine.models import Operation, Runtime, Workspace
    from engine.runtimes.session import RuntimeSession

logger = logging.getLogger("engine.steps")

DRIVERS = ("playwright", "puppeteer", "selenium", "stagehand")
# JSON types an Arg may declare; "any" accepts everything, "a|b" accepts either.
ARG_TYPES = ("string", "number", "integer", "boolean", "object", "array", "any")
# What a call does with page data (see `page_data=` in the module docstring).
PAGE_DATA = ("reads", "script", "masked", "none")

CATALOGUE_MODULES = (
    "engine.steps.navigation",
    "engine.steps.input",
    "engine.steps.waiting",
    "engine.steps.reading",
    "engine.steps.outputs",
    "engine.steps.secrets",
    "engine.steps.files",
)


class StepError(Exception):
    """A step failure with a stable code, reported in the step's `error`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Arg:
    name: str
    type: str = "string"
    required: bool = True
    description: str = ""

    def accepts(self, value: Any) -> bool:
        return any(_is_type(value, kind) for kind in self.type.split("|"))


def _is_type(value: Any, kind: str) -> bool:
    if kind == "any":
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "null":
        return value is None
    raise ValueError(f"unknown arg type {kind!r}")


StepFunction = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class CallSpec:
    """One call of the catalogue, as `help` describes it."""

    name: str
    fn: StepFunction
    args: tuple[Arg, ...]
    result: str
    ref: str | None
    long_running: bool
    drivers: tuple[str, ...]
    description: str
    binds: str | None = None
    prepare: Callable[..., Awaitable[Any]] | None = None
    default_timeout_ms: float | None = None
    page_data: str = "reads"

    def check_args(self, args: list[Any]) -> list[dict[str, str]]:
        """Problems with `args` as {path, message} (path relative to the step), none if fine."""
        problems: list[dict[str, str]] = []
        required = sum(1 for a in self.args if a.required)
        if len(args) < required or len(args) > len(self.args):
            expected = f"{required}" if required == len(self.args) else f"{required} to {len(self.args)}"
            signature = ", ".join(a.name if a.required else f"{a.name}?" for a in self.args)
            problems.append(
                {
                    "path": "args",
                    "message": f"{self.name}({signature}) takes {expected} argument(s), got {len(args)}.",
                }
            )
            return problems
        for index, (spec, value) in enumerate(zip(self.args, args, strict=False)):
            if value is None and not spec.required:
                continue
            if not spec.accepts(value):
                problems.append(
                    {"path": f"args.{index}", "message": f"{spec.name} must be of type {spec.type}."}
                )
        return problems

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "args": [
                {"name": a.name, "type": a.type, "required": a.required, "description": a.description}
                for a in self.args
            ],
            "result": self.result,
            "ref": self.ref,
            "binds": self.binds,
            "longRunning": self.long_running,
            "drivers": list(self.drivers),
            "pageData": self.page_data,
        }


_REGISTRY: dict[str, CallSpec] = {}
_loaded = False


def step(
    name: str,
    *,
    args: list[Arg] | tuple[Arg, ...] = (),
    result: str = "null",
    ref: str | None = "page",
    long_running: bool = False,
    drivers: tuple[str, ...] | list[str] = DRIVERS,
    description: str = "",
    binds: str | None = None,
    prepare: Callable[..., Awaitable[Any]] | None = None,
    default_timeout_ms: float | None = None,
    page_data: str = "reads",
) -> Callable[[StepFunction], StepFunction]:
    """Register `fn` as the call `name` (see the module docstring)."""
    if page_data not in PAGE_DATA:
        raise ValueError(f"{name}: page_data must be one of {', '.join(PAGE_DATA)}")
    for arg in args:
        for kind in arg.type.split("|"):
            if kind not in (*ARG_TYPES, "null"):
                raise ValueError(f"{name}: unknown arg type {kind!r}")
    seen_optional = False
    for arg in args:
        if not arg.required:
            seen_optional = True
        elif seen_optional:
            raise ValueError(f"{name}: required arg {arg.name!r} after an optional one")

    def register(fn: StepFunction) -> StepFunction:
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise ValueError(f"call {name!r} is registered twice")
        _REGISTRY[name] = CallSpec(
            name=name,
            fn=fn,
            args=tuple(args),
            result=result,
            ref=ref,
            long_running=long_running,
            drivers=tuple(drivers),
            description=description or (fn.__doc__ or "").strip().split("\n")[0],
            binds=binds,
            prepare=prepare,
            default_timeout_ms=default_timeout_ms,
            page_data=page_data,
        )
        return fn

    return register


def load() -> None:
    """Import every catalogue module once, so their @step decorators run."""
    global _loaded
    if _loaded:
        return
    for module in CATALOGUE_MODULES:
        importlib.import_module(module)
    _loaded = True


def get(name: str) -> CallSpec | None:
    load()
    return _REGISTRY.get(name)


def catalogue() -> list[CallSpec]:
    load()
    return sorted(_REGISTRY.values(), key=lambda spec: spec.name)


@dataclass
class StepContext:
    """What a call function may use: where it runs and the live browser objects it acts on."""

    session: "RuntimeSession"
    runtime: "Runtime"
    workspace: "Workspace"
    mounts: dict[str, Any]
    storage_namespace: str
    operation_id: UUID | None
    timeout_ms: float
    target: "Page | BrowserContext | None" = None
    target_id: str | None = None
    # Console lines captured while the step runs (options.logs == "capture").
    logs: list[dict[str, Any]] | None = field(default=None)
    # What the call's `prepare` returned for this step (see the module docstring).
    prepared: Any = None
    # The operation a long-running call started; the execute result carries it.
    operation: "Operation | None" = None
    # Whether the request's key is an admin's (with `allowRawReads`, it may read filled secrets).
    admin: bool = False

    @property
    def raw_reads(self) -> bool:
        """Raw-read rights: an admin key, or a vault mount with allowRawReads (engine/runtimes/seal.py)."""
        return seal.raw_reads(self.admin, self.mounts)

    @property
    def page(self) -> "Page":
        from playwright.async_api import Page

        if not isinstance(self.target, Page):
            raise StepError("step.invalid_ref", "This call needs a page; `ref` names something else.")
        return self.target

    @property
    def context(self) -> "BrowserContext":
        from playwright.async_api import BrowserContext, Page

        if isinstance(self.target, Page):
            return self.target.context
        if isinstance(self.target, BrowserContext):
            return self.target
        if self.session.context is None:
            raise StepError("runtime.not_active", "The runtime's browser is not running.")
        return self.session.context

    @property
    def page_id(self) -> str | None:
        from playwright.async_api import Page

        return self.session.page_id(self.target) if isinstance(self.target, Page) else None

    def emit(self, event_type: str, data: dict[str, Any]) -> None:
        """Record a runtime event (buffered; visible to list and wait at once)."""
        self.session.emit(event_type, data, operation_id=self.operation_id)
