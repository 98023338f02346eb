"""Browser profiles over real HTTP, and a real Chromium keeping a cookie between two launches."""

import uuid

import httpx

from tests.support.engine_process import EngineProcess
from tests.support.site import TestSite as Site


def create(api: httpx.Client, **fields: object) -> httpx.Response:
    return api.post("/browser-profiles", json={"name": f"profile-{uuid.uuid4().hex[:6]}", **fields})


def test_it_creates_and_gets_a_profile(api: httpx.Client) -> None:
    response = create(
        api,
        description="CRM login",
        config={
            "viewport": {"width": 1024, "height": 700},
            "locale": "fr-FR",
            "proxy": {"server": "http://p:3128", "username": "u", "password": "proxy-pw"},
        },
    )
    assert response.status_code == 201
    profile = response.json()
    assert profile["description"] == "CRM login" and profile["config"]["locale"] == "fr-FR"
    assert profile["config"]["proxy"] == {"server": "http://p:3128", "username": "u", "hasPassword": True}
    assert "proxy-pw" not in response.text
    assert (profile["sizeBytes"], profile["lastUsedAt"], profile["inUse"], profile["extensionIds"]) == (
        0,
        None,
        None,
        [],
    )
    assert api.get(f"/browser-profiles/{profile['id']}").json()["name"] == profile["name"]


def test_it_lists_with_a_cursor_and_a_name_filter(api: httpx.Client) -> None:
    tag = uuid.uuid4().hex[:6]
    ids = {api.post("/browser-profiles", json={"name": f"list-{tag}-{i}"}).json()["id"] for i in range(3)}
    first = api.get("/browser-profiles", params={"q": f"list-{tag}", "limit": 2}).json()
    rest = api.get(
        "/browser-profiles", params={"q": f"list-{tag}", "limit": 2, "cursor": first["nextCursor"]}
    ).json()
    assert {p["id"] for p in first["profiles"] + rest["profiles"]} == ids and rest["nextCursor"] is None


def test_it_refuses_unknown_extensions(api: httpx.Client) -> None:
    response = create(api, extensionIds=[str(uuid.uuid4())])
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"][0]["path"] == "extensionIds.0"


def test_it_replays_a_create_with_the_same_idempotency_key(api: httpx.Client) -> None:
    key = uuid.uuid4().hex
    first = api.post("/browser-profiles", json={"name": "once"}, headers={"Idempotency-Key": key})
    again = api.post("/browser-profiles", json={"name": "once"}, headers={"Idempotency-Key": key})
    assert first.json()["id"] == again.json()["id"]


def test_it_patches_and_keeps_the_proxy_password(api: httpx.Client) -> None:
    profile = create(api, config={"proxy": {"server": "http://p:3128", "password": "kept"}}).json()
    patched = api.patch(
        f"/browser-profiles/{profile['id']}",
        json={"name": "renamed", "config": {"proxy": {"server": "http://p:3128"}, "locale": "de-DE"}},
    )
    assert patched.status_code == 200
    assert patched.json()["name"] == "renamed" and patched.json()["config"]["proxy"]["hasPassword"] is True


def test_it_deletes_a_profile(api: httpx.Client) -> None:
    profile_id = create(api).json()["id"]
    assert api.delete(f"/browser-profiles/{profile_id}").status_code == 204
    response = api.get(f"/browser-profiles/{profile_id}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "profile.not_found"


def test_a_profile_keeps_cookies_between_launches(
    api: httpx.Client, engine: EngineProcess, workspace: dict, site: Site
) -> None:
    profile_id = create(api).json()["id"]
    runtimes = f"/workspaces/{workspace['id']}/runtimes"
    launch = {"alias": "keeper", "launch": {"mode": "profile", "profileId": profile_id}}

    def execute(*steps: dict) -> dict:
        return api.post(
            f"/workspaces/{workspace['id']}/execute", json={"runtime": "keeper", "steps": list(steps)}
        ).json()

    assert api.post(runtimes, json=launch).status_code == 200
    in_use = api.get(f"/browser-profiles/{profile_id}").json()["inUse"]
    assert in_use == {"workspaceId": workspace["id"], "runtime": "keeper"}
    busy = api.delete(f"/browser-profiles/{profile_id}")
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "profile.in_use"
    first = execute(
        {"call": "page.goto", "args": [f"{site.url}/index.html"]},
        {"call": "page.evaluate", "args": ["document.cookie = 'remember=me-123; max-age=86400; path=/'"]},
    )
    assert first["status"] == "succeeded", first
    assert api.post(f"{runtimes}/keeper/stop").status_code == 200

    assert api.post(runtimes, json=launch).status_code == 200
    second = execute(
        {"call": "page.goto", "args": [f"{site.url}/index.html"]},
        {"call": "page.evaluate", "args": ["document.cookie"]},
    )
    assert "remember=me-123" in second["steps"][1]["result"], second
    api.post(f"{runtimes}/keeper/stop")

    profile = api.get(f"/browser-profiles/{profile_id}").json()
    assert profile["inUse"] is None and profile["lastUsedAt"] and profile["sizeBytes"] > 0
    data_dir = engine.var_dir / "profiles" / profile_id
    assert data_dir.exists()
    assert api.delete(f"/browser-profiles/{profile_id}").status_code == 204
    assert not data_dir.exists()


def test_it_keeps_the_proxy_password_encrypted_at_rest(
    api: httpx.Client, engine: EngineProcess, workspace: dict
) -> None:
    password = f"proxy-{uuid.uuid4().hex}"
    proxy = {"server": "http://127.0.0.1:9", "username": "u", "password": password}
    profile = create(api, config={"proxy": proxy}).json()
    stored = b"".join(p.read_bytes() for p in engine.var_dir.glob("engine.sqlite3*") if p.is_file())
    assert password.encode() not in stored
    # and the launch gets it back: a profile runtime with the proxy starts
    launched = api.post(
        f"/workspaces/{workspace['id']}/runtimes",
        json={"alias": "proxied", "launch": {"mode": "profile", "profileId": profile["id"]}},
    )
    assert launched.status_code == 200, launched.text
    assert password not in launched.text
    api.post(f"/workspaces/{workspace['id']}/runtimes/proxied/stop")
