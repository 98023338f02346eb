"""Runtimes over real HTTP: launch real Chromium, list, get by alias, stop, and every refusal."""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.support.engine_process import EngineProcess
from tests.support.site import TestSite as Site


def launch(api: httpx.Client, workspace: dict, alias: str, **body: object) -> httpx.Response:
    return api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": alias, **body})


def insert_profile(engine: EngineProcess, config: dict | None = None) -> str:
    """A browser profile, made through the profiles API."""
    with engine.client("admin") as api:
        response = api.post("/browser-profiles", json={"name": "test profile", "config": config or {}})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_it_launches_a_runtime_ready_to_use(api: httpx.Client, workspace: dict) -> None:
    response = launch(api, workspace, "main", driver="stagehand")
    assert response.status_code == 200, response.text
    runtime = response.json()
    assert runtime["status"] == "active" and runtime["driver"] == "stagehand"
    assert runtime["summary"]["browserRunning"] is True
    assert runtime["summary"]["defaultPageId"].startswith("page_")
    assert runtime["summary"]["launchMode"] == "ephemeral"
    assert runtime["config"]["idleTimeoutSeconds"] == 900
    assert api.get(f"/workspaces/{workspace['id']}/runtimes/main").json()["id"] == runtime["id"]
    bindings = api.get(f"/workspaces/{workspace['id']}/state").json()["runtimes"][0]["bindings"]
    assert {
        "alias": "page",
        "id": runtime["summary"]["defaultPageId"],
        "type": "page",
        "url": "about:blank",
    } in bindings


def test_it_records_start_and_stop_in_the_update_log(api: httpx.Client, workspace: dict) -> None:
    runtime = launch(api, workspace, "logged").json()
    api.post(f"/workspaces/{workspace['id']}/runtimes/logged/stop")
    mine, after = [], "0"
    while after is not None:
        page = api.get("/updates", params={"limit": 500, "after": after}).json()
        mine += [u for u in page["updates"] if u["data"].get("runtimeId") == runtime["id"]]
        after = page["nextCursor"]
    assert [u["type"] for u in mine] == ["runtime.started", "runtime.stopped"]
    assert mine[0]["data"]["alias"] == "logged" and mine[0]["workspaceId"] == workspace["id"]


def test_it_refuses_a_bad_alias(api: httpx.Client, workspace: dict) -> None:
    response = launch(api, workspace, "Not_An_Alias")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"][0]["path"] == "alias"


def test_it_refuses_the_kinds_of_the_public_reference_it_does_not_run(
    api: httpx.Client, workspace: dict
) -> None:
    for kind in ("desktop", "spreadsheet"):
        response = launch(api, workspace, f"{kind}-one", kind=kind)
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "runtime.kind_unavailable" and kind in error["message"]
        assert error["details"] == {"kind": kind, "available": ["browser"]}
    assert launch(api, workspace, "robot", kind="robot").json()["error"]["code"] == "request.invalid"
    assert api.get(f"/workspaces/{workspace['id']}/runtimes").json()["runtimes"] == []


def test_it_refuses_a_second_active_runtime_with_the_same_alias(api: httpx.Client, workspace: dict) -> None:
    first = launch(api, workspace, "twin").json()
    again = launch(api, workspace, "twin")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "runtime.alias_in_use"
    assert api.post(f"/workspaces/{workspace['id']}/runtimes/twin/stop").json()["status"] == "stopped"
    relaunched = launch(api, workspace, "twin")
    assert relaunched.status_code == 200
    assert relaunched.json()["id"] != first["id"]
    assert api.get(f"/workspaces/{workspace['id']}/runtimes/twin").json()["id"] == relaunched.json()["id"]


