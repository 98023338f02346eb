"""A run into which a vault password was filled, and whose site echoed it, as the console shows and
exports it: the HAR and the bundle never hold the password; the request drawer shows a withheld
body to admins only (the console applies the rule itself, and the engine too: the console's calls
act with its user's role, dashboard/bctrl/acting.py)."""

import io
import json
import zipfile

import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient, Client

from tests.support.engine_process import EngineProcess
from tests.support.network_events import network
from tests.support.site import TestSite
from tests.support.vault_echo import PASSWORD, entry

HX = {"HX-Request": "true"}


def _echo_entry(engine: EngineProcess, site: TestSite, run: dict) -> dict:
    with engine.client("admin") as admin:
        return entry(network(admin, run["id"]), f"{site.url}/echo", "POST")


def test_the_har_never_holds_the_password_and_says_the_body_is_withheld(
    viewer_client: Client,
    echoed: dict,
    site: TestSite,
) -> None:
    response = viewer_client.get(f"/runtimes/{echoed['id']}/har/")
    assert response.status_code == 200 and PASSWORD.encode() not in response.content
    har = json.loads(response.content)
    echo = next(e for e in har["log"]["entries"] if e["request"]["url"] == f"{site.url}/echo")
    assert echo["response"]["status"] == 200 and echo["_bodyWithheld"] == "vault"
    assert "withheld" in echo["comment"] and "text" not in echo["response"]["content"]


@pytest.mark.django_db(transaction=True)
async def test_the_bundle_never_holds_the_password(vera: User, echoed: dict) -> None:
    client = AsyncClient()
    await client.aforce_login(vera)
    response = await client.get(f"/runtimes/{echoed['id']}/bundle/")
    body = b"".join([c async for c in response.streaming_content])
    assert response.status_code == 200 and PASSWORD.encode() not in body
    with zipfile.ZipFile(io.BytesIO(body)) as bundle:
        for name in bundle.namelist():
            assert PASSWORD.encode() not in bundle.read(name), name
        events = json.loads(bundle.read("events.json"))
    assert any(e["eventData"].get("bodyWithheld") == "vault" for e in events)


def test_the_drawer_shows_a_withheld_body_to_admins_only(
    viewer_client: Client,
    operator_client: Client,
    admin_client: Client,
    engine: EngineProcess,
    echoed: dict,
    site: TestSite,
) -> None:
    seen = _echo_entry(engine, site, echoed)
    request_id = seen["network.finished"]["requestId"]
    with engine.client("admin") as admin:
        events = admin.get(
            f"/runtimes/{echoed['id']}/events", params={"eventTypes": "network.finished", "limit": 500}
        ).json()["events"]
    sequence = next(e["sequence"] for e in events if e["eventData"]["requestId"] == request_id)
    drawer = f"/runtimes/{echoed['id']}/network/{request_id}/"
    body = f"{drawer}body/"
    for client in (viewer_client, operator_client):
        shown = client.get(drawer, {"seq": sequence}, headers=HX).content.decode()
        assert "Withheld" in shown and "Show the response body" not in shown
        refused = client.get(body, headers=HX)
        assert refused.status_code == 403 and "Withheld" in refused.content.decode()
        assert PASSWORD not in refused.content.decode()
    shown = admin_client.get(drawer, {"seq": sequence}, headers=HX).content.decode()
    assert "Show the response body" in shown
    read = admin_client.get(body, headers=HX)
    text = read.content.decode()
    assert read.status_code == 200 and "[secret]" in text and PASSWORD not in text
