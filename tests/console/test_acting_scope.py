"""The console acts in the API with its signed-in user's role, not with its key's admin rights.

The console calls the engine with one admin key; every call it makes for a signed-in user sends
that user's role (`BCTRL-Acting-Scope`, dashboard/bctrl/acting.py), and the real engine treats the
call with no more. So a console operator who runs a page-reading step after a vault fill in the
step runner gets the engine's sealed refusal, as an operator key would, while an admin reads.
"""

import asyncio
import json
import secrets
import uuid
from collections.abc import Iterator

import pytest
from django.test import Client

from dashboard.bctrl import acting, get_client
from dashboard.bctrl.errors import BctrlError
from tests.console.runtime_support import LiveRuntime, launch
from tests.support.engine_process import EngineProcess
from tests.support.site import TestSite

PASSWORD = f"pw-{secrets.token_hex(10)}"


@pytest.fixture(scope="module")
def login(engine: EngineProcess, site: TestSite) -> Iterator[tuple[LiveRuntime, str]]:
    """A runtime whose workspace may fill a vault entry for the test site's login page."""
    prefix = f"acting-{uuid.uuid4().hex[:6]}"
    key = f"{prefix}/crm"
    with engine.client("admin") as api:
        entry = {"username": "ada", "password": PASSWORD, "origins": [site.url]}
        assert api.put(f"/vault/{key}", json=entry).status_code == 200
        workspace = api.post(
            "/workspaces", json={"name": "acting", "mounts": {"vault": {"allow": [f"{prefix}/"]}}}
        ).json()
        assert launch(api, workspace["id"], "filler").status_code == 200
        try:
            yield LiveRuntime(workspace["id"], "filler"), key
        finally:
            api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})
            api.delete(f"/vault/{key}")


def _fill_and_read(client: Client, runtime: LiveRuntime, key: str, site: TestSite) -> str:
    steps = [
        {"call": "page.goto", "args": [f"{site.url}/vault-login-post.html"]},
        {"call": "vault.fill", "args": [key, {"usernameSelector": "#user", "passwordSelector": "#pass"}]},
        {"call": "page.inputValue", "args": ["#pass"]},
    ]
    response = client.post(
        f"{runtime.url}execute/",
        {"idempotency_key": uuid.uuid4().hex, "source": "json", "steps_json": json.dumps(steps)},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    return response.content.decode()


def test_an_operator_running_steps_cannot_read_what_the_vault_filled(
    operator_client: Client, admin_client: Client, login: tuple[LiveRuntime, str], site: TestSite
) -> None:
    runtime, key = login
    shown = _fill_and_read(operator_client, runtime, key, site)
    assert "vault.sealed" in shown and "badge-failed" in shown
    assert PASSWORD not in shown
    # The same console, the same key: an admin of the console reads it (raw-read rights).
    shown = _fill_and_read(admin_client, runtime, key, site)
    assert "badge-succeeded" in shown and PASSWORD in shown


async def test_calls_act_with_the_role_they_are_made_for_and_share_no_answer_across_roles() -> None:
    """The client's own rule, at the real engine: a call for an operator is refused an admin's
    route; a call made for nobody (the relay, alerts, probes) keeps the key's scope; two identical
    reads in flight at once for two roles are two calls (`get` joins only the same scope's)."""
    client = get_client()

    async def keys(role: str | None) -> object:
        if role is None:
            return await client.get("api-keys")
        with acting.acting_as(role):
            return await client.get("api-keys")

    admin, operator, viewer, nobody = await asyncio.gather(
        keys("admin"), keys("operator"), keys("viewer"), keys(None), return_exceptions=True
    )
    assert isinstance(admin, dict) and isinstance(nobody, dict)
    for refused, scope in ((operator, "operator"), (viewer, "read")):
        assert isinstance(refused, BctrlError) and refused.status == 403, refused
        assert refused.code == "auth.forbidden" and refused.details["scope"] == scope
    await client.aclose()
