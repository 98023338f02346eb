"""Runtime pages against the real engine and a real Chromium: list, launch, detail, stop.

Runs by id (older runs of a reused alias), stopped runtimes and relaunch: test_runs.py.
"""

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from django.test import Client

from dashboard.audit.models import AuditEntry
from dashboard.bctrl.client import reset_clients, use_transport
from tests.console.runtime_support import LiveRuntime, launch, live_runtime
from tests.support.engine_process import EngineProcess, free_port, refused_port
from tests.support.html import attribute, region


@pytest.fixture(scope="module")
def live(engine: EngineProcess) -> Iterator[LiveRuntime]:
    with live_runtime(engine) as runtime:
        yield runtime


def _launch_form(alias: str, **fields: str) -> dict[str, str]:
    return {
        "alias": alias,
        "driver": "playwright",
        "launch_mode": "ephemeral",
        "idempotency_key": uuid.uuid4().hex,
        **fields,
    }


def _runtimes(api: httpx.Client, workspace_id: str) -> list[dict]:
    return api.get(f"/workspaces/{workspace_id}/runtimes").json()["runtimes"]


def test_it_launches_a_runtime_through_the_form(
    operator_client: Client, api: httpx.Client, workspace: dict
) -> None:
    form = _launch_form("checkout", viewport_width="1024", viewport_height="700", locale="en-GB")
    response = operator_client.post(f"/workspaces/{workspace['id']}/launch/", form)
    assert response.status_code == 302
    assert response["Location"] == f"/workspaces/{workspace['id']}/runtimes/checkout/"
    runtime = api.get(f"/workspaces/{workspace['id']}/runtimes/checkout").json()
    assert runtime["status"] == "active"
    assert runtime["config"]["viewport"] == {"width": 1024, "height": 700}
    entry = AuditEntry.objects.get(action="runtime.launch")
    assert entry.username == "oscar" and entry.outcome == "succeeded" and entry.target_id == runtime["id"]
    assert entry.target_name == f"{workspace['name']} / checkout"
    detail = operator_client.get(response["Location"]).content.decode()
    assert "checkout" in detail and "badge-active" in detail and "Stop runtime" in detail


def test_a_double_submit_launches_once(operator_client: Client, api: httpx.Client, workspace: dict) -> None:
    form = _launch_form("twice")
    responses = [operator_client.post(f"/workspaces/{workspace['id']}/launch/", form) for _ in range(2)]
    assert [r.status_code for r in responses] == [302, 302]
    assert [r["alias"] for r in _runtimes(api, workspace["id"])] == ["twice"]


