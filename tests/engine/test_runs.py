"""Every run by id: the organisation-wide list, one run, its events, and why it stopped.

A reused alias names only its newest run in the workspace routes; these routes keep the older
runs (their events, config and stop reason) reachable.
"""

import httpx

from tests.support.engine_process import EngineProcess


def launch(api: httpx.Client, workspace: dict, alias: str) -> dict:
    response = api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": alias})
    assert response.status_code == 200, response.text
    return response.json()


def stop(api: httpx.Client, workspace: dict, alias: str) -> dict:
    response = api.post(f"/workspaces/{workspace['id']}/runtimes/{alias}/stop")
    assert response.status_code == 200, response.text
    return response.json()


def test_an_older_run_of_a_reused_alias_keeps_its_own_page_and_events(
    api: httpx.Client, workspace: dict
) -> None:
    first = launch(api, workspace, "shop2")
    api.post(
        f"/workspaces/{workspace['id']}/execute",
        json={"runtime": "shop2", "steps": [{"call": "page.evaluate", "args": ["1 + 1"]}]},
    )
    assert stop(api, workspace, "shop2")["stopReason"] == "requested"
    second = launch(api, workspace, "shop2")
    assert api.get(f"/workspaces/{workspace['id']}/runtimes/shop2").json()["id"] == second["id"]

    older = api.get(f"/runtimes/{first['id']}").json()
    assert older["id"] == first["id"] and older["status"] == "stopped" and older["stopReason"] == "requested"
    first_events = api.get(f"/runtimes/{first['id']}/events").json()["events"]
    second_events = api.get(f"/runtimes/{second['id']}/events").json()["events"]
    assert [e["eventType"] for e in first_events if e["eventType"].startswith(("runtime.", "step."))] == [
        "runtime.started",
        "step.started",
        "step.finished",
        "runtime.stopped",
    ]
    assert not {e["id"] for e in first_events} & {e["id"] for e in second_events}
    assert api.get(f"/runtimes/{second['id']}").json()["stopReason"] is None


def test_it_lists_every_run_newest_first_with_filters(api: httpx.Client, workspace: dict) -> None:
    first = launch(api, workspace, "again")
    stop(api, workspace, "again")
    second = launch(api, workspace, "again")
    mine = api.get("/runtimes", params={"workspaceId": workspace["id"]}).json()
    assert [r["id"] for r in mine["runtimes"]] == [second["id"], first["id"]]
    active = api.get("/runtimes", params={"workspaceId": workspace["id"], "status": "active"}).json()
    assert [r["id"] for r in active["runtimes"]] == [second["id"]]
    page = api.get("/runtimes", params={"workspaceId": workspace["id"], "limit": 1}).json()
    rest = api.get(
        "/runtimes", params={"workspaceId": workspace["id"], "limit": 1, "cursor": page["nextCursor"]}
    ).json()
    assert [r["id"] for r in page["runtimes"] + rest["runtimes"]] == [second["id"], first["id"]]
    assert rest["nextCursor"] is None
    other = launch(api, workspace, "other")
    runs_of_again = api.get("/runtimes", params={"workspaceId": workspace["id"], "alias": "again"}).json()
    assert [r["id"] for r in runs_of_again["runtimes"]] == [second["id"], first["id"]]
    everyone = api.get("/runtimes", params={"limit": 500}).json()["runtimes"]
    assert other["id"] in {r["id"] for r in everyone}
    assert {first["id"], second["id"]} <= {r["id"] for r in everyone}


def test_an_unknown_or_malformed_run_id_is_a_404(api: httpx.Client) -> None:
    for runtime_id in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        for path in (f"/runtimes/{runtime_id}", f"/runtimes/{runtime_id}/events"):
            response = api.get(path)
            assert response.status_code == 404, path
            assert response.json()["error"]["code"] == "runtime.not_found"


def test_it_refuses_bad_filters(api: httpx.Client) -> None:
    for params in (
        {"status": "sleeping"},
        {"workspaceId": "nope"},
        {"alias": "Not An Alias"},
        {"limit": 0},
        {"cursor": "garbage"},
    ):
        response = api.get("/runtimes", params=params)
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] == "request.invalid"


def test_a_read_key_may_read_every_run(engine: EngineProcess, api: httpx.Client, workspace: dict) -> None:
    run = launch(api, workspace, "readable")
    with engine.client("read") as reader:
        assert reader.get(f"/runtimes/{run['id']}").status_code == 200
        assert reader.get(f"/runtimes/{run['id']}/events").status_code == 200
        assert reader.get("/runtimes").status_code == 200
