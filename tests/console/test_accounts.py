"""Signing in (with its failed-attempt limit) and the createuser command."""

import ipaddress
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client

from dashboard.accounts.roles import role_of
from dashboard.audit.models import AuditEntry
from tests.support.html import element

pytestmark = pytest.mark.database  # run again on PostgreSQL (bin/test)

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def fresh_cache() -> None:
    cache.clear()  # the failure counters live in the cache


def _sign_in(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


# --- sign in ----------------------------------------------------------------------------------


def test_it_signs_in_and_lands_on_the_overview(client: Client, vera: User) -> None:
    response = _sign_in(client, "vera", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/"


def test_a_wrong_password_says_so_without_naming_the_cause(client: Client, vera: User) -> None:
    response = _sign_in(client, "vera", "wrong")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_the_login_page_works_with_the_keyboard(client: Client) -> None:
    body = client.get("/login/").content.decode()
    assert 'for="id_username"' in body and 'for="id_password"' in body
    assert "autofocus" in body and 'autocomplete="current-password"' in body
    assert '<button type="submit">Sign in</button>' in body  # Enter submits the form
    assert 'class="skip-link"' in body


def test_it_locks_a_name_and_address_after_too_many_failures(client: Client, vera: User, settings) -> None:
    settings.LOGIN_RATE_LIMIT = 3
    for _ in range(3):
        _sign_in(client, "vera", "wrong")
    locked = _sign_in(client, "vera", PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.get(action="login.locked").username == "vera"


def test_the_lock_reads_the_same_for_a_name_that_does_not_exist(client: Client, vera: User, settings) -> None:
    settings.LOGIN_RATE_LIMIT = 2
    answers = []
    for username in ("vera", "nobody-here"):
        for _ in range(2):
            _sign_in(client, username, "wrong")
        locked = _sign_in(client, username, "wrong")
        answers.append((locked.status_code, element(locked.content.decode(), "div.alert.alert-error")))
    assert answers[0] == answers[1] and answers[0][0] == 429


def test_the_lock_is_per_address(client: Client, vera: User, settings) -> None:
    settings.LOGIN_RATE_LIMIT = 2
    for _ in range(2):
        _sign_in(client, "vera", "wrong", address="10.0.0.1")
    assert _sign_in(client, "vera", PASSWORD, address="10.0.0.1").status_code == 429
    assert _sign_in(client, "vera", PASSWORD, address="10.0.0.2").status_code == 302


def test_an_address_trying_many_names_is_locked_too(client: Client, vera: User, settings) -> None:
    settings.LOGIN_ADDRESS_RATE_LIMIT = 3
    for name in ("ann", "bob", "cyd"):
        _sign_in(client, name, "wrong", address="10.0.0.7")
    locked = _sign_in(client, "vera", PASSWORD, address="10.0.0.7")
    assert locked.status_code == 429 and "_auth_user_id" not in client.session
    assert AuditEntry.objects.get(action="login.locked").remote_addr == "10.0.0.7"
    assert _sign_in(client, "vera", PASSWORD, address="10.0.0.8").status_code == 302


def test_behind_a_trusted_proxy_the_forwarded_address_counts(client: Client, vera: User, settings) -> None:
    settings.LOGIN_RATE_LIMIT = 2
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.9.0.0/24")]

    def through(proxy: str, chain: str, password: str = "wrong"):  # noqa: S107
        return client.post(
            "/login/",
            {"username": "vera", "password": password},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=chain,
        )

    for _ in range(2):  # the client forged a first hop; the proxy appended the address it saw
        through("10.9.0.1", "198.51.100.1, 203.0.113.5")
    assert through("10.9.0.2", "203.0.113.5", PASSWORD).status_code == 429
    assert AuditEntry.objects.get(action="login.locked").remote_addr == "203.0.113.5"
    assert through("10.9.0.1", "203.0.113.6", PASSWORD).status_code == 302  # another client
    client.logout()
    # A peer that is not a trusted proxy cannot pick its address with the header.
    for _ in range(2):
        client.post(
            "/login/",
            {"username": "vera", "password": "w"},
            REMOTE_ADDR="10.0.0.5",
            HTTP_X_FORWARDED_FOR="1.2.3.4",
        )
    forged = client.post(
        "/login/",
        {"username": "vera", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.5",
        HTTP_X_FORWARDED_FOR="5.6.7.8",
    )
    assert forged.status_code == 429


def test_a_success_clears_the_count(client: Client, vera: User, settings) -> None:
    settings.LOGIN_RATE_LIMIT = 3
    for _ in range(2):
        _sign_in(client, "vera", "wrong")
    assert _sign_in(client, "vera", PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        _sign_in(client, "vera", "wrong")
    assert _sign_in(client, "vera", PASSWORD).status_code == 302


def test_signing_out_needs_a_post(admin_client: Client) -> None:
    assert admin_client.post("/logout/").status_code == 302
    assert admin_client.get("/").status_code == 302


# --- createuser -------------------------------------------------------------------------------


def _createuser(*args: str) -> str:
    out = StringIO()
    call_command("createuser", *args, stdout=out)
    return out.getvalue()


def test_createuser_generates_and_prints_a_strong_password(db) -> None:
    output = _createuser("--username", "olga", "--role", "operator")
    password = output.split("Password: ")[1].strip()
    assert len(password) >= 20
    user = User.objects.get(username="olga")
    assert user.check_password(password) and role_of(user) == "operator"


def test_createuser_is_idempotent_and_updates_the_role(db) -> None:
    _createuser("--username", "olga", "--role", "viewer", "--password", PASSWORD)
    output = _createuser("--username", "olga", "--role", "admin")
    user = User.objects.get(username="olga")
    assert "Updated" in output and "Password" not in output
    assert role_of(user) == "admin" and user.check_password(PASSWORD)
    assert list(user.groups.values_list("name", flat=True)) == ["admin"]


def test_createuser_updates_the_password_when_given(db) -> None:
    _createuser("--username", "olga", "--role", "viewer", "--password", PASSWORD)
    _createuser("--username", "olga", "--role", "viewer", "--password", "another long passphrase")
    assert User.objects.get(username="olga").check_password("another long passphrase")


def test_createuser_refuses_a_weak_password(db) -> None:
    with pytest.raises(CommandError, match="Password refused"):
        _createuser("--username", "olga", "--role", "viewer", "--password", "123")
    assert not User.objects.filter(username="olga").exists()


def test_createuser_will_not_demote_the_last_admin(alice: User) -> None:
    with pytest.raises(CommandError, match="without an active admin"):
        _createuser("--username", "alice", "--role", "viewer")
    assert role_of(User.objects.get(username="alice")) == "admin"