def test_it_shows_an_alias_in_use_inline(
    operator_client: Client, api: httpx.Client, live: LiveRuntime
) -> None:
    response = operator_client.post(
        f"/workspaces/{live.workspace_id}/launch/",
        _launch_form(live.alias),
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert response.status_code == 422
    assert 'id="launch-form"' in body and "<html" not in body
    assert "Request id" in body and "alias" in body.lower()
    assert len(_runtimes(api, live.workspace_id)) == 1
    assert AuditEntry.objects.get(action="runtime.launch").outcome == "failed"


def test_it_refuses_a_bad_alias_before_asking_the_api(
    operator_client: Client, api: httpx.Client, workspace: dict
) -> None:
    response = operator_client.post(f"/workspaces/{workspace['id']}/launch/", _launch_form("Bad Alias"))
    assert response.status_code == 422
    assert "Start with a lowercase letter" in response.content.decode()
    assert _runtimes(api, workspace["id"]) == []


def test_it_never_echoes_the_proxy_password(operator_client: Client, workspace: dict) -> None:
    form = _launch_form("-bad", proxy_server="http://proxy:3128", proxy_password="s3cret-proxy-pw")
    response = operator_client.post(f"/workspaces/{workspace['id']}/launch/", form)
    assert response.status_code == 422
    assert "s3cret-proxy-pw" not in response.content.decode()


def test_the_launch_form_offers_the_contract_choices(operator_client: Client, workspace: dict) -> None:
    body = operator_client.get(f"/workspaces/{workspace['id']}/launch/").content.decode()
    assert r'pattern="[a-z][a-z0-9\-]{0,62}"' in body
    for driver in ("playwright", "puppeteer", "selenium", "stagehand"):
        assert f'value="{driver}"' in body
    assert 'name="idempotency_key"' in body and 'name="proxy_password"' in body


def test_a_viewer_cannot_launch(viewer_client: Client, api: httpx.Client, workspace: dict) -> None:
    assert viewer_client.get(f"/workspaces/{workspace['id']}/launch/").status_code == 403
    response = viewer_client.post(f"/workspaces/{workspace['id']}/launch/", _launch_form("denied"))
    assert response.status_code == 403
    assert _runtimes(api, workspace["id"]) == []


def test_it_shows_the_runtime_detail(viewer_client: Client, live: LiveRuntime) -> None:
    response = viewer_client.get(live.url)
    body = response.content.decode()
    assert response.status_code == 200
    assert live.alias in body and "badge-active" in body and "Bindings" in body and "Timeline" in body
    # a viewer sees what an operator may do, disabled, with the role it needs; no form to do it
    assert body.count("needs the operator role") >= 2
    assert 'action="/workspaces/' not in region(body, "runtime-summary")
    assert 'id="step-builder"' not in body and "Run steps" in body


def test_it_lists_runtimes_with_a_status_filter(viewer_client: Client, live: LiveRuntime) -> None:
    url = f"/workspaces/{live.workspace_id}/runtimes/"
    active = viewer_client.get(url, {"status": "active"}, headers={"HX-Request": "true"}).content.decode()
    assert f'href="{live.url}"' in active and "<html" not in active
    stopped = viewer_client.get(url, {"status": "stopped"}).content.decode()
    assert f'href="{live.url}"' not in stopped and "No stopped runtimes" in stopped


def test_it_renders_a_missing_runtime_as_a_state(viewer_client: Client, workspace: dict) -> None:
    response = viewer_client.get(f"/workspaces/{workspace['id']}/runtimes/nobody/")
    body = response.content.decode()
    assert response.status_code == 404
    # a 404 is a state to say plainly, not a failure to retry
    assert "There is no runtime called <strong>nobody</strong>" in body and ">Retry<" not in body


def test_an_operator_stops_a_runtime_with_confirmation(
    operator_client: Client, api: httpx.Client, workspace: dict
) -> None:
    assert launch(api, workspace["id"], "doomed").status_code == 200
    url = f"/workspaces/{workspace['id']}/runtimes/doomed/"
    assert "data-confirm=" in operator_client.get(url).content.decode()
    response = operator_client.post(f"{url}stop/", headers={"HX-Request": "true"})
    # the whole page is drawn again: a stopped runtime offers no Stop and no step runner
    assert response.status_code == 200 and response["HX-Redirect"] == url
    assert api.get(f"/workspaces/{workspace['id']}/runtimes/doomed").json()["status"] == "stopped"
    page = operator_client.get(url).content.decode()
    assert "Runtime doomed stopped." in page and "badge-stopped" in page
    assert "Stop runtime" not in page and 'id="step-runner"' not in page
    entry = AuditEntry.objects.get(action="runtime.stop")
    assert entry.username == "oscar" and entry.outcome == "succeeded"


def test_a_viewer_cannot_stop(viewer_client: Client, api: httpx.Client, live: LiveRuntime) -> None:
    response = viewer_client.post(f"{live.url}stop/")
    assert response.status_code == 403
    assert api.get(live.api_path).json()["status"] == "active"
    assert not AuditEntry.objects.filter(action="runtime.stop").exists()


def test_it_launches_from_a_profile_and_refuses_one_in_use(
    operator_client: Client, api: httpx.Client, workspace: dict
) -> None:
    profile = api.post("/browser-profiles", json={"name": f"shop login {uuid.uuid4().hex[:6]}"}).json()
    try:
        url = f"/workspaces/{workspace['id']}/launch/"
        assert profile["name"] in operator_client.get(url).content.decode()
        first = operator_client.post(
            url, _launch_form("keeper", launch_mode="profile", profile_id=profile["id"])
        )
        assert first.status_code == 302
        runtime = api.get(f"/workspaces/{workspace['id']}/runtimes/keeper").json()
        assert (
            runtime["summary"]["launchMode"] == "profile" and runtime["summary"]["profileId"] == profile["id"]
        )
        assert "(in use)" in operator_client.get(url).content.decode()
        second = operator_client.post(
            url, _launch_form("borrower", launch_mode="profile", profile_id=profile["id"])
        )
        assert second.status_code == 422
        assert "Request id" in second.content.decode()
        assert [r["alias"] for r in _runtimes(api, workspace["id"])] == ["keeper"]
    finally:
        api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})
        api.delete(f"/browser-profiles/{profile['id']}")


def test_profile_mode_needs_a_profile(operator_client: Client, workspace: dict) -> None:
    response = operator_client.post(
        f"/workspaces/{workspace['id']}/launch/", _launch_form("x", launch_mode="profile")
    )
    body = response.content.decode()
    assert response.status_code == 422
    assert "Choose the profile to launch." in body
    # labelled as required, and required by the browser too
    assert "Profile <span" in body and "(required)" in body
    assert 'name="profile_id" id="id_profile_id" required' in body


def test_mounts_wider_than_the_workspace_are_refused_next_to_them(
    operator_client: Client, api: httpx.Client, workspace: dict
) -> None:
    form = _launch_form("wide", mounts_json='{"storage": {"workspace": "somewhere-else"}}')
    response = operator_client.post(f"/workspaces/{workspace['id']}/launch/", form)
    body = response.content.decode()
    assert response.status_code == 422
    assert "somewhere-else" in body and 'class="field-error"' in body
    assert _runtimes(api, workspace["id"]) == []


