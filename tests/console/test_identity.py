"""Who is asking, from the cache (dashboard/accounts/identity.py): a page reads no session, user or
group row once they are cached, and every change to a user takes effect on their very next
request all the same: deactivation, a role change, a new password, signing out."""

from pathlib import Path

from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from dashboard.accounts.identity import CachedModelBackend, _keys
from dashboard.accounts.users import set_active
from tests.console.conftest import _client_for
from tests.support.console_process import ConsoleProcess
from tests.support.engine_process import EngineProcess
from tests.support.html import attribute, row

PAGE_NEEDING_OPERATOR = "/workspaces/new/"
PASSWORD = "identity correct horse battery"


def test_a_signed_in_page_reads_nothing_from_the_database_once_cached(viewer_client: Client) -> None:
    assert viewer_client.get("/workspaces/").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert viewer_client.get("/workspaces/").status_code == 200
    assert [query["sql"] for query in queries] == []


def test_a_deactivated_user_is_signed_out_at_their_next_request(
    admin_client: Client, viewer_client: Client, vera: User
) -> None:
    assert viewer_client.get("/workspaces/").status_code == 200  # cached now
    admin_client.post(f"/users/{vera.pk}/active/", {})
    response = viewer_client.get("/workspaces/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_role_change_takes_effect_at_the_next_request(
    admin_client: Client, operator_client: Client, oscar: User
) -> None:
    assert operator_client.get(PAGE_NEEDING_OPERATOR).status_code == 200
    admin_client.post(f"/users/{oscar.pk}/role/", {"role": "viewer"})
    assert operator_client.get(PAGE_NEEDING_OPERATOR).status_code == 403
    admin_client.post(f"/users/{oscar.pk}/role/", {"role": "operator"})
    assert operator_client.get(PAGE_NEEDING_OPERATOR).status_code == 200


def test_a_role_given_through_the_group_takes_effect_at_once(operator_client: Client, oscar: User) -> None:
    assert "role-operator" in operator_client.get("/workspaces/").content.decode()
    Group.objects.get(name="admin").user_set.add(oscar)  # the reverse side of the relation
    assert "role-admin" in operator_client.get("/workspaces/").content.decode()
    Group.objects.get(name="admin").user_set.clear()
    assert "role-operator" in operator_client.get("/workspaces/").content.decode()


def test_a_new_password_signs_out_the_users_other_sessions(viewer_client: Client, vera: User) -> None:
    assert viewer_client.get("/workspaces/").status_code == 200
    vera.set_password("another correct horse battery")
    vera.save()
    response = viewer_client.get("/workspaces/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(vera: User) -> None:
    browser = _client_for(vera)
    stolen = Client()
    stolen.cookies["sessionid"] = browser.cookies["sessionid"].value  # the cookie, held by someone else
    assert stolen.get("/workspaces/").status_code == 200
    browser.post("/logout/")
    response = stolen.get("/workspaces/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_copy_read_before_a_deactivation_and_stored_after_it_is_never_served(vera: User) -> None:
    backend = CachedModelBackend()
    entry_key, generation_key = _keys(vera.pk)
    assert backend.get_user(vera.pk) == vera
    # a request reads the row and its generation...
    generation, row = cache.get(generation_key), User.objects.get(pk=vera.pk)
    set_active(vera, False)  # ...an admin deactivates her meanwhile...
    cache.set(entry_key, (generation, row))  # ...and the request stores what it read, late
    assert backend.get_user(vera.pk) is None


# --- two console processes sharing a real Redis: a change made in one holds in the other at once -


def test_a_change_made_in_one_console_process_holds_in_another_at_once(
    tmp_path: Path,
    redis_url: str,
    engine: EngineProcess,
) -> None:
    shared = {"REDIS_URL": redis_url}
    one = ConsoleProcess(tmp_path / "console", f"{engine.url}/v1", engine.keys["admin"], extra_env=shared)
    other = ConsoleProcess(tmp_path / "console", f"{engine.url}/v1", engine.keys["admin"], extra_env=shared)
    other.log_path = tmp_path / "other.log"
    one.start()
    other.start()
    try:
        for username, role in [("ada", "admin"), ("otto", "operator"), ("vic", "viewer")]:
            one.create_user(username, role, PASSWORD)
        admin = one.sign_in("ada", PASSWORD)
        operator, viewer = other.sign_in("otto", PASSWORD), other.sign_in("vic", PASSWORD)
        # both cached in the other process (and in Redis) by these requests
        assert operator.get(PAGE_NEEDING_OPERATOR).status_code == 200
        assert viewer.get("/workspaces/").status_code == 200
        users = admin.get("/users/").text
        ids = {
            name: attribute(row(users, f"<td>{name}</td>"), "select[name=role]", "id")[5:]
            for name in ("otto", "vic")
        }
        token = {"csrfmiddlewaretoken": admin.cookies["csrftoken"]}

        assert admin.post(f"/users/{ids['otto']}/role/", data={"role": "viewer", **token}).status_code == 302
        assert operator.get(PAGE_NEEDING_OPERATOR).status_code == 403

        assert admin.post(f"/users/{ids['vic']}/active/", data=token).status_code == 302
        response = viewer.get("/workspaces/")
        assert response.status_code == 302 and response.headers["Location"].startswith("/login/")
    finally:
        one.stop()
        other.stop()
