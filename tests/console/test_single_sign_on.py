"""The sign-in page with single sign-on configured, and without local accounts (the sign-in
itself, through a real provider in a browser: tests/e2e/test_single_sign_on.py)."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.database  # run again on PostgreSQL (bin/test)


@pytest.fixture
def single_sign_on(settings, db: None) -> None:
    settings.OIDC_ISSUER = "https://id.example.test/realms/acme"
    settings.OIDC_PROVIDER_NAME = "Acme ID"


def test_the_sign_in_page_offers_the_provider_beside_passwords(client: Client, single_sign_on: None) -> None:
    page = client.get("/login/")
    assert 'href="/sso/start/"' in page.text and "Sign in with Acme ID" in page.text
    assert 'name="password"' in page.text


def test_without_local_accounts_no_password_signs_in(
    client: Client, single_sign_on: None, settings, alice: User
) -> None:
    settings.LOCAL_ACCOUNTS = False
    page = client.get("/login/?next=/vault/")
    assert 'name="password"' not in page.text
    assert 'href="/sso/start/?next=/vault/"' in page.text  # back where they were going, after
    refused = client.post("/login/", {"username": "alice", "password": "correct horse battery staple"})
    assert refused.status_code == 403
    assert client.get("/").status_code == 302  # still signed out
    # nor through any other door that takes a password
    assert not client.login(username="alice", password="correct horse battery staple")


def test_a_provider_that_cannot_be_reached_is_said_on_the_sign_in_page(
    client: Client, single_sign_on: None, settings
) -> None:
    from tests.support.engine_process import refused_port

    settings.OIDC_ISSUER = f"http://127.0.0.1:{refused_port()}/o"
    settings.OIDC_RP_CLIENT_ID = "bctrl-console"
    started = client.get("/sso/start/")
    assert started.status_code == 302 and started["Location"] == "/login/"
    page = client.get("/login/").text
    assert "The identity provider could not be reached" in page and "127.0.0.1" not in page
    assert "could not be reached" not in client.get("/login/").text  # said once


def test_the_callback_without_an_answer_from_the_provider_signs_nobody_in(
    client: Client, single_sign_on: None
) -> None:
    answered = client.get("/sso/callback/", {"code": "made-up", "state": "made-up"})
    assert answered.status_code == 302 and answered["Location"] == "/login/"
    assert client.get("/").status_code == 302
