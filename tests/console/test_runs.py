"""Every run reachable, and stopped means stopped: runs by id, the alias page, relaunch, stops.

Against the real engine and real Chromium. A reused alias names only its newest run; its older
runs keep their own page, events and end.
"""

import time
import uuid

import httpx
from django.test import Client

from dashboard.audit.models import AuditEntry
from tests.console.runtime_support import launch
from tests.support.html import region


def _stop(api: httpx.Client, workspace: dict, alias: str) -> None:
    assert api.post(f"/workspaces/{workspace['id']}/runtimes/{alias}/stop").status_code == 200


def _reused_alias(api: httpx.Client, workspace: dict) -> tuple[dict, dict]:
    first = launch(api, workspace["id"], "shop2").json()
    api.post(
        f"/workspaces/{workspace['id']}/execute",
        json={"runtime": "shop2", "steps": [{"call": "page.evaluate", "args": ["'first run'"]}]},
    )
    _stop(api, workspace, "shop2")
    second = launch(api, workspace["id"], "shop2").json()
    return first, second


def test_the_older_run_of_a_reused_alias_opens_with_its_own_events(
    viewer_client: Client, api: httpx.Client, workspace: dict
) -> None:
    first, second = _reused_alias(api, workspace)
    listing = viewer_client.get(f"/workspaces/{workspace['id']}/runtimes/").content.decode()
    # two rows of shop2, each linking to its own run
    assert f'href="/runtimes/{first["id"]}/"' in listing and f'href="/runtimes/{second["id"]}/"' in listing

    page = viewer_client.get(f"/runtimes/{first['id']}/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "An earlier run of shop2" in body and "badge-stopped" in body
    assert "Stopped on request" in body and f'href="/runtimes/{second["id"]}/"' in body
    # its timeline (loaded after the page, by id) and its recording are its own, not the newer run's
    assert f'hx-get="/runtimes/{first["id"]}/events/"' in body
    assert f'hx-get="/runtimes/{first["id"]}/recording/"' in body
    timeline = viewer_client.get(
        f"/runtimes/{first['id']}/events/", headers={"HX-Request": "true"}
    ).content.decode()
    # its step (started and finished, one entry) and its end
    assert 'id="step-' in timeline and "page.evaluate ok" in timeline and "runtime.stopped" in timeline
    assert first["id"] in timeline and second["id"] not in timeline  # its own runtime.started
    assert "Runtime stopped" in timeline and 'id="inspector-socket"' not in timeline  # nothing streams


def test_the_alias_page_shows_the_newest_run_and_links_to_the_others(
    viewer_client: Client, api: httpx.Client, workspace: dict
) -> None:
    first, second = _reused_alias(api, workspace)
    body = viewer_client.get(f"/workspaces/{workspace['id']}/runtimes/shop2/").content.decode()
    assert "The newest run of shop2" in body and second["id"] in body and "badge-active" in body
    runs = region(body, "runtime-runs")
    assert f'href="/runtimes/{first["id"]}/"' in runs and "stopped on request" in runs
    # names, not ids: the workspace by name in the breadcrumbs
    assert f'>{workspace["name"]}</a> / <a href="/workspaces/{workspace["id"]}/runtimes/">Runtimes' in body


def test_a_stopped_runtime_page_has_no_step_runner_and_says_why(
    operator_client: Client, api: httpx.Client, workspace: dict
) -> None:
    body = {"alias": "sleepy", "launch": {"mode": "ephemeral", "config": {"idleTimeoutSeconds": 1}}}
    assert api.post(f"/workspaces/{workspace['id']}/runtimes", json=body).status_code == 200
    url = f"/workspaces/{workspace['id']}/runtimes/sleepy/"
    deadline = time.monotonic() + 30
    while api.get(f"/workspaces/{workspace['id']}/runtimes/sleepy").json()["status"] == "active":
        assert time.monotonic() < deadline, "the engine did not stop the idle runtime"
        time.sleep(0.2)
    page = operator_client.get(url).content.decode()
    assert "badge-stopped" in page and "Stopped because it was idle longer than its idle timeout." in page
    assert (
        'id="step-runner"' not in page and "Stop runtime" not in page and 'id="runtime-bindings"' not in page
    )
    assert f'href="/workspaces/{workspace["id"]}/launch/?from=' in page  # Relaunch with the same config
    # the events region no longer listens for a runtime that ended
    assert 'hx-trigger="live:runtime-' not in page


def test_a_page_watching_a_runtime_that_ends_draws_itself_again(
    viewer_client: Client, api: httpx.Client, workspace: dict
) -> None:
    launch(api, workspace["id"], "watched")
    url = f"/workspaces/{workspace['id']}/runtimes/watched/"
    runtime_id = api.get(f"/workspaces/{workspace['id']}/runtimes/watched").json()["id"]
    # the relay's update about this run (dashboard/live) makes the page ask, instead of a poll
    assert f'hx-trigger="live:runtime-{runtime_id} from:body"' in viewer_client.get(url).content.decode()
    poll = viewer_client.get(f"{url}events/", {"watch": "1"}, headers={"HX-Request": "true"})
    assert poll.status_code == 204 and "HX-Refresh" not in poll
    _stop(api, workspace, "watched")
    poll = viewer_client.get(f"{url}events/", {"watch": "1"}, headers={"HX-Request": "true"})
    assert poll["HX-Refresh"] == "true"
    page = viewer_client.get(url).content.decode()
    assert "Runtime watched has ended. Stopped on request" in page


def test_stopping_a_stopped_runtime_is_a_calm_no_op(
    operator_client: Client, api: httpx.Client, workspace: dict
) -> None:
    launch(api, workspace["id"], "gone")
    _stop(api, workspace, "gone")
    url = f"/workspaces/{workspace['id']}/runtimes/gone/"
    response = operator_client.post(f"{url}stop/", headers={"HX-Request": "true"})
    assert response.status_code == 200 and response["HX-Redirect"] == url
    page = operator_client.get(url).content.decode()
    assert "Runtime gone had already stopped." in page and "alert-error" not in page
    assert not AuditEntry.objects.filter(action="runtime.stop", outcome="failed").exists()


def test_relaunch_fills_the_form_from_the_run(
    operator_client: Client, api: httpx.Client, workspace: dict
) -> None:
    body = {
        "alias": "again",
        "launch": {"mode": "ephemeral", "config": {"locale": "de-DE", "userAgent": "Relaunch/1"}},
    }
    run = api.post(f"/workspaces/{workspace['id']}/runtimes", json=body).json()
    _stop(api, workspace, "again")
    form = operator_client.get(f"/workspaces/{workspace['id']}/launch/", {"from": run["id"]}).content.decode()
    assert "Relaunch again" in form and 'value="again"' in form
    assert 'value="de-DE"' in form and 'value="Relaunch/1"' in form
    fields = {
        "alias": "again",
        "driver": "playwright",
        "launch_mode": "ephemeral",
        "locale": "de-DE",
        "user_agent": "Relaunch/1",
        "idempotency_key": uuid.uuid4().hex,
    }
    response = operator_client.post(f"/workspaces/{workspace['id']}/launch/?from={run['id']}", fields)
    assert response.status_code == 302
    relaunched = api.get(f"/workspaces/{workspace['id']}/runtimes/again").json()
    assert relaunched["id"] != run["id"] and relaunched["config"]["locale"] == "de-DE"


def test_a_run_that_does_not_exist_is_a_plain_404(viewer_client: Client) -> None:
    response = viewer_client.get(f"/runtimes/{uuid.uuid4()}/")
    body = response.content.decode()
    assert response.status_code == 404 and "There is no such runtime run." in body and ">Retry<" not in body
