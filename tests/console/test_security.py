"""Security of the console as a whole: headers, login everywhere, CSRF, and no API key in pages."""

import os
import re
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator

import httpx
import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

from tests.support.engine_process import ROOT

# Values for each path converter, so every route can be requested without knowing it.
SAMPLES = {
    "uuid": str(uuid.uuid4()),
    "int": "1",
    "slug": "sample",
    "str": "sample",
    "path": "sample/key",
    "request_id": "req_1",
}
PUBLIC = {"login"}


def _routes(patterns: list, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(name, sample URL) for every route of the console."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            assert isinstance(entry.pattern, RoutePattern), f"{route}: use path(), not re_path()"
            url = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLES[m.group(1) or "str"], route)
            yield entry.name or route, "/" + url


ROUTES = sorted(set(_routes(get_resolver().url_patterns)))


@pytest.mark.parametrize(("name", "url"), [r for r in ROUTES if r[0] not in PUBLIC], ids=lambda v: str(v))
def test_every_page_requires_login(client: Client, name: str, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302, f"{name} {url} answered {response.status_code} to a stranger"
    assert response["Location"].startswith("/login/")


def test_the_route_list_is_not_empty() -> None:
    names = {name for name, _ in ROUTES}
    assert {"overview", "workspaces", "workspace_delete", "users", "audit", "login"} <= names


@pytest.mark.parametrize("url", ["/", "/workspaces/", "/login/", "/users/"])
def test_it_sends_security_headers(admin_client: Client, url: str, settings) -> None:
    response = admin_client.get(url)
    policy = response["Content-Security-Policy"]
    script = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert script.split() == ["script-src", "'self'"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy
    # the page may talk to the console itself and to the API's origin, nowhere else
    api_origin = "/".join(settings.BCTRL_API_URL.split("/")[:3])
    connect = next(part for part in policy.split(";") if part.strip().startswith("connect-src"))
    assert connect.split() == ["connect-src", "'self'", api_origin, api_origin.replace("http", "ws", 1)]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_pages_carry_no_inline_script_or_handler(admin_client: Client, api: httpx.Client) -> None:
    workspace = api.post("/workspaces", json={"name": "inline check"}).json()
    for url in (
        "/",
        "/workspaces/",
        f"/workspaces/{workspace['id']}/",
        f"/workspaces/{workspace['id']}/edit/",
    ):
        body = admin_client.get(url).content.decode()
        assert "<script>" not in body and " onclick=" not in body and "hx-on" not in body, url
        assert 'style="' not in body, url  # style-src 'self' would drop it


def test_posts_need_a_csrf_token(alice) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post("/workspaces/new/", {"name": "no token"}).status_code == 403
    assert strict.post(f"/users/{alice.pk}/role/", {"role": "viewer"}).status_code == 403


def test_the_login_form_needs_a_csrf_token(db) -> None:
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/login/", {"username": "x", "password": "y"}).status_code == 403


def test_the_api_key_never_reaches_a_page(admin_client: Client, api: httpx.Client, settings) -> None:
    key = settings.BCTRL_API_KEY
    workspace = api.post("/workspaces", json={"name": "key check"}).json()
    pages = ["/", "/workspaces/", f"/workspaces/{workspace['id']}/", f"/workspaces/{workspace['id']}/edit/"]
    pages += [f"/workspaces/{workspace['id']}/delete/", "/users/", "/audit/", f"/workspaces/{uuid.uuid4()}/"]
    for url in pages:
        assert key not in admin_client.get(url).content.decode(), url
    assert key not in Client().get("/login/").content.decode()


def test_the_console_keeps_its_files_to_itself(tmp_path) -> None:
    """Its var dir, secrets and SQLite database are 0700/0600 (the database was 0644: any user of
    the host, a runtime's browser among them, could read the sessions in it)."""
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    connect = "from django.db import connection; connection.ensure_connection()"
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", connect],
        cwd=ROOT,
        env={**env, "CONSOLE_VAR_DIR": str(var), "CONSOLE_LOCAL": "true"},
        check=True,
        capture_output=True,
        timeout=120,
    )
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (var, var / "secrets", var / "console.sqlite3")}
    assert modes == {"var": 0o700, "secrets": 0o700, "console.sqlite3": 0o600}
    assert {stat.S_IMODE(p.stat().st_mode) for p in (var / "secrets").iterdir()} == {0o600}