def test_lists_that_fail_to_load_degrade_to_a_message(operator_client: Client, workspace: dict) -> None:
    # A fault the real engine cannot be made to produce: its list endpoints failing on their own.
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(("/browser-profiles", "/browser-extensions")):
            error = {"code": "server.error", "message": "The engine failed.", "details": None}
            return httpx.Response(500, json={"error": error, "requestId": "req_lists_down"})
        return httpx.Response(200, json=workspace)

    use_transport(httpx.MockTransport(handler))
    response = operator_client.get(f"/workspaces/{workspace['id']}/launch/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Browser profiles could not be loaded" in body and "Extensions could not be loaded" in body
    assert "req_lists_down" in body and 'name="alias"' in body


def test_it_shows_an_api_outage_on_the_detail_page(viewer_client: Client, settings) -> None:
    settings.BCTRL_API_URL = f"http://127.0.0.1:{free_port()}/v1"
    reset_clients()
    response = viewer_client.get(f"/workspaces/{uuid.uuid4()}/runtimes/anything/")
    assert response.status_code == 502
    assert "could not be reached" in response.content.decode()


def test_an_htmx_launch_redirects_the_browser(
    operator_client: Client, api: httpx.Client, workspace: dict
) -> None:
    response = operator_client.post(
        f"/workspaces/{workspace['id']}/launch/", _launch_form("swift"), headers={"HX-Request": "true"}
    )
    assert response["HX-Redirect"] == f"/workspaces/{workspace['id']}/runtimes/swift/"


def test_the_launch_form_suggests_an_alias(operator_client: Client, workspace: dict) -> None:
    body = operator_client.get(f"/workspaces/{workspace['id']}/launch/").content.decode()
    suggested = attribute(body, 'input[name="alias"]', "value")
    assert re.fullmatch(r"browser-[0-9a-f]{4}", suggested)


def test_a_launch_with_the_api_down_keeps_the_input_and_draws_no_page_inside_the_form(
    operator_client: Client, workspace: dict, settings
) -> None:
    settings.BCTRL_API_URL = f"http://127.0.0.1:{refused_port()}/v1"
    reset_clients()
    form = _launch_form("kept-alias", locale="fr-FR", user_agent="KeepMe/1.0")
    response = operator_client.post(
        f"/workspaces/{workspace['id']}/launch/", form, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 422
    # only the form region, never a whole console inside the form
    assert (
        body.lstrip().startswith('<form id="launch-form"') and "<html" not in body and "sidebar" not in body
    )
    assert 'value="kept-alias"' in body and 'value="fr-FR"' in body and 'value="KeepMe/1.0"' in body
    # one sentence for what happened, one for what to do
    assert body.count("could not be reached") == 1 and "Check that the engine is running" in body
    entry = AuditEntry.objects.get(action="runtime.launch")
    assert entry.outcome == "failed" and entry.status == 0


def test_a_run_is_launched_with_metadata_and_the_list_filters_by_it(
    operator_client: Client, api: httpx.Client, workspace: dict
) -> None:
    for alias, labels in (("labelled", "team=payments\nenv=prod"), ("other", "team=search")):
        form = _launch_form(alias, metadata_text=labels)
        assert operator_client.post(f"/workspaces/{workspace['id']}/launch/", form).status_code == 302
    assert api.get(f"/workspaces/{workspace['id']}/runtimes/labelled").json()["metadata"] == {
        "team": "payments",
        "env": "prod",
    }
    url = f"/workspaces/{workspace['id']}/runtimes/"
    body = operator_client.get(url, {"metadata": "team=payments, env=prod"}).content.decode()
    assert "/runtimes/labelled/" in body and "/runtimes/other/" not in body and "team=payments</span>" in body
    # the filters live in the URL: the form pushes them there, and a reload keeps them
    assert 'hx-push-url="true"' in body and 'value="team=payments, env=prod"' in body


def test_a_filter_that_is_not_a_label_says_so_and_lists_nothing(
    viewer_client: Client, live: LiveRuntime
) -> None:
    url = f"/workspaces/{live.workspace_id}/runtimes/"
    body = viewer_client.get(url, {"metadata": "team"}, headers={"HX-Request": "true"}).content.decode()
    assert "is not a label: write key=value" in body and f'href="{live.url}"' not in body
    assert 'aria-invalid="true"' in body


def test_metadata_that_is_not_labels_is_refused_before_launching(
    operator_client: Client, api: httpx.Client, workspace: dict
) -> None:
    form = _launch_form("unlabelled", metadata_text="no equals sign here")
    response = operator_client.post(f"/workspaces/{workspace['id']}/launch/", form)
    assert response.status_code == 422 and "is not a label" in response.content.decode()
    assert _runtimes(api, workspace["id"]) == []


def test_going_back_to_a_filtered_list_draws_the_whole_page(viewer_client: Client, live: LiveRuntime) -> None:
    """htmx asks a pushed URL again when it goes back to it (nothing cached): the whole page, not
    the list's region alone."""
    url = f"/workspaces/{live.workspace_id}/runtimes/"
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    assert "<html" in viewer_client.get(url, {"status": "active"}, headers=headers).content.decode()
