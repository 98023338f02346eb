"""The updates websocket (`/ws/updates/`), through the console's real ASGI stack (origin check,
session auth, URL routing) and its real relay reading the real engine's updates stream."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User

from dashboard.live.inspector import get_pollers
from dashboard.live.relay import get_relay
from tests.support.live_updates import connect, messages_until
from tests.support.updates import newest_update

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def live_state() -> AsyncIterator[None]:
    yield
    # each test's event loop has its own relay and pollers: end their tasks with the test
    await get_relay().stop()
    for workspace_id, alias in list(get_pollers().pollers):
        poller = get_pollers().pollers[(workspace_id, alias)]
        poller.sockets = 1
        await get_pollers().unsubscribe(workspace_id, alias)


async def refused_with(communicator: WebsocketCommunicator) -> int:
    """The close code of a socket accepted only to say why it is closed."""
    output = await communicator.receive_output(timeout=10)
    assert output["type"] == "websocket.close"
    return int(output["code"])


async def test_it_refuses_a_visitor_who_is_not_signed_in() -> None:
    communicator, _, _ = await connect(None)
    assert await refused_with(communicator) == 4401
    await communicator.disconnect()


async def test_it_refuses_a_foreign_origin(vera: User) -> None:
    communicator, connected, _ = await connect(vera, origin=b"https://evil.example")
    assert not connected
    await communicator.disconnect()


async def test_it_refuses_a_user_without_a_role(db: None) -> None:
    nobody = await User.objects.acreate(username="nobody")
    communicator, _, _ = await connect(nobody)
    assert await refused_with(communicator) == 4403
    await communicator.disconnect()


async def test_a_viewer_gets_runtime_updates_as_fragments(
    vera: User, api: httpx.Client, workspace: dict
) -> None:
    communicator, connected, _ = await connect(vera)
    assert connected
    await get_relay().position()
    launched = await sync_to_async(api.post)(
        f"/workspaces/{workspace['id']}/runtimes",
        json={"alias": "pushed", "launch": {"mode": "ephemeral"}},
        timeout=120,
    )
    runtime = launched.json()
    text = await messages_until(communicator, f'id="runtime-row-{runtime["id"]}"')
    # the badge, swapped by id wherever it shows; the row for the workspace's runtime list; the feed row
    assert f'<span id="runtime-status-{runtime["id"]}" class="runtime-status" hx-swap-oob="true">' in text
    assert f'hx-swap-oob="afterbegin:#runtime-rows-{workspace["id"]}"' in text
    assert 'hx-swap-oob="afterbegin:#feed-rows"' in text and "runtime.started" in text
    assert 'id="live-cursor"' in text and 'data-family="runtime"' in text
    await sync_to_async(api.post)(f"/workspaces/{workspace['id']}/runtimes/pushed/stop", timeout=60)
    text = await messages_until(communicator, f'id="runtime-row-{runtime["id"]}" data-status="stopped"')
    assert "runtime.stopped" in text
    assert "badge-stopped" in text
    await communicator.disconnect()


async def test_each_role_gets_the_fragment_its_pages_draw(
    vera: User, oscar: User, api: httpx.Client, workspace: dict
) -> None:
    viewer, _, _ = await connect(vera)
    operator, _, _ = await connect(oscar)
    await get_relay().position()
    launched = await sync_to_async(api.post)(
        f"/workspaces/{workspace['id']}/runtimes",
        json={"alias": "roles", "launch": {"mode": "ephemeral"}},
        timeout=120,
    )
    runtime_id = launched.json()["id"]
    operator_text = await messages_until(operator, f'id="runtime-row-{runtime_id}"')
    viewer_text = await messages_until(viewer, f'id="runtime-row-{runtime_id}"')
    # the organisation-wide list's bulk stop: an operator's row can be chosen, a viewer's cannot
    assert f'name="runtime" value="{workspace["id"]}/roles"' in operator_text
    assert 'name="runtime"' not in viewer_text
    await viewer.disconnect()
    await operator.disconnect()


async def test_a_reconnecting_browser_catches_up_from_its_last_id(vera: User, api: httpx.Client) -> None:
    after = await sync_to_async(newest_update)(api)
    names = [f"missed {n}" for n in range(3)]
    created = [(await sync_to_async(api.post)("/workspaces", json={"name": name})).json() for name in names]
    communicator, connected, _ = await connect(vera, f"/ws/updates/?after={after}")
    assert connected
    text = await messages_until(communicator, created[-1]["id"])
    positions = [text.index(workspace["id"]) for workspace in created]
    assert positions == sorted(positions)  # in order
    for workspace in created:
        await sync_to_async(api.delete)(f"/workspaces/{workspace['id']}")
    await communicator.disconnect()


async def test_nothing_falls_between_the_catch_up_and_a_relay_that_starts_late(
    vera: User, api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page's socket opens a process's first relay, and the relay reads where the stream stands
    only after something has happened (a paused or busy process): the socket still gets it."""
    from dashboard.bctrl import updates as updates_api

    after = await sync_to_async(newest_update)(api)
    held, real = asyncio.Event(), updates_api.newest_update_id

    async def late() -> int | None:
        await held.wait()
        return await real()

    monkeypatch.setattr(updates_api, "newest_update_id", late)
    communicator, connected, _ = await connect(vera, f"/ws/updates/?after={after}")
    assert connected
    workspace = (await sync_to_async(api.post)("/workspaces", json={"name": "between"})).json()
    held.set()  # the relay now starts after the workspace's update
    await messages_until(communicator, workspace["id"])
    await sync_to_async(api.delete)(f"/workspaces/{workspace['id']}")
    await communicator.disconnect()


