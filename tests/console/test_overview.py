"""The overview against the real engine: counts, live runtimes, recent operations, the connection."""

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient, Client

from dashboard.bctrl.client import reset_clients, use_transport
from dashboard.live.relay import get_relay
from tests.console.faults import Faults, api_error, bad_gateway, timeout
from tests.support.engine_process import EngineProcess, free_port
from tests.support.html import element, elements, region, text
from tests.support.live_updates import connect


def launch(api: httpx.Client, workspace_id: str, alias: str) -> httpx.Response:
    """A real ephemeral browser runtime (a second or two of Chromium start-up)."""
    return api.post(
        f"/workspaces/{workspace_id}/runtimes",
        json={"alias": alias, "kind": "browser", "driver": "playwright", "launch": {"mode": "ephemeral"}},
        timeout=120,
    )


def _card(body: str, label: str) -> str:
    """The number on the overview card called `label`."""
    card = next(
        (c for c in elements(region(body, "region-counts"), "a.card") if text(element(c, ".l")) == label),
        None,
    )
    assert card, f"no {label} card"
    return text(element(card, ".n"))


def test_it_counts_what_the_api_lists(viewer_client: Client, api: httpx.Client) -> None:
    api.post("/workspaces", json={"name": f"counted-{uuid.uuid4().hex[:6]}"})
    listed = api.get("/workspaces", params={"limit": 500}).json()
    expected = f"{len(listed['workspaces'])}{'+' if listed['nextCursor'] else ''}"
    body = viewer_client.get("/").content.decode()
    assert _card(body, "Workspaces") == expected


def test_it_shows_the_api_connection(viewer_client: Client) -> None:
    body = viewer_client.get("/").content.decode()
    health = region(body, "region-health")
    assert re.search(r"Connected in \d+ ms", health)
    assert "test-admin" in health and "admin" in health
    # How the engine runs runtimes (GET /limits `isolation`): isolated here, as root.
    assert re.search(r"<dt>Runtimes</dt><dd>isolated</dd>", health)


def test_a_failing_widget_leaves_the_rest_of_the_page(viewer_client: Client) -> None:
    use_transport(Faults({"GET /v1/operations": bad_gateway()}))
    response = viewer_client.get("/")
    body = response.content.decode()
    assert response.status_code == 200
    operations = region(body, "region-operations")
    assert "The API failed" in operations and "?region=operations" in operations
    assert "Connected in" in body and _card(body, "Workspaces").rstrip("+").isdigit()


def test_a_slow_api_fails_only_its_widget(viewer_client: Client) -> None:
    use_transport(Faults({"GET /v1/auth/whoami": timeout()}))
    body = viewer_client.get("/").content.decode()
    assert "Not working" in body and "did not answer in time" in body
    assert _card(body, "Workspaces").rstrip("+").isdigit()


def test_an_api_outage_is_one_error_and_no_stale_counts(viewer_client: Client, settings) -> None:
    settings.BCTRL_API_URL = f"http://127.0.0.1:{free_port()}/v1"
    reset_clients()
    response = viewer_client.get("/")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count("could not be reached") == 1 and body.count(">Retry<") == 1
    # the message says what happened once, and what to do: not "could not be reached" twice over
    assert "Check that the engine is running" in body
    assert 'id="region-counts"' not in body and "unavailable" not in body and "Live runtimes" not in body


def test_it_makes_its_upstream_calls_concurrently(viewer_client: Client) -> None:
    faults = Faults(delay=0.2)
    use_transport(faults)
    viewer_client.get("/")
    # whoami, the counts, operations and active runtimes go out together
    assert faults.max_in_flight >= 4, faults.calls


def test_it_refreshes_one_widget_for_htmx(viewer_client: Client) -> None:
    faults = Faults()
    use_transport(faults)
    response = viewer_client.get("/", {"region": "health"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert "<html" not in body and 'id="region-health"' in body and 'id="region-counts"' not in body
    # the connection widget's own calls only: who the key is, and how the engine runs runtimes
    assert sorted(call.split("?")[0] for call in faults.calls) == ["GET /v1/auth/whoami", "GET /v1/limits"]


# --- a busy organisation: its own engine, so the session engine's lists stay small ------------


@pytest.fixture(scope="module")
def crowded_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    """An engine with 1,000 workspaces."""
    process = EngineProcess(tmp_path_factory.mktemp("crowded")).start()
    with process.client("admin") as api:
        for n in range(1000):
            assert api.post("/workspaces", json={"name": f"crowd {n:04}"}).status_code == 201
    yield process
    process.stop()


@pytest.fixture
def crowded(settings, crowded_engine: EngineProcess) -> Faults:
    settings.BCTRL_API_URL = f"{crowded_engine.url}/v1"
    settings.BCTRL_API_KEY = crowded_engine.keys["admin"]
    faults = Faults()
    use_transport(faults)
    return faults


def test_it_counts_a_thousand_without_listing_them(viewer_client: Client, crowded: Faults) -> None:
    body = viewer_client.get("/").content.decode()
    assert _card(body, "Workspaces") == "1000"
    assert [call for call in crowded.calls if "limit=500" in call and "status=active" not in call] == []


def test_against_an_api_without_counts_it_says_500_plus_past_one_page(
    viewer_client: Client, crowded: Faults
) -> None:
    crowded.rules["GET /v1/counts"] = api_error(404, "request.not_found", "No such resource or route.")
    body = viewer_client.get("/").content.decode()
    assert _card(body, "Workspaces") == "500+"
    assert "GET /v1/browser-profiles?limit=500" in crowded.calls


def test_when_the_counts_fail_every_card_says_so(viewer_client: Client, crowded: Faults) -> None:
    crowded.rules["GET /v1/counts"] = api_error(503, "server.unavailable", "Down for a moment.")
    body = viewer_client.get("/").content.decode()
    assert _card(body, "Workspaces") == "unavailable" and _card(body, "Vault entries") == "unavailable"


def test_a_thousand_workspaces_cost_the_overview_no_list_call(viewer_client: Client, crowded: Faults) -> None:
    viewer_client.get("/")
    workspace_calls = [call for call in crowded.calls if call.startswith("GET /v1/workspaces")]
    assert workspace_calls == []  # counted by GET /counts; nothing runs, so no workspace to name


def test_a_thousand_workspaces_cost_the_list_page_one_call(viewer_client: Client, crowded: Faults) -> None:
    body = viewer_client.get("/workspaces/").content.decode()
    assert "25+" in body
    assert crowded.calls == ["GET /v1/workspaces?limit=25"]


# --- live runtimes: a real browser ------------------------------------------------------------


@pytest.fixture
def running(api: httpx.Client) -> Iterator[tuple[dict, str]]:
    workspace = api.post("/workspaces", json={"name": f"live-{uuid.uuid4().hex[:6]}"}).json()
    response = launch(api, workspace["id"], "overview-live")
    if response.status_code != 200:
        api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})
        pytest.fail(f"could not launch a runtime: {response.text}")
    yield workspace, "overview-live"
    api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})