def test_it_refuses_to_stop_or_execute_on_a_stopped_runtime(api: httpx.Client, workspace: dict) -> None:
    launch(api, workspace, "brief")
    stopped = api.post(f"/workspaces/{workspace['id']}/runtimes/brief/stop")
    assert stopped.status_code == 200 and stopped.json()["stoppedAt"]
    assert stopped.json()["summary"]["browserRunning"] is False
    again = api.post(f"/workspaces/{workspace['id']}/runtimes/brief/stop")
    assert again.status_code == 409 and again.json()["error"]["code"] == "runtime.not_active"
    execute = api.post(
        f"/workspaces/{workspace['id']}/execute", json={"runtime": "brief", "steps": [{"call": "page.url"}]}
    )
    assert execute.status_code == 409 and execute.json()["error"]["code"] == "runtime.not_active"
    events = api.get(f"/workspaces/{workspace['id']}/runtimes/brief/events").json()["events"]
    assert [e["eventType"] for e in events][-1] == "runtime.stopped"


def test_it_answers_404_for_unknown_workspaces_and_aliases(api: httpx.Client, workspace: dict) -> None:
    missing = api.get(f"/workspaces/{uuid.uuid4()}/runtimes/main")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "workspace.not_found"
    unknown = api.get(f"/workspaces/{workspace['id']}/runtimes/nobody")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "runtime.not_found"
    assert launch(api, {"id": str(uuid.uuid4())}, "x").status_code == 404


def test_it_lists_runtimes_by_status(api: httpx.Client, workspace: dict) -> None:
    launch(api, workspace, "kept")
    launch(api, workspace, "gone")
    api.post(f"/workspaces/{workspace['id']}/runtimes/gone/stop")
    active = api.get(f"/workspaces/{workspace['id']}/runtimes", params={"status": "active"}).json()
    assert [r["alias"] for r in active["runtimes"]] == ["kept"]
    page = api.get(f"/workspaces/{workspace['id']}/runtimes", params={"limit": 1}).json()
    assert len(page["runtimes"]) == 1 and page["nextCursor"]


def test_it_never_shows_the_proxy_password(api: httpx.Client, workspace: dict) -> None:
    proxy = {"server": "http://127.0.0.1:9", "username": "me", "password": "hunter2-secret"}
    response = launch(api, workspace, "proxied", launch={"mode": "ephemeral", "config": {"proxy": proxy}})
    assert response.status_code == 200, response.text
    assert response.json()["config"]["proxy"] == {"server": "http://127.0.0.1:9", "username": "me"}
    listed = api.get(f"/workspaces/{workspace['id']}/runtimes").text
    assert "hunter2-secret" not in response.text + listed


def test_it_applies_the_launch_config(api: httpx.Client, workspace: dict, site: Site) -> None:
    config = {
        "viewport": {"width": 800, "height": 600},
        "userAgent": "bctrl-test/1",
        "timezoneId": "Asia/Tokyo",
    }
    launch(api, workspace, "tuned", launch={"mode": "ephemeral", "config": config})
    steps = [
        {
            "call": "page.evaluate",
            "args": ["[innerWidth, navigator.userAgent, Intl.DateTimeFormat().resolvedOptions().timeZone]"],
        }
    ]
    result = api.post(
        f"/workspaces/{workspace['id']}/execute", json={"runtime": "tuned", "steps": steps}
    ).json()
    assert result["steps"][0]["result"] == [800, "bctrl-test/1", "Asia/Tokyo"]


def test_it_refuses_bad_launch_configs(api: httpx.Client, workspace: dict) -> None:
    bad = [
        {"mode": "ephemeral", "config": {"extensionIds": [str(uuid.uuid4())]}},
        {"mode": "ephemeral", "config": {"timezoneId": "Mars/Olympus"}},
        {"mode": "ephemeral", "config": {"proxy": {"server": "ftp://x"}}},
    ]
    for launch_body in bad:
        response = launch(api, workspace, "bad", launch=launch_body)
        assert response.status_code == 400, response.text
    missing = launch(api, workspace, "bad", launch={"mode": "profile", "profileId": str(uuid.uuid4())})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "profile.not_found"
    assert api.get(f"/workspaces/{workspace['id']}/runtimes").json()["runtimes"] == []


def test_it_refuses_mounts_wider_than_the_workspace(api: httpx.Client, workspace: dict) -> None:
    response = launch(api, workspace, "wide", mounts={"vault": {"allow": ["prod/"]}})
    assert response.status_code == 403 and response.json()["error"]["code"] == "auth.forbidden"


