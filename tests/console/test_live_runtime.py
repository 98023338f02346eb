"""The runtime page's live parts against the real engine and Chromium: the live view (view-only,
control taken and released, audited, shown to everyone on the page), the recording after the
end, the timeline's shared poller and its socket."""

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import Client
from websockets.sync.client import connect as ws_connect
from websockets.typing import Origin

from dashboard.audit.models import AuditEntry
from dashboard.bctrl.client import use_transport
from dashboard.live.inspector import get_pollers
from dashboard.live.relay import get_relay
from tests.console.faults import Faults, api_error
from tests.console.runtime_support import LiveRuntime, execute, launch, live_runtime
from tests.support import site as served
from tests.support.engine_process import EngineProcess
from tests.support.html import attribute, elements
from tests.support.live_updates import connect, messages_until


@pytest.fixture(scope="module")
def watched(engine: EngineProcess, site: served.TestSite) -> Iterator[LiveRuntime]:
    with live_runtime(engine, "watched") as runtime, engine.client("admin") as api:
        execute(api, runtime, {"call": "page.goto", "args": [f"{site.url}/index.html"]})
        yield runtime


def iframe_of(body: str) -> str:
    return attribute(body, "iframe.live-frame", "src")


def engine_page(url: str) -> str:
    return httpx.get(url, timeout=30).text


def test_a_viewer_watches_a_view_only_live_view(viewer_client: Client, watched: LiveRuntime) -> None:
    body = viewer_client.get(f"{watched.url}live/", headers={"HX-Request": "true"}).content.decode()
    url = iframe_of(body)
    assert "/embed/live/" in url and parse_qs(urlsplit(url).query)["token"]
    assert "Nobody has control" in body and 'id="take-control"' not in body
    # shown, disabled, with the role it needs: a viewer learns what exists and whom to ask
    assert "Take control</button>" in body and "needs the operator role" in body
    assert 'data-interactive="false"' in engine_page(url)


def test_each_viewer_gets_a_token_of_their_own(viewer_client: Client, watched: LiveRuntime) -> None:
    first, second = (
        iframe_of(viewer_client.get(f"{watched.url}live/", headers={"HX-Request": "true"}).content.decode())
        for _ in range(2)
    )
    assert first != second


@pytest.mark.django_db(transaction=True)
def test_an_operator_takes_and_releases_control_and_it_is_audited(
    operator_client: Client, viewer_client: Client, watched: LiveRuntime
) -> None:
    offered = operator_client.get(f"{watched.url}live/", headers={"HX-Request": "true"}).content.decode()
    assert "Take control" in offered
    taken = operator_client.post(f"{watched.url}control/", {"action": "take"}, headers={"HX-Request": "true"})
    body = taken.content.decode()
    assert (
        taken.status_code == 200
        and "Release control" in body
        and "<strong>oscar</strong> has control" in body
    )
    assert 'data-interactive="true"' in engine_page(iframe_of(body))
    # everyone else on the page sees who has control, and stays view-only
    seen = viewer_client.get(f"{watched.url}live/", headers={"HX-Request": "true"}).content.decode()
    assert "<strong>oscar</strong> has control" in seen and 'data-interactive="false"' in engine_page(
        iframe_of(seen)
    )
    assert viewer_client.post(f"{watched.url}control/", {"action": "take"}).status_code == 403
    released = operator_client.post(
        f"{watched.url}control/", {"action": "release"}, headers={"HX-Request": "true"}
    )
    assert "Take control" in released.content.decode()
    actions = list(
        AuditEntry.objects.filter(target_id__endswith="/watched").values_list("action", "username")
    )
    assert ("runtime.control.take", "oscar") in actions and ("runtime.control.release", "oscar") in actions
    # the log names the runtime by its workspace's name, not a UUID
    names = set(
        AuditEntry.objects.filter(action__startswith="runtime.control.").values_list("target_name", flat=True)
    )
    assert len(names) == 1 and names.pop().startswith("runtime tests ")
    assert AuditEntry.objects.filter(
        action="access.denied", username="vera", target_id__endswith="/control/"
    ).exists()


@pytest.mark.django_db(transaction=True)
async def test_everyone_on_the_page_sees_who_took_control(
    oscar: User, vera: User, watched: LiveRuntime
) -> None:
    path = f"/ws/runtimes/{watched.workspace_id}/{watched.alias}/events/"
    watcher, connected, _ = await connect(vera, path)
    assert connected
    client = Client()
    await sync_to_async(client.force_login)(oscar)
    await sync_to_async(client.post)(
        f"{watched.url}control/", {"action": "take"}, headers={"HX-Request": "true"}
    )
    text = await messages_until(watcher, 'id="live-control"')
    assert "<strong>oscar</strong> has control" in text
    assert "beforeend:#timeline-rows" in text and "oscar took control" in text  # a hand-off entry
    await sync_to_async(client.post)(
        f"{watched.url}control/", {"action": "release"}, headers={"HX-Request": "true"}
    )
    assert "Nobody has control" in await messages_until(watcher, 'id="live-control"')
    await watcher.disconnect()
    await _stop_pollers()