def test_it_lists_live_runtimes_with_links(viewer_client: Client, running: tuple[dict, str]) -> None:
    workspace, alias = running
    body = viewer_client.get("/").content.decode()
    live = region(body, "region-live")
    assert f'href="/workspaces/{workspace["id"]}/runtimes/{alias}/"' in live
    assert workspace["name"] in live


# --- warm: the state the updates relay keeps current (dashboard/live/snapshots.py) ------------


@pytest.fixture
async def relay_reading(vera: User) -> AsyncIterator[Faults]:
    """This loop's relay reading the real engine's stream, started as a browser's page starts it
    (its updates socket); every API call the console makes is recorded."""
    faults = Faults()
    use_transport(faults)
    socket, connected, _ = await connect(vera)
    assert connected
    relay = get_relay()
    await _until(lambda: relay.connected)
    yield faults
    await socket.disconnect()
    await relay.stop()


async def _until(check: Callable[[], object], timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "not in time"
        await asyncio.sleep(0.05)


async def _signed_in(user: User) -> AsyncClient:
    client = AsyncClient()
    await client.aforce_login(user)
    return client


def _vault_count(api: httpx.Client) -> str:
    listed = api.get("/vault", params={"limit": 500}).json()
    return f"{len(listed['entries'])}{'+' if listed['nextCursor'] else ''}"


@pytest.mark.django_db(transaction=True)
async def test_a_warm_overview_makes_no_upstream_call(
    relay_reading: Faults, vera: User, api: httpx.Client
) -> None:
    client = await _signed_in(vera)
    first = (await client.get("/")).content.decode()  # asks the API, and keeps the answers
    relay_reading.calls.clear()
    second = (await client.get("/")).content.decode()
    assert relay_reading.calls == []
    assert _card(second, "Vault entries") == _card(first, "Vault entries") == _vault_count(api)
    assert "Connected in" in second


@pytest.mark.django_db(transaction=True)
async def test_a_warm_overview_follows_a_change_made_through_the_api(
    relay_reading: Faults, vera: User, api: httpx.Client
) -> None:
    client = await _signed_in(vera)
    await client.get("/")
    async with _a_vault_entry(api):
        expected = _vault_count(api)
        shown: list[str] = []

        async def follows() -> bool:
            shown.append(_card((await client.get("/")).content.decode(), "Vault entries"))
            return shown[-1] == expected

        deadline = asyncio.get_running_loop().time() + 20
        while not await follows():
            assert asyncio.get_running_loop().time() < deadline, f"still {shown[-1]}, the API says {expected}"
            await asyncio.sleep(0.1)
        assert any(call.startswith("GET /v1/counts?") for call in relay_reading.calls)


@pytest.mark.django_db(transaction=True)
async def test_with_the_relay_down_the_overview_asks_the_api(
    relay_reading: Faults, vera: User, api: httpx.Client
) -> None:
    client = await _signed_in(vera)
    await client.get("/")
    await get_relay().stop()  # the stream is down: an update could be missed now
    async with _a_vault_entry(api):
        relay_reading.calls.clear()
        body = (await client.get("/")).content.decode()
        assert _card(body, "Vault entries") == _vault_count(api)
        asked = {call.split("?")[0] for call in relay_reading.calls}
        assert {"GET /v1/counts", "GET /v1/runtimes", "GET /v1/auth/whoami", "GET /v1/operations"} <= asked


@contextlib.asynccontextmanager
async def _a_vault_entry(api: httpx.Client) -> AsyncIterator[None]:
    """A vault entry made through the API while inside (a change the overview's counts show)."""
    key = f"overview/{uuid.uuid4().hex[:8]}"
    created = await asyncio.to_thread(api.put, f"/vault/{key}", json={"username": "u", "password": "p"})
    assert created.status_code == 200, created.text
    try:
        yield
    finally:
        await asyncio.to_thread(api.delete, f"/vault/{key}")
