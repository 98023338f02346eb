"""The admins' user page: list, create, change role, deactivate, delete, and the last-admin rule."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from dashboard.accounts.roles import role_of
from dashboard.audit.models import AuditEntry
from tests.support.html import attribute, element, row

pytestmark = pytest.mark.database  # run again on PostgreSQL (bin/test)


def _fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


def test_it_lists_users_with_role_and_status(admin_client: Client, vera: User, oscar: User) -> None:
    vera.is_active = False
    vera.save()
    body = admin_client.get("/users/").content.decode()
    assert "alice" in body and "(you)" in body
    listed = row(body, "<td>vera")
    assert "deactivated" in listed and "never" in listed
    assert attribute(listed, "option[selected]", "value") == "viewer"


def test_it_creates_a_user_with_a_role(admin_client: Client) -> None:
    response = admin_client.post(
        "/users/new/", {"username": "nina", "role": "operator", "password": "a long enough passphrase"}
    )
    assert response.status_code == 302
    nina = User.objects.get(username="nina")
    assert role_of(nina) == "operator" and nina.check_password("a long enough passphrase")
    entry = AuditEntry.objects.get(action="user.create")
    assert entry.username == "alice" and entry.target_id == "nina"
    assert "passphrase" not in entry.message


def test_it_refuses_a_weak_password_or_a_taken_name(admin_client: Client, vera: User) -> None:
    weak = admin_client.post("/users/new/", {"username": "nina", "role": "viewer", "password": "password"})
    assert weak.status_code == 422 and "too common" in weak.content.decode()
    taken = admin_client.post(
        "/users/new/", {"username": "VERA", "role": "viewer", "password": "x long passphrase"}
    )
    assert taken.status_code == 422 and "already exists" in taken.content.decode()
    assert not User.objects.filter(username="nina").exists()


def test_it_changes_a_role(admin_client: Client, vera: User) -> None:
    response = admin_client.post(f"/users/{vera.pk}/role/", {"role": "operator"})
    assert response.status_code == 302
    assert role_of(_fresh(vera)) == "operator"
    assert AuditEntry.objects.get(action="user.role").message == "viewer → operator"


def test_a_role_change_by_htmx_returns_the_table_and_a_toast(admin_client: Client, vera: User) -> None:
    response = admin_client.post(f"/users/{vera.pk}/role/", {"role": "admin"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="users-table"' in body and "<html" not in body
    assert 'hx-swap-oob="beforeend"' in body and "vera is now admin." in body


def test_it_deactivates_and_reactivates(admin_client: Client, vera: User) -> None:
    admin_client.post(f"/users/{vera.pk}/active/", {})
    assert not _fresh(vera).is_active
    admin_client.post(f"/users/{vera.pk}/active/", {"active": "on"})
    assert _fresh(vera).is_active
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["user.deactivate", "user.activate"]


def test_a_deactivated_user_cannot_sign_in(client: Client, vera: User) -> None:
    vera.is_active = False
    vera.save()
    response = client.post("/login/", {"username": "vera", "password": "correct horse battery staple"})
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_it_deletes_after_confirmation(admin_client: Client, vera: User) -> None:
    confirm = admin_client.get(f"/users/{vera.pk}/delete/")
    assert "Delete vera?" in confirm.content.decode()
    assert User.objects.filter(pk=vera.pk).exists()
    assert admin_client.post(f"/users/{vera.pk}/delete/").status_code == 302
    assert not User.objects.filter(pk=vera.pk).exists()
    assert AuditEntry.objects.get(action="user.delete").target_id == "vera"


@pytest.mark.parametrize(
    ("url", "data"),
    [("role/", {"role": "operator"}), ("active/", {}), ("delete/", {})],
    ids=["demote", "deactivate", "delete"],
)
def test_the_last_admin_cannot_remove_themselves(
    admin_client: Client, alice: User, url: str, data: dict
) -> None:
    response = admin_client.post(f"/users/{alice.pk}/{url}", data, follow=True)
    assert "without an active admin" in response.content.decode()
    alice = _fresh(alice)
    assert alice.is_active and role_of(alice) == "admin"
    assert AuditEntry.objects.get().outcome == "denied"


def test_an_admin_can_step_down_when_another_remains(admin_client: Client, alice: User, vera: User) -> None:
    admin_client.post(f"/users/{vera.pk}/role/", {"role": "admin"})
    admin_client.post(f"/users/{alice.pk}/role/", {"role": "viewer"})
    assert role_of(_fresh(alice)) == "viewer"


def test_a_demoted_superuser_loses_admin(admin_client: Client) -> None:
    root = User.objects.create_superuser("root", password="x")
    admin_client.post(f"/users/{root.pk}/role/", {"role": "viewer"})
    assert role_of(_fresh(root)) == "viewer"


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        (
            "post",
            "/users/new/",
            {"username": "mallory", "role": "admin", "password": "a long enough passphrase"},
        ),
        ("post", "/users/{pk}/role/", {"role": "admin"}),
        ("post", "/users/{pk}/active/", {}),
        ("post", "/users/{pk}/delete/", {}),
        ("get", "/users/", {}),
    ],
    ids=["create", "role", "deactivate", "delete", "list"],
)
def test_an_operator_cannot_manage_users(
    operator_client: Client, oscar: User, vera: User, method: str, url: str, data: dict
) -> None:
    response = getattr(operator_client, method)(url.format(pk=vera.pk), data)
    assert response.status_code == 403
    vera = _fresh(vera)
    assert vera.is_active and role_of(vera) == "viewer"
    assert not User.objects.filter(username="mallory").exists()


def test_a_viewer_cannot_manage_users(viewer_client: Client, vera: User) -> None:
    response = viewer_client.post(f"/users/{vera.pk}/role/", {"role": "admin"})
    assert response.status_code == 403 and role_of(_fresh(vera)) == "viewer"
    assert AuditEntry.objects.get(action="access.denied").username == "vera"


def test_non_admins_do_not_see_the_admin_menu(operator_client: Client, admin_client: Client) -> None:
    assert 'href="/users/"' not in operator_client.get("/workspaces/").content.decode()
    assert 'href="/users/"' in admin_client.get("/workspaces/").content.decode()


def test_a_user_changes_their_own_password(viewer_client: Client, vera: User, client: Client) -> None:
    wrong = viewer_client.post(
        "/account/password/",
        {
            "old_password": "not it",
            "new_password1": "a new long passphrase 7",
            "new_password2": "a new long passphrase 7",
        },
    )
    assert wrong.status_code == 422 and "old password was entered incorrectly" in wrong.content.decode()
    response = viewer_client.post(
        "/account/password/",
        {
            "old_password": "correct horse battery staple",
            "new_password1": "a new long passphrase 7",
            "new_password2": "a new long passphrase 7",
        },
    )
    assert response.status_code == 302
    assert viewer_client.get("/").status_code == 200  # still signed in here
    assert client.login(username="vera", password="a new long passphrase 7")
    entry = AuditEntry.objects.get(action="user.password.change")
    assert entry.username == "vera" and "passphrase" not in entry.message


def test_an_admin_resets_someone_elses_password(admin_client: Client, vera: User, client: Client) -> None:
    assert "Reset password" in admin_client.get("/users/").content.decode()
    response = admin_client.post(
        f"/users/{vera.pk}/password/",
        {"new_password1": "reset by an admin 42", "new_password2": "reset by an admin 42"},
    )
    assert response.status_code == 302
    assert client.login(username="vera", password="reset by an admin 42")
    assert AuditEntry.objects.get(action="user.password.reset").target_name == "vera"


def test_only_admins_reset_passwords(operator_client: Client, vera: User) -> None:
    response = operator_client.post(
        f"/users/{vera.pk}/password/",
        {"new_password1": "taken over 12345", "new_password2": "taken over 12345"},
    )
    assert response.status_code == 403
    assert not _fresh(vera).check_password("taken over 12345")


def test_times_are_shown_in_the_users_time_zone(viewer_client: Client, vera: User, client: Client) -> None:
    from dashboard.front.models import StepRecipe

    StepRecipe.objects.create(name="Timed", steps=[{"call": "page.title"}])
    assert " UTC</time>" in viewer_client.get("/recipes/").content.decode()
    page = viewer_client.get("/account/").content.decode()
    assert "Time zone" in page and 'value="Asia/Tokyo"' in page
    assert viewer_client.post("/account/", {"time_zone": "Asia/Tokyo"}).status_code == 302
    shown = viewer_client.get("/recipes/").content.decode()
    assert "Asia/Tokyo" in element(shown, "header") and " JST</time>" in shown and " UTC</time>" not in shown
    assert viewer_client.post("/account/", {"time_zone": "Mars/Olympus"}).status_code == 422
    # kept for the next sign-in
    client.login(username="vera", password="correct horse battery staple")
    assert "Asia/Tokyo" in element(client.get("/").content.decode(), "header")