def _engine_holder(engine: EngineProcess, runtime: LiveRuntime) -> str | None:
    with engine.client("read") as reader:
        holder: str | None = reader.get(f"{runtime.api_path}/control").json()["holder"]
        return holder


def _first_control_message(engine: EngineProcess, iframe: str) -> dict:
    """What the engine tells a viewer socket opened on this iframe URL about its control."""
    parts = urlsplit(iframe)
    with ws_connect(
        f"ws://127.0.0.1:{engine.port}{parts.path}/ws?{parts.query}",
        origin=Origin(f"http://127.0.0.1:{engine.port}"),
        open_timeout=20,
    ) as socket:
        while True:
            message = socket.recv(timeout=20)
            if isinstance(message, str) and (parsed := json.loads(message))["type"] == "control":
                return dict(parsed)


@pytest.mark.django_db(transaction=True)
def test_taking_control_from_someone_asks_first_then_ends_their_input(
    operator_client: Client, admin_client: Client, engine: EngineProcess, watched: LiveRuntime
) -> None:
    control, htmx = f"{watched.url}control/", {"HX-Request": "true"}
    oscars_view = iframe_of(operator_client.post(control, {"action": "take"}, headers=htmx).content.decode())
    assert _first_control_message(engine, oscars_view)["interactive"] is True
    asked = admin_client.post(control, {"action": "take"}, headers=htmx).content.decode()
    assert "<strong>oscar</strong> has control: take over?" in asked and 'name="takeover" value="1"' in asked
    assert _engine_holder(engine, watched) == "oscar"  # asking changed nothing
    taken = admin_client.post(control, {"action": "take", "takeover": "1"}, headers=htmx).content.decode()
    assert "<strong>alice</strong> has control" in taken and "Release control" in taken
    assert _engine_holder(engine, watched) == "alice"
    # oscar's view no longer reaches the browser, whatever token his page still has
    assert _first_control_message(engine, oscars_view) == {
        "type": "control",
        "interactive": False,
        "holder": "alice",
        "reason": None,
    }
    assert AuditEntry.objects.filter(
        action="runtime.control.take", username="alice", message="took control from oscar"
    ).exists()
    admin_client.post(control, {"action": "release"}, headers=htmx)
    assert _engine_holder(engine, watched) is None


@pytest.mark.django_db(transaction=True)
def test_a_user_whose_role_drops_loses_control_at_once(
    operator_client: Client,
    admin_client: Client,
    oscar: User,
    vera: User,  # the viewer role exists
    engine: EngineProcess,
    watched: LiveRuntime,
) -> None:
    operator_client.post(f"{watched.url}control/", {"action": "take"}, headers={"HX-Request": "true"})
    assert _engine_holder(engine, watched) == "oscar"
    demoted = admin_client.post(
        f"/users/{oscar.pk}/role/", {"role": "viewer"}, headers={"HX-Request": "true"}
    )
    assert demoted.status_code == 200 and "oscar is now viewer." in demoted.content.decode()
    assert _engine_holder(engine, watched) is None  # the engine was told: his input has ended
    seen = admin_client.get(f"{watched.url}live/", headers={"HX-Request": "true"}).content.decode()
    assert "Nobody has control" in seen


def test_an_ended_runtime_shows_its_recording(
    viewer_client: Client, api: httpx.Client, workspace: dict, site: served.TestSite
) -> None:
    assert launch(api, workspace["id"], "recorded").status_code == 200
    execute(
        api,
        LiveRuntime(workspace["id"], "recorded"),
        {"call": "page.goto", "args": [f"{site.url}/index.html"]},
    )
    api.post(f"/workspaces/{workspace['id']}/runtimes/recorded/stop", timeout=60)
    url = f"/workspaces/{workspace['id']}/runtimes/recorded/live/"
    body = ""
    for _ in range(50):  # "encoding" while the engine closes its files
        body = viewer_client.get(url, headers={"HX-Request": "true"}).content.decode()
        if "live-frame" in body:
            break
        asyncio.run(asyncio.sleep(0.2))
    assert "/embed/recording/" in iframe_of(body) and "Take control" not in body


