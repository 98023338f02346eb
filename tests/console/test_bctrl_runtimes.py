"""The console's API client for runtimes, execute, events, operations and artifacts, against the real engine."""

import uuid
from collections.abc import Iterator

import pytest

from dashboard.bctrl import artifacts, events, execute, operations, runtimes
from dashboard.bctrl.errors import Conflict, InvalidRequest, NotFound
from tests.console.runtime_support import LiveRuntime, live_runtime
from tests.support import site as served
from tests.support.engine_process import EngineProcess


@pytest.fixture(scope="module")
def live(engine: EngineProcess) -> Iterator[LiveRuntime]:
    with live_runtime(engine, "client") as runtime:
        yield runtime


async def test_it_reads_a_runtime_as_a_typed_result(live: LiveRuntime) -> None:
    runtime = await runtimes.get_runtime(live.workspace_id, live.alias)
    assert runtime.alias == live.alias and runtime.active and runtime.workspace_id == live.workspace_id
    assert runtime.summary.browser_running and runtime.summary.launch_mode == "ephemeral"
    assert runtime.started_at is not None and runtime.failure is None


async def test_it_lists_runtimes_by_status(live: LiveRuntime) -> None:
    active = await runtimes.list_runtimes(live.workspace_id, status="active")
    stopped = await runtimes.list_runtimes(live.workspace_id, status="stopped")
    assert [r.alias for r in active.items] == [live.alias] and active.next_cursor is None
    assert stopped.items == []


async def test_it_reads_bindings_from_the_workspace_state(live: LiveRuntime) -> None:
    state = await runtimes.get_state(live.workspace_id)
    runtime = state.runtime(live.alias)
    assert runtime is not None and runtime.active
    assert state.active_operations == []


async def test_an_alias_in_use_is_a_conflict(live: LiveRuntime) -> None:
    with pytest.raises(Conflict) as caught:
        await runtimes.launch_runtime(
            live.workspace_id, alias=live.alias, driver="playwright", launch={"mode": "ephemeral"}
        )
    assert caught.value.code == "runtime.alias_in_use" and caught.value.request_id


async def test_a_bad_alias_names_the_field(live: LiveRuntime) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await runtimes.launch_runtime(
            live.workspace_id, alias="Nope!", driver="playwright", launch={"mode": "ephemeral"}
        )
    assert "alias" in caught.value.field_errors


async def test_it_launches_once_per_idempotency_key_and_stops(workspace: dict) -> None:
    key = uuid.uuid4().hex
    launch = {"mode": "ephemeral", "config": {"locale": "de-DE"}}
    first = await runtimes.launch_runtime(
        workspace["id"], alias="keyed", driver="playwright", launch=launch, idempotency_key=key
    )
    again = await runtimes.launch_runtime(
        workspace["id"], alias="keyed", driver="playwright", launch=launch, idempotency_key=key
    )
    assert first.id == again.id and first.config.get("locale") == "de-DE"
    stopped = await runtimes.stop_runtime(workspace["id"], "keyed")
    assert stopped.status == "stopped" and stopped.stopped_at is not None


async def test_every_run_of_a_reused_alias_is_reachable_by_id(workspace: dict) -> None:
    launch = {"mode": "ephemeral"}
    first = await runtimes.launch_runtime(workspace["id"], alias="again", driver="playwright", launch=launch)
    stopped = await runtimes.stop_runtime(workspace["id"], "again")
    assert stopped.stop_reason == "requested" and stopped.ended
    second = await runtimes.launch_runtime(workspace["id"], alias="again", driver="playwright", launch=launch)

    every = await runtimes.list_every_runtime(workspace_id=workspace["id"])
    assert [r.id for r in every.items] == [second.id, first.id]
    assert [
        r.id for r in (await runtimes.list_every_runtime(workspace_id=workspace["id"], status="active")).items
    ] == [second.id]
    older = await runtimes.get_run(first.id)
    assert older.status == "stopped" and older.stop_reason == "requested" and older.alias == "again"
    older_events = await events.list_run_events(first.id, ["runtime.stopped"])
    assert [e.event_type for e in older_events.items] == ["runtime.stopped"]
    assert (await events.list_run_events(second.id, ["runtime.stopped"])).items == []
    with pytest.raises(NotFound):
        await runtimes.get_run(str(uuid.uuid4()))


async def test_the_catalogue_describes_calls_and_their_args(live: LiveRuntime) -> None:
    catalogue = await execute.get_help(live.workspace_id, runtime=live.alias)
    goto = catalogue.call("page.goto")
    assert goto is not None and goto.args[0].name and goto.args[0].required
    screenshot = catalogue.call("page.screenshot")
    assert screenshot is not None and not screenshot.long_running


async def test_it_executes_steps_and_reads_their_events(live: LiveRuntime, site: served.TestSite) -> None:
    result = await execute.execute(
        live.workspace_id,
        live.alias,
        [
            {"call": "page.goto", "args": [f"{site.url}/index.html"]},
            {"call": "page.textContent", "args": ["#title"]},
        ],
        idempotency_key=uuid.uuid4().hex,
    )
    assert result.status == "succeeded" and [s.ok for s in result.steps] == [True, True]
    assert result.steps[1].result == "Hello from the test site" and result.steps[1].duration_ms is not None
    page = await events.list_events(live.workspace_id, live.alias, ["page.navigated"])
    assert page.items and all(e.event_type == "page.navigated" for e in page.items)
    assert page.items[-1].event_data.get("url") == f"{site.url}/index.html"


async def test_a_screenshot_is_an_artifact_with_streamable_bytes(
    live: LiveRuntime, site: served.TestSite
) -> None:
    result = await execute.execute(
        live.workspace_id,
        live.alias,
        [{"call": "page.goto", "args": [f"{site.url}/index.html"]}, {"call": "page.screenshot", "args": []}],
    )
    made = artifacts.Artifact.in_result(result.steps[1].result)
    assert made is not None
    listed = await artifacts.list_artifacts(live.workspace_id, runtime=live.alias, kind="screenshot")
    assert made.id in [a.id for a in listed.items]
    artifact = await artifacts.get_artifact(made.id)
    assert artifact.is_image and artifact.kind == "screenshot"
    content = await artifacts.open_content(artifact.id)
    data = b"".join([chunk async for chunk in content.chunks])
    assert content.content_type == "image/png" and data.startswith(b"\x89PNG")


async def test_a_missing_artifact_fails_before_any_byte() -> None:
    with pytest.raises(NotFound):
        await artifacts.open_content(str(uuid.uuid4()))


async def test_operations_list_and_a_missing_one(live: LiveRuntime) -> None:
    page = await operations.list_operations(workspace_id=live.workspace_id)
    assert page.items == [] and page.next_cursor is None
    with pytest.raises(NotFound) as caught:
        await operations.get_operation(str(uuid.uuid4()))
    assert caught.value.code == "operation.not_found"
