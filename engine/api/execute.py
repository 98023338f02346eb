"""Execute steps against a runtime, and the call catalogue (`help`).

A request whose steps name an unknown call or pass arguments of the wrong shape is refused
as a whole (400, `step.unknown_call` / `step.invalid_args`, each problem in `details.fields`),
before anything runs. Failures while running are per step (`ExecuteResult.steps[i].error`);
fail-fast means the list ends at the failing step (later steps are not listed).

A long-running call (the `*.agent.execute` calls) must be the last step: it starts an operation
and the response carries it in `operation` at once; follow it with the operations API.
"""

from typing import Any, Literal

from django.http import HttpRequest, JsonResponse
from ninja import Query, Router, Schema
from pydantic import ConfigDict, Field

# Imported for its side effect: the agent calls register themselves in the step catalogue
# (the steps layer never imports the agents layer above it).
import engine.agents.calls  # noqa: F401
from engine import metrics, wire
from engine.api.auth import OPERATOR, READ
from engine.api.common import WorkspaceId, to_json
from engine.api.idempotency import idempotent
from engine.api.runtimes import ALIAS_PATTERN, get_runtime, not_active
from engine.api.schemas import Binding, OperationOut
from engine.api.workspaces import get_workspace
from engine.errors import ApiError
from engine.models import Runtime
from engine.runtimes.manager import manager
from engine.steps import executor, registry

router = Router(tags=["execute"])

BIND_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,62}$"


class StepOptions(Schema):
    # An option the engine does not know is refused, not ignored: a misspelt `{"timeout": 500}`
    # would otherwise leave the step waiting the default 30 s unnoticed.
    model_config = ConfigDict(extra="forbid")

    timeoutMs: int | None = Field(default=None, ge=1, le=600_000, description="Default 30000.")
    logs: Literal["off", "capture"] = "off"
    dryRun: bool = False
    # The public reference's labels: which of the caller's scripts a step belongs to. Kept on the
    # step's events (step.started / step.finished), never interpreted.
    scriptId: str | None = Field(default=None, min_length=1, max_length=200)
    scriptName: str | None = Field(default=None, min_length=1, max_length=200)


class Step(Schema):
    call: str = Field(min_length=1, max_length=100)
    args: list[Any] = Field(default_factory=list, max_length=20)
    options: StepOptions | None = None
    ref: str | None = Field(default=None, min_length=1, max_length=100, description="A binding alias or id.")
    bind: str | None = Field(
        default=None, pattern=BIND_PATTERN, description="Name the page this step creates."
    )


class ExecuteRequest(Schema):
    runtime: str = Field(pattern=ALIAS_PATTERN)
    steps: list[Step] = Field(min_length=1, max_length=500)
    mode: Literal["fail-fast"] = "fail-fast"
    idempotencyKey: str | None = Field(default=None, min_length=1, max_length=200)


class StepErrorOut(Schema):
    code: str
    message: str


class LogLine(Schema):
    level: str
    text: str


class StepDownload(Schema):
    url: str | None
    suggestedFilename: str | None


class StepResult(Schema):
    index: int
    call: str
    ok: bool
    result: Any = None
    error: StepErrorOut | None
    durationMs: int
    binding: Binding | None = None
    logs: list[LogLine] | None = None
    dryRun: bool | None = None
    downloads: list[StepDownload] | None = Field(
        default=None,
        description="Downloads the step set off (ours); each becomes an artifact (event download.finished).",
    )


class ExecuteResult(Schema):
    mode: Literal["fail-fast"]
    status: Literal["succeeded", "failed"]
    steps: list[StepResult]
    operation: OperationOut | None


class ArgHelp(Schema):
    name: str
    type: str = Field(
        description="JSON type(s): string, number, integer, boolean, object, array, any; a|b for either"
    )
    required: bool
    description: str


class CallHelp(Schema):
    name: str
    description: str
    args: list[ArgHelp]
    result: str = Field(description="The shape of the step's result.")
    ref: Literal["page", "context"] | None = Field(
        description="What the step's `ref` must name (default page)."
    )
    binds: str | None = Field(description="What the call creates that `bind` can name.")
    longRunning: bool
    drivers: list[str]
    pageData: Literal["reads", "script", "masked", "none"] = Field(
        description="Ours. What the call does with page data under the vault's use-without-read rules: "
        "reads (refused with vault.sealed while a filled document is shown), script (the same, and it "
        "taints the document), masked (runs, filled fields masked), none."
    )


class Help(Schema):
    runtime: str | None
    driver: str | None
    calls: list[CallHelp]


class HelpFilters(Schema):
    runtime: str | None = Field(default=None, pattern=ALIAS_PATTERN)
    call: str | None = Field(default=None, max_length=100)


@router.post(
    "/{workspaceId}/execute",
    operation_id="execute",
    auth=OPERATOR,
    response=ExecuteResult,
    summary="Run steps against a runtime",
)
async def execute(request: HttpRequest, workspace_id: WorkspaceId, payload: ExecuteRequest) -> JsonResponse:
    workspace = await get_workspace(workspace_id)
    steps = [s.model_dump(mode="json") for s in payload.steps]
    planned, problems = executor.plan(steps)
    if problems:
        unknown = any(p["path"].endswith(".call") for p in problems)
        raise ApiError(
            400,
            "step.unknown_call" if unknown else "step.invalid_args",
            "The steps are not valid: " + "; ".join(f"{p['path']}: {p['message']}" for p in problems[:5]),
            {"fields": problems},
        )
    runtime = await get_runtime(workspace, payload.runtime)

    async def run() -> tuple[int, dict[str, Any]]:
        session = manager.session(runtime.id)
        if runtime.status != Runtime.Status.ACTIVE or session is None:
            raise not_active(runtime)
        await executor.prepare(runtime, planned)
        admin = getattr(request.auth, "scope", None) == "admin"  # type: ignore[attr-defined]
        result = await executor.run(session, workspace, runtime, planned, admin=admin)
        metrics.observe_steps(result["steps"])
        if result["operation"] is not None:
            result["operation"] = to_json(OperationOut, wire.operation(result["operation"]))
        return 200, result

    return await idempotent(request, payload.idempotencyKey, payload.model_dump(mode="json"), run)


@router.get(
    "/{workspaceId}/help", operation_id="help", auth=READ, response=Help, summary="The execute call catalogue"
)
async def help_(
    request: HttpRequest, workspace_id: WorkspaceId, filters: Query[HelpFilters]
) -> dict[str, Any]:
    workspace = await get_workspace(workspace_id)
    driver = None
    if filters.runtime:
        driver = (await get_runtime(workspace, filters.runtime)).driver
    calls = registry.catalogue()
    if driver:
        calls = [c for c in calls if driver in c.drivers]
    if filters.call:
        calls = [c for c in calls if c.name == filters.call]
        if not calls:
            raise ApiError(
                404,
                "step.unknown_call",
                f"No call {filters.call!r} in the catalogue; ask help without `call` for the list.",
            )
    return {"runtime": filters.runtime, "driver": driver, "calls": [c.describe() for c in calls]}
