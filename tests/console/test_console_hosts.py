"""Two console hosts behind a load balancer: two `manage.py up` runs (each its own var dir and
port, as on two machines) sharing one PostgreSQL database, one Redis and one SECRET_KEY, in front
of the session engine. All real: the commands, their daphne processes, the servers.

What it protects: a team sees one console whichever host answers. A session made on one host is
valid on the other, the sign-in limit counts failures on both, a recipe saved on one is there on
the other and so is its audit line, and a change reaches the live sockets of both.
"""

import contextlib
import os
import re
import secrets
import signal
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.support.console_up import PASSWORD, URL, Up, each_sees_once, start_up
from tests.support.engine_process import EngineProcess, eventually
from tests.support.postgres_server import PostgresServer
from tests.support.updates import newest_update


@pytest.fixture(scope="module")
def hosts(
    engine: EngineProcess,
    postgres: PostgresServer,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[list[Up]]:
    shared = {
        "DATABASE_URL": postgres.create_database("console_hosts"),
        "REDIS_URL": redis_url,
        "SECRET_KEY": secrets.token_urlsafe(50),  # one deployment: sessions signed alike on both
        "BCTRL_API_URL": f"{engine.url}/v1",
        "BCTRL_API_KEY": engine.keys["admin"],
        "LOGIN_RATE_LIMIT": "3",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    processes: list[subprocess.Popen[bytes]] = []
    hosts: list[Up] = []
    try:
        for name in ("host-a", "host-b"):  # one after the other: the first migrates the database
            var_dir = tmp_path_factory.mktemp(name)
            env = {**os.environ, "CONSOLE_VAR_DIR": str(var_dir), **shared}
            env.pop("DJANGO_SETTINGS_MODULE", None)
            log = var_dir / "up.log"
            process = start_up(env, log)
            processes.append(process)
            found = eventually(
                lambda p=process, log=log: p.poll() is not None or URL.search(log.read_text()), 90
            )
            assert isinstance(found, re.Match), log.read_text()
            hosts.append(Up(process, found.group(1), env))
        hosts[0].manage("createuser", "--username", "alice", "--role", "admin", "--password", PASSWORD)
        hosts[0].manage("createuser", "--username", "bob", "--role", "viewer", "--password", PASSWORD)
        yield hosts
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    assert all(process.returncode == 0 for process in processes)


@contextlib.contextmanager
def _signed_in(host: Up, username: str = "alice") -> Iterator[httpx.Client]:
    with host.client() as client:
        assert host.sign_in(client, username, PASSWORD).status_code == 302
        yield client


def test_a_session_made_on_one_host_is_valid_on_the_other(hosts: list[Up]) -> None:
    first, second = hosts
    with _signed_in(first) as client:
        cookies = client.cookies
    with second.client() as client:
        client.cookies = cookies
        page = client.get("/workspaces/")
    assert page.status_code == 200  # not the redirect to the sign-in page
    assert "alice" in page.text


def test_the_sign_in_limit_counts_failures_on_both_hosts(hosts: list[Up]) -> None:
    first, second = hosts
    with first.client() as client:
        for _ in range(2):
            assert first.sign_in(client, "bob", "a wrong password").status_code == 200
    with second.client() as client:
        assert second.sign_in(client, "bob", "a wrong password").status_code == 200  # the third
    with first.client() as client:
        refused = first.sign_in(client, "bob", PASSWORD)  # the right password, locked all the same
    assert refused.status_code == 429


def test_a_recipe_saved_on_one_host_and_its_audit_line_are_on_the_other(hosts: list[Up]) -> None:
    first, second = hosts
    name = f"shared recipe {secrets.token_hex(3)}"
    with _signed_in(first) as client:
        client.get("/recipes/new/")
        saved = client.post(
            "/recipes/new/",
            data={
                "name": name,
                "steps_json": '[{"call": "page.goto", "args": ["https://example.com"]}]',
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
            },
        )
        assert saved.status_code == 302, saved.text
    with _signed_in(second) as client:
        assert name in client.get("/recipes/").text
        audit = client.get("/audit/").text
    assert "recipe.create" in audit and name in audit


def test_a_change_reaches_live_sockets_on_both_hosts(hosts: list[Up], api: httpx.Client) -> None:
    with _signed_in(hosts[0]) as client:
        cookies = client.cookies
    start = newest_update(api)
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(host.socket(cookies, start)) for host in hosts]
        workspace = each_sees_once(api, start, sockets, "seen by both hosts")
    api.delete(f"/workspaces/{workspace['id']}")