def test_it_keeps_a_profile_between_launches_and_lends_it_once(
    engine: EngineProcess, api: httpx.Client, workspace: dict, site: Site
) -> None:
    profile_id = insert_profile(engine, {"locale": "de-DE"})
    profile_launch = {"mode": "profile", "profileId": profile_id}
    first = launch(api, workspace, "p1", launch=profile_launch)
    assert first.status_code == 200 and first.json()["summary"]["profileId"] == profile_id
    assert first.json()["config"]["locale"] == "de-DE"
    busy = launch(api, workspace, "p2", launch=profile_launch)
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "profile.in_use"
    remember = [
        {"call": "page.goto", "args": [f"{site.url}/index.html"]},
        {"call": "page.evaluate", "args": ["localStorage.setItem('who', 'profile-kept')"]},
    ]
    api.post(f"/workspaces/{workspace['id']}/execute", json={"runtime": "p1", "steps": remember})
    api.post(f"/workspaces/{workspace['id']}/runtimes/p1/stop")
    assert launch(api, workspace, "p2", launch=profile_launch).status_code == 200
    recall = [
        {"call": "page.goto", "args": [f"{site.url}/index.html"]},
        {"call": "page.evaluate", "args": ["localStorage.getItem('who')"]},
    ]
    result = api.post(
        f"/workspaces/{workspace['id']}/execute", json={"runtime": "p2", "steps": recall}
    ).json()
    assert result["steps"][1]["result"] == "profile-kept"


def test_it_launches_three_runtimes_at_once(api: httpx.Client, workspace: dict) -> None:
    with ThreadPoolExecutor(3) as pool:
        responses = list(pool.map(lambda i: launch(api, workspace, f"par-{i}"), range(3)))
    assert [r.status_code for r in responses] == [200, 200, 200], [r.text for r in responses]
    assert len({r.json()["summary"]["defaultPageId"] for r in responses}) == 3


def test_it_replays_a_launch_with_the_same_idempotency_key(api: httpx.Client, workspace: dict) -> None:
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    url = f"/workspaces/{workspace['id']}/runtimes"
    first = api.post(url, json={"alias": "once"}, headers=headers)
    again = api.post(url, json={"alias": "once"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert api.post(url, json={"alias": "other"}, headers=headers).status_code == 409


def test_it_stops_a_runtime_left_idle(api: httpx.Client, workspace: dict) -> None:
    launch(api, workspace, "sleepy", launch={"mode": "ephemeral", "config": {"idleTimeoutSeconds": 1}})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runtime = api.get(f"/workspaces/{workspace['id']}/runtimes/sleepy").json()
        if runtime["status"] != "active":
            break
        time.sleep(0.2)
    assert runtime["status"] == "stopped" and runtime["stopReason"] == "idle"
    events = api.get(
        f"/workspaces/{workspace['id']}/runtimes/sleepy/events", params={"eventTypes": "runtime.stopped"}
    )
    assert events.json()["events"][0]["eventData"]["reason"] == "idle"


def test_a_watching_wait_does_not_keep_a_runtime_from_idling_out(api: httpx.Client, workspace: dict) -> None:
    """A console's live inspector waits on the events of the runtime it shows: watching is not
    using, so the runtime still stops when idle (a plain wait keeps it, as a client is using it)."""
    launch(api, workspace, "watched-idle", launch={"mode": "ephemeral", "config": {"idleTimeoutSeconds": 1}})
    url = f"/workspaces/{workspace['id']}/runtimes/watched-idle"
    events = api.get(f"{url}/events", params={"limit": 500}).json()["events"]
    waited = api.post(
        f"{url}/events/wait",
        json={
            "after": events[-1]["sequence"],
            "eventTypes": ["runtime.stopped"],
            "timeoutMs": 30_000,
            "keepAlive": False,
        },
        timeout=60,
    ).json()
    # it ended under the wait (a wait that kept it would have timed out, the runtime still active)
    assert waited["timedOut"] is False
    runtime = api.get(url).json()
    assert runtime["status"] == "stopped" and runtime["stopReason"] == "idle"
