"""Workspace pages against the real engine; faults it cannot produce come from tests/console/faults.py."""

import uuid

import httpx
import pytest
from django.test import Client

from dashboard.audit.models import AuditEntry
from dashboard.bctrl.client import reset_clients, use_transport
from tests.console.faults import Faults, api_error, bad_gateway, refused, timeout
from tests.support.engine_process import EngineProcess, free_port
from tests.support.html import link_query, region


def launch(api: httpx.Client, workspace_id: str, alias: str) -> httpx.Response:
    """A real ephemeral browser runtime (a second or two of Chromium start-up)."""
    return api.post(
        f"/workspaces/{workspace_id}/runtimes",
        json={"alias": alias, "kind": "browser", "driver": "playwright", "launch": {"mode": "ephemeral"}},
        timeout=120,
    )


def _named(api: httpx.Client, name: str) -> list[dict]:
    return api.get("/workspaces", params={"q": name}).json()["workspaces"]


def _made(api: httpx.Client, prefix: str, **body: object) -> dict:
    response = api.post("/workspaces", json={"name": f"{prefix}-{uuid.uuid4().hex[:6]}", **body})
    assert response.status_code == 201, response.text
    return response.json()


# --- list -------------------------------------------------------------------------------------


def test_it_lists_workspaces_from_the_api(viewer_client: Client, api: httpx.Client) -> None:
    name = _made(api, "listed")["name"]
    response = viewer_client.get("/workspaces/", {"q": name})
    assert response.status_code == 200
    assert name in response.content.decode()


