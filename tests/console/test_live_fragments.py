"""The fragment each update type becomes, per role (dashboard/live/fragments.py).

Every type the contract lists is rendered here from an update as the API sends it; the consumer
tests show the same fragments arriving over real sockets from the real engine.
"""

from datetime import UTC, datetime

import pytest

from dashboard.bctrl.operations import Operation
from dashboard.bctrl.runtimes import Runtime
from dashboard.bctrl.updates import Update
from dashboard.live import fragments

WORKSPACE = "3f0b2c1e-0000-4000-8000-000000000001"
RUNTIME = "7d1e5a20-0000-4000-8000-000000000002"
OPERATION = "9a8b7c6d-0000-4000-8000-000000000003"

UPDATES = {
    "workspace.created": {"id": WORKSPACE, "name": "Checkout"},
    "workspace.updated": {"id": WORKSPACE, "name": "Checkout 2"},
    "workspace.deleted": {"id": WORKSPACE, "name": "Checkout 2"},
    "runtime.started": {"alias": "buyer", "runtimeId": RUNTIME},
    "runtime.stopped": {"alias": "buyer", "runtimeId": RUNTIME},
    "runtime.failed": {"alias": "buyer", "runtimeId": RUNTIME, "code": "runtime.crashed"},
    "operation.created": {"id": OPERATION, "call": "stagehand.agent.execute", "status": "queued"},
    "operation.started": {"id": OPERATION, "call": "stagehand.agent.execute", "status": "running"},
    "operation.progress": {"id": OPERATION, "call": "stagehand.agent.execute", "status": "running"},
    "operation.succeeded": {"id": OPERATION, "call": "stagehand.agent.execute", "status": "succeeded"},
    "browser_profile.created": {"id": "p1", "name": "shopper"},
    "browser_profile.deleted": {"id": "p1", "name": "shopper"},
    "browser_extension.created": {"id": "e1", "name": "adblock"},
    "vault.entry.created": {"key": "shop/login"},
    "vault.entry.deleted": {"key": "shop/login"},
    "ai_credential.created": {"id": "openai-main", "provider": "openai"},
    "storage.object.created": {"namespace": "ws", "path": "reports/a.csv"},
    "storage.object.deleted": {"namespace": "ws", "path": "reports/a.csv"},
    "artifact.created": {"id": "a1", "kind": "screenshot"},
}


def update(type_: str, seq: int = 41) -> Update:
    workspace = (
        None
        if type_.split(".")[0] in ("browser_profile", "browser_extension", "vault", "ai_credential")
        else WORKSPACE
    )
    return Update(seq, type_, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), workspace, UPDATES[type_])


@pytest.mark.parametrize("type_", list(UPDATES))
def test_every_update_moves_the_cursor_and_adds_a_feed_row(type_: str) -> None:
    message = fragments.render(update(type_), "admin", fragments.Enriched())
    family = type_.split(".")[0]
    assert (
        f'<div id="live-cursor" hx-swap-oob="true" data-seq="41" data-type="{type_}" data-family="{family}"'
        in message.html
    )
    assert 'hx-swap-oob="afterbegin:#feed-rows"' in message.rows and f'data-type="{type_}"' in message.rows
    assert message.text() == message.html + fragments.PART_BREAK + message.rows  # one message, two parses


@pytest.mark.parametrize(
    ("type_", "status"),
    [("runtime.started", "started"), ("runtime.stopped", "stopped"), ("runtime.failed", "failed")],
)
def test_a_runtime_update_swaps_its_badge_wherever_it_shows(type_: str, status: str) -> None:
    html = fragments.render(update(type_), "viewer", fragments.Enriched()).html
    assert f'<span id="runtime-status-{RUNTIME}" class="runtime-status" hx-swap-oob="true">' in html
    assert f'data-subject="{RUNTIME}"' in html  # the runtime page's regions listen for live:runtime-<id>
    if type_ == "runtime.failed":
        assert "runtime.crashed" in html


def test_a_runtime_update_brings_its_rows_for_both_lists() -> None:
    runtime = Runtime.from_api(
        {
            "id": RUNTIME,
            "alias": "buyer",
            "workspaceId": WORKSPACE,
            "status": "active",
            "startedAt": "2026-01-02T03:04:05Z",
        }
    )
    enriched = fragments.Enriched(runtimes={RUNTIME: runtime}, workspace_names={WORKSPACE: "Checkout"})
    rows = fragments.render(update("runtime.started"), "operator", enriched).rows
    assert f'hx-swap-oob="afterbegin:#runtime-rows-{WORKSPACE}"' in rows  # the workspace's list
    assert 'hx-swap-oob="afterbegin:#runtime-rows-all"' in rows and "Checkout" in rows  # every workspace's
    assert f'name="runtime" value="{WORKSPACE}/buyer"' in rows  # an operator may choose it for bulk stop
    viewer_rows = fragments.render(update("runtime.started"), "viewer", enriched).rows
    assert 'name="runtime"' not in viewer_rows


def test_an_operation_update_brings_its_status_progress_and_row() -> None:
    operation = Operation.from_api(
        {
            "id": OPERATION,
            "workspaceId": WORKSPACE,
            "runtime": "buyer",
            "call": "stagehand.agent.execute",
            "status": "running",
            "progress": {"step": 3, "totalSteps": 8, "message": "Opening the cart"},
            "createdAt": "2026-01-02T03:04:05Z",
        }
    )
    enriched = fragments.Enriched(operations={OPERATION: operation}, workspace_names={WORKSPACE: "Checkout"})
    message = fragments.render(update("operation.progress"), "viewer", enriched)
    assert (
        f'<span id="operation-status-{OPERATION}" hx-swap-oob="true"><span class="badge badge-running" data-live-badge>'
        in message.html
    )
    assert (
        f'<span id="operation-progress-{OPERATION}"' in message.html
        and 'value="38"' in message.html
        and "3/8" in message.html
    )
    assert (
        'hx-swap-oob="afterbegin:#operation-rows"' in message.rows
        and f'id="operation-row-{OPERATION}"' in message.rows
    )
    assert ">Checkout</a>" in message.rows  # the workspace by name, never a truncated UUID


def test_api_key_updates_are_for_admins_only() -> None:
    """An API that writes updates about its keys: only admins read keys in the console."""
    api_key = Update(7, "api_key.created", None, None, {"id": "k1", "name": "ci"})
    assert fragments.visible(api_key, "admin")
    assert not fragments.visible(api_key, "operator") and not fragments.visible(api_key, "viewer")
    assert all(fragments.visible(update(t), "viewer") for t in UPDATES)  # everything else, every role


def test_no_fragment_carries_more_than_the_update_said() -> None:
    """Updates never carry secrets; a fragment shows names and keys, never a value."""
    html = "".join(fragments.render(update(t), "admin", fragments.Enriched()).html for t in UPDATES)
    assert "password" not in html and "secret" not in html
