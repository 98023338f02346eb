"""Operations over real HTTP, on rows written straight into the engine's database.

Real agent runs create operations too (tests/engine/test_agent_operations.py); these tests pin
the states a run would take a while to reach (an operation left running, one already finished)
without a model or a browser, then drive them through the API. Waking a `wait` on cancel proves
waiters are woken from memory, not by a timeout.
"""

import json
import sqlite3
import threading
import uuid

import httpx

from tests.support.engine_process import EngineProcess


def insert_operation(engine: EngineProcess, workspace_id: str, status: str = "running") -> str:
    operation_id = uuid.uuid4()
    with sqlite3.connect(engine.var_dir / "engine.sqlite3", timeout=20) as db:
        db.execute(
            "INSERT INTO engine_operation (id, workspace_id, runtime_alias, call, args, status, progress,"
            " created_at, started_at) VALUES (?, ?, 'main', 'browserUse.agent.execute', '[]', ?, ?,"
            " datetime('now'), datetime('now'))",
            (operation_id.hex, uuid.UUID(workspace_id).hex, status, json.dumps({"step": 1, "totalSteps": 3})),
        )
    return str(operation_id)


def test_it_lists_a_workspaces_operations(
    engine: EngineProcess, client: httpx.Client, workspace_id: str
) -> None:
    assert client.get(f"/workspaces/{workspace_id}/operations").json() == {
        "operations": [],
        "nextCursor": None,
    }
    operation_id = insert_operation(engine, workspace_id)
    listed = client.get(f"/workspaces/{workspace_id}/operations", params={"status": "running"}).json()
    assert [o["id"] for o in listed["operations"]] == [operation_id]
    everywhere = client.get("/operations", params={"workspaceId": workspace_id}).json()
    assert everywhere["operations"][0]["progress"]["totalSteps"] == 3
    assert (
        client.get(f"/workspaces/{workspace_id}/operations", params={"status": "failed"}).json()["operations"]
        == []
    )


def test_it_answers_404_for_an_unknown_operation(client: httpx.Client) -> None:
    for operation_id in (str(uuid.uuid4()), "nope"):
        response = client.get(f"/operations/{operation_id}")
        assert response.status_code == 404 and response.json()["error"]["code"] == "operation.not_found"
    assert client.post(f"/operations/{uuid.uuid4()}/wait", json={}).status_code == 404


def test_wait_times_out_on_a_running_operation(
    engine: EngineProcess, client: httpx.Client, workspace_id: str
) -> None:
    operation_id = insert_operation(engine, workspace_id)
    body = client.post(f"/operations/{operation_id}/wait", json={"timeoutMs": 200}).json()
    assert body["timedOut"] is True and body["operation"]["status"] == "running"


def test_cancel_ends_it_and_wakes_a_waiter(
    engine: EngineProcess, client: httpx.Client, workspace_id: str
) -> None:
    operation_id = insert_operation(engine, workspace_id)
    answers: list[dict] = []
    waiter = threading.Thread(
        target=lambda: answers.append(
            client.post(f"/operations/{operation_id}/wait", json={"timeoutMs": 60000}).json()
        )
    )
    waiter.start()
    cancelled = client.post(f"/operations/{operation_id}/cancel")
    waiter.join(timeout=60)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert answers[0]["timedOut"] is False and answers[0]["operation"]["status"] == "cancelled"
    assert answers[0]["operation"]["finishedAt"]
    again = client.post(f"/operations/{operation_id}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "operation.not_active"


def test_a_read_key_may_wait_but_not_cancel(
    engine: EngineProcess, client: httpx.Client, workspace_id: str
) -> None:
    operation_id = insert_operation(engine, workspace_id, status="succeeded")
    with engine.client("read") as reader:
        waited = reader.post(f"/operations/{operation_id}/wait", json={"timeoutMs": 0})
        assert waited.status_code == 200, waited.text
        assert waited.json()["timedOut"] is False
        assert reader.post(f"/operations/{operation_id}/cancel").status_code == 403