async def test_signing_out_closes_the_users_sockets(vera: User) -> None:
    communicator, connected, _ = await connect(vera)
    assert connected
    from dashboard.live.apps import close_sockets_of

    await sync_to_async(close_sockets_of)(vera.pk)
    assert (await communicator.receive_output(timeout=10))["type"] == "websocket.close"
    await communicator.disconnect()


async def test_deactivating_a_user_closes_their_sockets(vera: User) -> None:
    communicator, connected, _ = await connect(vera)
    assert connected
    vera.is_active = False
    await vera.asave()
    output = await communicator.receive_output(timeout=10)
    assert output["type"] == "websocket.close" and output["code"] == 4401
    await communicator.disconnect()


async def test_many_sockets_share_one_upstream_stream(vera: User, oscar: User, api: httpx.Client) -> None:
    sockets = [(await connect(user))[0] for user in (vera, oscar, vera, oscar)]
    await get_relay().position()
    workspace = (await sync_to_async(api.post)("/workspaces", json={"name": "shared stream"})).json()
    for communicator in sockets:
        await messages_until(communicator, workspace["id"])
    assert get_relay().state().connections == 1 and get_relay().state().sockets == 4
    await sync_to_async(api.delete)(f"/workspaces/{workspace['id']}")
    for communicator in sockets:
        await communicator.disconnect()


async def test_a_socket_closes_when_its_session_ends(vera: User, monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import import_module

    from django.conf import settings
    from django.contrib.sessions.models import Session

    from dashboard.live import consumers

    monkeypatch.setattr(consumers, "SESSION_CHECK_SECONDS", 0.2)
    communicator, connected, _ = await connect(vera)
    assert connected
    await asyncio.sleep(0.5)  # a check or two pass while the session lives
    assert await communicator.receive_nothing(timeout=0.1)
    # ended through the session store, as a sign-out in another browser ends it (sessions are
    # cached_db: the store drops the cached copy with the row)
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in [session.session_key async for session in Session.objects.all()]:
        await store(key).adelete()
    output = await communicator.receive_output(timeout=10)
    assert output["type"] == "websocket.close" and output["code"] == 4401
    await communicator.disconnect()
