"""A running runtime follows its workspace's mounts (over real HTTP, with a real browser): a
prefix the workspace adds reaches it at its next step, and a refusal says what to change."""

import httpx


def _totp(api: httpx.Client, workspace_id: str, key: str) -> dict:
    body = api.post(
        f"/workspaces/{workspace_id}/execute",
        json={"runtime": "follower", "steps": [{"call": "vault.totp", "args": [key]}]},
        timeout=60,
    ).json()
    return body["steps"][0]["error"]


def test_a_running_runtime_follows_its_workspaces_vault_prefixes(api: httpx.Client, workspace: dict) -> None:
    ws = workspace["id"]
    assert api.patch(f"/workspaces/{ws}", json={"mounts": {"vault": {"allow": ["crm/"]}}}).status_code == 200
    launched = api.post(f"/workspaces/{ws}/runtimes", json={"alias": "follower"}, timeout=120)
    assert launched.status_code == 200, launched.text
    try:
        refused = _totp(api, ws, "erp/login")
        assert refused["code"] == "vault.forbidden" and "workspace's mounts.vault" in refused["message"]

        changed = api.patch(f"/workspaces/{ws}", json={"mounts": {"vault": {"allow": ["crm/", "erp/"]}}})
        assert changed.status_code == 200 and changed.json()["runtimesUpdated"] == 1
        runtime = api.get(f"/workspaces/{ws}/runtimes/follower").json()
        assert runtime["mounts"]["vault"]["allow"] == ["crm/", "erp/"]  # what the runtime page shows
        # allowed now: the next refusal is that no such entry exists, not the mount
        assert _totp(api, ws, "erp/login")["code"] == "vault.not_found"
    finally:
        api.post(f"/workspaces/{ws}/runtimes/follower/stop")


def test_a_launch_narrowing_is_kept_and_named(api: httpx.Client, workspace: dict) -> None:
    ws = workspace["id"]
    api.patch(f"/workspaces/{ws}", json={"mounts": {"vault": {"allow": ["crm/", "erp/"]}}})
    narrowed = {"alias": "follower", "mounts": {"vault": {"allow": ["crm/"]}}}
    assert api.post(f"/workspaces/{ws}/runtimes", json=narrowed, timeout=120).status_code == 200
    try:
        refused = _totp(api, ws, "erp/login")
        assert refused["code"] == "vault.forbidden" and "this runtime's launch narrowed" in refused["message"]
        # a change of the workspace that leaves its narrowing as it was changes nothing in it
        changed = api.patch(
            f"/workspaces/{ws}", json={"mounts": {"vault": {"allow": ["crm/", "erp/", "hr/"]}}}
        )
        assert changed.json()["runtimesUpdated"] == 0
    finally:
        api.post(f"/workspaces/{ws}/runtimes/follower/stop")


def test_a_runtime_says_which_vault_keys_its_steps_may_use(api: httpx.Client, workspace: dict) -> None:
    ws = workspace["id"]
    tag = workspace["id"][:8]
    for key in (f"k{tag}/crm/login", f"k{tag}/crm/admin", f"k{tag}/erp/login"):
        api.put(f"/vault/{key}", json={"username": "u", "password": "p"})
    mounts = {"vault": {"allow": [f"k{tag}/crm/"], "deny": [f"k{tag}/crm/admin"]}}
    api.patch(f"/workspaces/{ws}", json={"mounts": mounts})
    assert api.post(f"/workspaces/{ws}/runtimes", json={"alias": "picker"}, timeout=120).status_code == 200
    try:
        listed = api.get(f"/workspaces/{ws}/runtimes/picker/vault-keys").json()
        assert listed == {"keys": [f"k{tag}/crm/login"], "truncated": False}  # names only, deny honoured
    finally:
        api.post(f"/workspaces/{ws}/runtimes/picker/stop")
        for key in (f"k{tag}/crm/login", f"k{tag}/crm/admin", f"k{tag}/erp/login"):
            api.delete(f"/vault/{key}")
