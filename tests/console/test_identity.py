"""Who is asking, from the cache (dashboard/accounts/identity.py): a page reads no session, user or
group row once they are cached, and every change to a user takes effect on their very next
request all the same: deactivation, a role change, a new password, signing out."""

from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.console.conftest import _client_for

PAGE_NEEDING_OPERATOR = "/workspaces/new/"


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