def test_a_runtime_launched_with_recording_off_says_so(
    viewer_client: Client, api: httpx.Client, workspace: dict
) -> None:
    response = api.post(
        f"/workspaces/{workspace['id']}/runtimes",
        json={"alias": "unrecorded", "launch": {"mode": "ephemeral", "config": {"recording": False}}},
        timeout=120,
    )
    assert response.status_code == 200
    api.post(f"/workspaces/{workspace['id']}/runtimes/unrecorded/stop", timeout=60)
    body = viewer_client.get(
        f"/workspaces/{workspace['id']}/runtimes/unrecorded/live/", headers={"HX-Request": "true"}
    ).content.decode()
    assert "launched with recording off" in body


def test_an_api_without_embeds_says_so_in_place(viewer_client: Client, watched: LiveRuntime) -> None:
    use_transport(Faults({"POST /v1/workspaces/": api_error(404, "request.not_found", "No such route.")}))
    body = viewer_client.get(f"{watched.url}live/", headers={"HX-Request": "true"}).content.decode()
    assert "This API does not offer live views" in body and "<iframe" not in body


def test_the_page_may_frame_only_the_api(
    viewer_client: Client, watched: LiveRuntime, engine: EngineProcess
) -> None:
    policy = viewer_client.get(watched.url)["Content-Security-Policy"]
    directives = dict(directive.strip().split(" ", 1) for directive in policy.split(";"))
    assert directives["frame-src"] == engine.url  # the live views and recordings, nothing else


# --- the inspector's socket and its shared poller ---------------------------------------------


@pytest.fixture
async def stop_live() -> AsyncIterator[None]:
    yield
    await _stop_pollers()


async def _stop_pollers() -> None:
    await get_relay().stop()
    for key, poller in list(get_pollers().pollers.items()):
        poller.sockets = 1
        await get_pollers().unsubscribe(*key)


@pytest.mark.django_db(transaction=True)
async def test_sockets_watching_a_runtime_share_one_poller_that_stops_when_they_leave(
    vera: User, oscar: User, watched: LiveRuntime, api: httpx.Client, site: served.TestSite, stop_live: None
) -> None:
    path = f"/ws/runtimes/{watched.workspace_id}/{watched.alias}/events/"
    events = (await sync_to_async(api.get)(f"{watched.api_path}/events", params={"limit": 500})).json()[
        "events"
    ]
    after = events[-1]["sequence"]
    first, _, _ = await connect(vera, f"{path}?after={after}")
    second, _, _ = await connect(oscar, f"{path}?after={after}")
    pollers = get_pollers().pollers
    assert (
        list(pollers) == [(watched.workspace_id, watched.alias)] and pollers[next(iter(pollers))].sockets == 2
    )
    await sync_to_async(execute)(
        api, watched, {"call": "page.goto", "args": [f"{site.url}/index.html?inspected=1"]}
    )
    for socket in (first, second):
        text = await messages_until(socket, ">page.loaded<")  # after its navigation and requests
        assert "inspected=1" in text and 'hx-swap-oob="beforeend:#timeline-rows"' in text
        assert ">page.navigated<" in text and 'id="net-req_' in text  # a request is one row
    await first.disconnect()
    assert pollers[(watched.workspace_id, watched.alias)].sockets == 1
    await second.disconnect()
    assert pollers == {}  # nobody watches: no poller, no upstream wait


@pytest.mark.django_db(transaction=True)
async def test_a_late_socket_catches_up_to_the_shared_poller(
    vera: User, watched: LiveRuntime, api: httpx.Client, site: served.TestSite, stop_live: None
) -> None:
    path = f"/ws/runtimes/{watched.workspace_id}/{watched.alias}/events/"
    events = (await sync_to_async(api.get)(f"{watched.api_path}/events", params={"limit": 500})).json()[
        "events"
    ]
    after = events[-1]["sequence"]
    early, _, _ = await connect(vera, f"{path}?after={after}")
    await sync_to_async(execute)(
        api, watched, {"call": "page.goto", "args": [f"{site.url}/index.html?early=1"]}
    )
    await messages_until(early, "early=1")
    late, _, _ = await connect(vera, f"{path}?after={after}")  # a page rendered before that visit
    text = await messages_until(late, "early=1")
    sequences = [attribute(tr, "tr", "id") for tr in elements(text, "tr[id^=e-]")]
    assert sequences and len(sequences) == len(set(sequences))  # nothing twice
    await early.disconnect()
    await late.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_socket_naming_a_position_the_api_refuses_is_closed_and_starts_no_poller(
    vera: User, watched: LiveRuntime, stop_live: None
) -> None:
    """A viewer who opens the socket by hand with a made-up position cannot stall the poller the
    runtime's other watchers share: the API's 400 to it closes that socket alone."""
    path = f"/ws/runtimes/{watched.workspace_id}/{watched.alias}/events/?after=not-a-position"
    socket, connected, _ = await connect(vera, path)
    assert connected
    closed = await socket.receive_output(timeout=20)
    assert closed == {"type": "websocket.close", "code": 4400}
    assert get_pollers().pollers == {}