def test_it_renders_only_the_table_for_htmx(viewer_client: Client) -> None:
    response = viewer_client.get("/workspaces/", {"q": "zzz-none"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert 'id="workspace-table"' in body and "<html" not in body
    assert "No workspace matches" in body


def test_it_refreshes_the_count_with_the_table(viewer_client: Client, api: httpx.Client) -> None:
    name = _made(api, "counted")["name"]
    response = viewer_client.get("/workspaces/", {"q": name}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert 'id="workspace-count"' in body and 'hx-swap-oob="true"' in body
    assert ">1 matching<" in body


def test_it_pages_with_the_cursor(viewer_client: Client, api: httpx.Client) -> None:
    prefix = f"paged-{uuid.uuid4().hex[:6]}"
    for n in range(27):
        api.post("/workspaces", json={"name": f"{prefix}-{n}"})
    first = viewer_client.get("/workspaces/", {"q": prefix}).content.decode()
    assert "25+ matching" in first and "Next page" in first
    cursor = link_query(first, "Next page")["cursor"]
    second = viewer_client.get("/workspaces/", {"q": prefix, "cursor": cursor}).content.decode()
    assert "2 shown" in second and "First page" in second


# --- create -----------------------------------------------------------------------------------


def test_it_creates_a_workspace_and_audits_it(operator_client: Client, api: httpx.Client) -> None:
    name = f"made-{uuid.uuid4().hex[:6]}"
    response = operator_client.post("/workspaces/new/", {"name": name, "idempotency_key": uuid.uuid4().hex})
    assert response.status_code == 302
    listed = _named(api, name)
    assert len(listed) == 1
    entry = AuditEntry.objects.get(action="workspace.create")
    assert entry.username == "oscar" and entry.outcome == "succeeded" and entry.target_id == listed[0]["id"]


def test_it_creates_with_mounts(operator_client: Client, api: httpx.Client) -> None:
    name = f"mounted-{uuid.uuid4().hex[:6]}"
    operator_client.post(
        "/workspaces/new/",
        {
            "name": name,
            "vault_allow": ["prod/crm/", ""],
            "vault_deny": ["prod/crm/admin/"],
            "storage_namespace": "exports",
        },
    )
    mounts = _named(api, name)[0]["mounts"]
    assert mounts["vault"]["allow"] == ["prod/crm/"] and mounts["vault"]["deny"] == ["prod/crm/admin/"]
    assert mounts["storage"]["workspace"] == "exports"


def test_a_created_workspace_sends_htmx_to_its_page(operator_client: Client) -> None:
    response = operator_client.post(
        "/workspaces/new/", {"name": f"hx-{uuid.uuid4().hex[:6]}"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and response["HX-Redirect"].startswith("/workspaces/")


def test_a_double_submit_creates_one_workspace(operator_client: Client, api: httpx.Client) -> None:
    name = f"twice-{uuid.uuid4().hex[:6]}"
    key = uuid.uuid4().hex
    for _ in range(2):
        operator_client.post("/workspaces/new/", {"name": name, "idempotency_key": key})
    assert len(_named(api, name)) == 1


def test_a_second_workspace_of_the_same_name_is_refused_with_a_link_to_the_first(
    operator_client: Client, api: httpx.Client
) -> None:
    name = f"Acme {uuid.uuid4().hex[:6]}"
    first = api.post("/workspaces", json={"name": name}).json()
    response = operator_client.post("/workspaces/new/", {"name": f"  {name.upper()} "})
    body = response.content.decode()
    assert response.status_code == 422
    assert "already exists" in body and f'href="/workspaces/{first["id"]}/"' in body
    assert len(_named(api, name)) == 1
    # renaming another workspace to it is refused too; keeping one's own name is not
    other = api.post("/workspaces", json={"name": f"other {uuid.uuid4().hex[:6]}"}).json()
    renamed = operator_client.post(f"/workspaces/{other['id']}/edit/", {"name": name})
    assert renamed.status_code == 422 and "already exists" in renamed.content.decode()
    assert operator_client.post(f"/workspaces/{first['id']}/edit/", {"name": name}).status_code == 302


def test_it_shows_the_apis_field_errors_next_to_the_field(operator_client: Client, api: httpx.Client) -> None:
    # credentials unlisted → free-text ids; the engine refuses one that does not exist (400, mounts.ai)
    use_transport(Faults({"GET /v1/ai-credentials": bad_gateway()}))
    name = f"badcred-{uuid.uuid4().hex[:6]}"
    response = operator_client.post("/workspaces/new/", {"name": name, "ai_allow": "no-such-credential"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "no-such-credential" in body and 'class="field-error"' in body
    assert _named(api, name) == []


# --- detail -----------------------------------------------------------------------------------


def test_it_shows_a_workspace_with_its_mounts(viewer_client: Client, api: httpx.Client) -> None:
    workspace = _made(
        api, "shown", mounts={"vault": {"allow": ["team/"], "deny": [], "allowRawReads": False}}
    )
    body = viewer_client.get(f"/workspaces/{workspace['id']}/").content.decode()
    assert workspace["name"] in body and "<code>team/</code>" in body
    for part in ("runtimes", "operations", "bindings", "artifacts"):
        assert f'id="region-{part}"' in body


def test_a_failing_region_does_not_blank_the_page(viewer_client: Client, api: httpx.Client) -> None:
    workspace = _made(api, "halfway")
    use_transport(Faults({f"GET /v1/workspaces/{workspace['id']}/artifacts": bad_gateway()}))
    response = viewer_client.get(f"/workspaces/{workspace['id']}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert workspace["name"] in body
    artifacts = region(body, "region-artifacts")
    assert "The API failed" in artifacts and "?region=artifacts" in artifacts
    assert "Nothing running." in body  # the state region still came from the engine


def test_it_retries_one_region_for_htmx(viewer_client: Client, api: httpx.Client) -> None:
    workspace = _made(api, "retried")
    response = viewer_client.get(
        f"/workspaces/{workspace['id']}/", {"region": "operations"}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert "<html" not in body and 'id="region-operations"' in body and "Nothing running." in body


def test_a_missing_workspace_is_a_404_state(viewer_client: Client) -> None:
    response = viewer_client.get(f"/workspaces/{uuid.uuid4()}/")
    body = response.content.decode()
    assert response.status_code == 404
    assert "no longer exists" in body and "Request id" in body


# --- edit -------------------------------------------------------------------------------------


def test_it_edits_name_and_mounts(operator_client: Client, api: httpx.Client) -> None:
    workspace = _made(api, "before")
    page = operator_client.get(f"/workspaces/{workspace['id']}/edit/").content.decode()
    assert workspace["name"] in page and 'list="vault-prefixes"' in page
    response = operator_client.post(
        f"/workspaces/{workspace['id']}/edit/",
        {
            "name": "after",
            "vault_allow": ["shop/"],
            "vault_raw_reads": "on",
            "storage_namespace": "shop-files",
        },
    )
    assert response.status_code == 302
    saved = api.get(f"/workspaces/{workspace['id']}").json()
    assert saved["name"] == "after"
    # raw reads are an admin's grant: an operator's form shows the box disabled and ignores it
    assert saved["mounts"]["vault"] == {"allow": ["shop/"], "deny": [], "allowRawReads": False}
    assert saved["mounts"]["storage"] == {"workspace": "shop-files"}
    assert AuditEntry.objects.filter(action="workspace.update", target_id=workspace["id"]).exists()


def test_running_runtimes_follow_an_edit_of_the_mounts_and_show_them(
    operator_client: Client, api: httpx.Client, workspace: dict
) -> None:
    ws = workspace["id"]
    api.patch(f"/workspaces/{ws}", json={"mounts": {"vault": {"allow": ["crm/"]}}})
    assert api.post(f"/workspaces/{ws}/runtimes", json={"alias": "desk"}, timeout=120).status_code == 200
    try:
        form = operator_client.get(f"/workspaces/{ws}/edit/").content.decode()
        assert "The 1 running now" in form and "follow them too" in form
        response = operator_client.post(
            f"/workspaces/{ws}/edit/",
            {"name": workspace["name"], "vault_allow": ["crm/", "erp/"]},
            follow=True,
        )
        assert "1 running runtime(s) now run with the new mounts" in response.content.decode()
        runtime_page = operator_client.get(f"/workspaces/{ws}/runtimes/desk/").content.decode()
        mounts = region(runtime_page, "runtime-mounts")
        assert "<code>crm/</code>, <code>erp/</code>" in mounts
    finally:
        api.post(f"/workspaces/{ws}/runtimes/desk/stop")


def test_only_an_admin_grants_raw_vault_reads(
    admin_client: Client, operator_client: Client, api: httpx.Client
) -> None:
    workspace = _made(api, "raw")
    form = {"name": "raw", "vault_allow": ["shop/"], "vault_raw_reads": "on"}
    page = operator_client.get(f"/workspaces/{workspace['id']}/edit/").content.decode()
    assert "Only an admin can change this." in page
    assert admin_client.post(f"/workspaces/{workspace['id']}/edit/", form).status_code == 302
    assert api.get(f"/workspaces/{workspace['id']}").json()["mounts"]["vault"]["allowRawReads"] is True
    # an operator's save keeps the admin's grant rather than dropping it
    assert (
        operator_client.post(f"/workspaces/{workspace['id']}/edit/", {**form, "name": "renamed"}).status_code
        == 302
    )
    saved = api.get(f"/workspaces/{workspace['id']}").json()
    assert saved["name"] == "renamed" and saved["mounts"]["vault"]["allowRawReads"] is True
    # but under raw reads the mounts are an admin's to change: widening what an operator may read
    # raw is refused by the API (the console acts with its user's role), and nothing changes
    widened = operator_client.post(
        f"/workspaces/{workspace['id']}/edit/", {**form, "name": "renamed", "vault_allow": ["shop/", "bank/"]}
    )
    assert widened.status_code == 403 and "only an admin key may set it" in widened.content.decode()
    assert api.get(f"/workspaces/{workspace['id']}").json()["mounts"]["vault"]["allow"] == ["shop/"]


def test_the_editor_keeps_existing_mounts(operator_client: Client, api: httpx.Client) -> None:
    workspace = _made(
        api, "kept", mounts={"vault": {"allow": ["a/b/"], "deny": ["a/b/c/"], "allowRawReads": True}}
    )
    page = operator_client.get(f"/workspaces/{workspace['id']}/edit/").content.decode()
    assert 'value="a/b/"' in page and 'value="a/b/c/"' in page and "checked" in page


def test_it_rejects_a_bad_namespace_before_calling_the_api(
    operator_client: Client, api: httpx.Client
) -> None:
    workspace = _made(api, "badns")
    response = operator_client.post(
        f"/workspaces/{workspace['id']}/edit/", {"name": "x", "storage_namespace": "../etc"}
    )
    assert response.status_code == 422 and "Use letters, digits" in response.content.decode()
    assert api.get(f"/workspaces/{workspace['id']}").json()["name"] == workspace["name"]


def test_the_editor_falls_back_to_free_text_when_lists_fail(
    operator_client: Client, api: httpx.Client
) -> None:
    workspace = _made(api, "fallback")
    use_transport(
        Faults(
            {
                "GET /v1/ai-credentials": timeout(),
                "GET /v1/vault": bad_gateway(),
                "GET /v1/storage": refused(),
            }
        )
    )
    response = operator_client.get(f"/workspaces/{workspace['id']}/edit/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Couldn't list AI credentials" in body and '<textarea name="ai_allow"' in body
    assert "Couldn't list vault keys" in body and "Couldn't list storage namespaces" in body


def test_it_offers_ai_credentials_and_vault_prefixes(operator_client: Client, api: httpx.Client) -> None:
    credential = api.post(
        "/ai-credentials",
        json={
            "id": f"c{uuid.uuid4().hex[:8]}",
            "provider": "openai",
            "label": "Team key",
            "apiKey": "sk-test",
        },
    )
    entry = api.put(f"/vault/offer{uuid.uuid4().hex[:4]}/crm/login", json={"username": "u", "password": "p"})
    if credential.status_code in (404, 405) or entry.status_code in (404, 405):
        pytest.skip("the engine does not serve AI credentials or the vault yet")
    workspace = _made(api, "offered")
    body = operator_client.get(f"/workspaces/{workspace['id']}/edit/").content.decode()
    cid = credential.json()["id"]
    assert f'value="{cid}"' in body and 'type="checkbox"' in body
    prefix = entry.json()["key"].rsplit("/", 1)[0] + "/"
    assert f'<option value="{prefix}">' in body
    response = operator_client.post(
        f"/workspaces/{workspace['id']}/edit/", {"name": "ai", "ai_allow": [cid], "ai_default_openai": cid}
    )
    assert response.status_code == 302
    assert api.get(f"/workspaces/{workspace['id']}").json()["mounts"]["ai"] == {
        "allow": [cid],
        "defaults": {"openai": cid},
    }


# --- delete -----------------------------------------------------------------------------------


def test_it_deletes_after_confirmation(operator_client: Client, api: httpx.Client) -> None:
    workspace = _made(api, "doomed")
    confirm = operator_client.get(f"/workspaces/{workspace['id']}/delete/").content.decode()
    assert f"Delete {workspace['name']}?" in confirm
    response = operator_client.post(f"/workspaces/{workspace['id']}/delete/")
    assert response.status_code == 302
    assert api.get(f"/workspaces/{workspace['id']}").status_code == 404
    assert AuditEntry.objects.get(action="workspace.delete").outcome == "succeeded"


def test_live_runtimes_offer_stop_and_delete(operator_client: Client, api: httpx.Client) -> None:
    # the engine's own 409 needs a live browser; the contract's body stands in for it here,
    # and the forced retry goes through to the engine for real
    workspace = _made(api, "busy")
    conflict = api_error(
        409,
        "workspace.has_active_runtimes",
        "The workspace has 1 active runtime(s); stop them or delete with force=true.",
        {"runtimes": ["crawler"]},
    )
    faults = Faults({"DELETE /v1/workspaces/": lambda r: None if r.url.params.get("force") else conflict(r)})
    use_transport(faults)
    refused_page = operator_client.post(f"/workspaces/{workspace['id']}/delete/")
    body = refused_page.content.decode()
    assert refused_page.status_code == 409
    assert "still running" in body and "crawler" in body and "Stop runtimes and delete" in body
    assert "req_fault409" in body
    forced = operator_client.post(f"/workspaces/{workspace['id']}/delete/", {"force": "true"})
    assert forced.status_code == 302
    assert any("force=true" in call for call in faults.calls)
    assert api.get(f"/workspaces/{workspace['id']}").status_code == 404


def test_a_real_live_runtime_blocks_delete_until_forced(operator_client: Client, api: httpx.Client) -> None:
    workspace = _made(api, "running")
    try:
        assert launch(api, workspace["id"], "blocker").status_code == 200
        refused_page = operator_client.post(f"/workspaces/{workspace['id']}/delete/")
        body = refused_page.content.decode()
        assert refused_page.status_code == 409 and "blocker" in body and "Stop runtimes and delete" in body
        assert api.get(f"/workspaces/{workspace['id']}").status_code == 200
        forced = operator_client.post(f"/workspaces/{workspace['id']}/delete/", {"force": "true"})
        assert forced.status_code == 302
        assert api.get(f"/workspaces/{workspace['id']}").status_code == 404
    finally:
        api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})


# --- upstream failure is a state --------------------------------------------------------------


def test_it_shows_an_api_outage_as_a_state(viewer_client: Client, settings) -> None:
    settings.BCTRL_API_URL = f"http://127.0.0.1:{free_port()}/v1"
    reset_clients()
    response = viewer_client.get("/workspaces/")
    assert response.status_code == 200
    assert "could not be reached" in response.content.decode()


def test_it_shows_a_timeout_as_a_state(viewer_client: Client) -> None:
    use_transport(Faults({"GET /v1/workspaces": timeout()}))
    body = viewer_client.get("/workspaces/").content.decode()
    assert "did not answer in time" in body and "Retry" in body


def test_it_shows_a_bad_gateway_as_a_state(viewer_client: Client) -> None:
    use_transport(Faults({"GET /v1/workspaces": bad_gateway()}))
    body = viewer_client.get("/workspaces/").content.decode()
    assert "The BCTRL API answered 502" in body and "The API failed" in body


def test_it_shows_a_server_error_with_its_request_id(viewer_client: Client) -> None:
    use_transport(Faults({"GET /v1/workspaces": api_error(500, "server.error", "The engine failed.")}))
    body = viewer_client.get("/workspaces/").content.decode()
    assert "The engine failed." in body and "req_fault500" in body


def test_it_shows_rate_limiting_after_retrying(viewer_client: Client) -> None:
    faults = Faults(
        {"GET /v1/workspaces": api_error(429, "rate_limited", "Slow down.", **{"Retry-After": "0"})}
    )
    use_transport(faults)
    body = viewer_client.get("/workspaces/").content.decode()
    # a 429 that names no limit: its message may name one, so "just wait" is not the only advice
    assert "free what its message names, or wait a moment and retry" in body
    assert len(faults.calls) == 2  # BCTRL_RETRIES=1 in tests: one retry, then the state


def test_a_refused_key_is_a_state(viewer_client: Client, settings) -> None:
    settings.BCTRL_API_KEY = "bctrl_wrong_key"
    reset_clients()
    response = viewer_client.get("/workspaces/")
    body = response.content.decode()
    assert "API key was refused" in body and "Request id" in body
    assert "bctrl_wrong_key" not in body


def test_a_key_without_the_scope_shows_on_the_form(
    operator_client: Client, settings, engine: EngineProcess, api: httpx.Client
) -> None:
    settings.BCTRL_API_KEY = engine.keys["read"]
    reset_clients()
    name = f"readonly-{uuid.uuid4().hex[:6]}"
    response = operator_client.post("/workspaces/new/", {"name": name})
    assert response.status_code == 403
    assert "scope of the console" in response.content.decode()
    assert _named(api, name) == []
    assert AuditEntry.objects.get(action="workspace.create").outcome == "failed"


def test_an_edit_of_a_deleted_workspace_is_a_404_state(operator_client: Client) -> None:
    response = operator_client.post(f"/workspaces/{uuid.uuid4()}/edit/", {"name": "ghost"})
    assert response.status_code == 404 and "no longer exists" in response.content.decode()


# --- roles ------------------------------------------------------------------------------------


def test_a_viewer_cannot_create(viewer_client: Client, api: httpx.Client) -> None:
    name = f"denied-{uuid.uuid4().hex[:6]}"
    response = viewer_client.post("/workspaces/new/", {"name": name})
    assert response.status_code == 403
    assert _named(api, name) == []
    assert AuditEntry.objects.get(action="access.denied").outcome == "denied"


def test_a_viewer_cannot_edit(viewer_client: Client, api: httpx.Client) -> None:
    workspace = _made(api, "unedited")
    response = viewer_client.post(f"/workspaces/{workspace['id']}/edit/", {"name": "edited"})
    assert response.status_code == 403
    assert api.get(f"/workspaces/{workspace['id']}").json()["name"] == workspace["name"]


def test_a_viewer_cannot_delete(viewer_client: Client, api: httpx.Client) -> None:
    workspace = _made(api, "undeleted")
    response = viewer_client.post(f"/workspaces/{workspace['id']}/delete/", {"force": "true"})
    assert response.status_code == 403
    assert api.get(f"/workspaces/{workspace['id']}").status_code == 200


def test_a_viewer_sees_no_edit_buttons(viewer_client: Client, api: httpx.Client) -> None:
    workspace = _made(api, "readonly")
    body = viewer_client.get(f"/workspaces/{workspace['id']}/").content.decode()
    assert "/edit/" not in body and "/delete/" not in body


def test_it_requires_login(client: Client) -> None:
    response = client.get("/workspaces/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_its_pager_keeps_the_search_and_swaps_the_whole_table(
    viewer_client: Client, api: httpx.Client
) -> None:
    tag = f"pager-{uuid.uuid4().hex[:6]}"
    for i in range(30):
        api.post("/workspaces", json={"name": f"{tag}-{i}"})
    first = viewer_client.get("/workspaces/", {"q": tag}, headers={"HX-Request": "true"}).content.decode()
    assert "Next page" in first and f"?q={tag}&amp;cursor=" in first and 'hx-swap="outerHTML"' in first
    cursor = link_query(first, "Next page")["cursor"]
    second = viewer_client.get("/workspaces/", {"q": tag, "cursor": cursor}).content.decode()
    assert f'href="?q={tag}"' in second  # "First page" drops only the cursor
    assert "Next page" not in second
