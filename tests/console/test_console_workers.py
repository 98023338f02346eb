"""`manage.py up --console-workers N`: several console processes behind one port, all real — the
command itself, its daphne processes, a redis-server, the database they share, the session engine.

What it protects: a user sees one console whichever process answers. A session made on one process
is valid on the other, the sign-in failure limit counts across both, and a change made through the
API reaches the live sockets of both. To aim a connection at one process, the test pauses the
other (SIGSTOP): the kernel then hands every new connection on the shared socket to the running one.
"""

import contextlib
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.console_up import PASSWORD, URL, Up, each_sees_once, start_up
from tests.support.engine_process import EngineProcess, eventually
from tests.support.updates import newest_update

METRICS_TOKEN = "workers-metrics-token"


@pytest.fixture(scope="module")
def up(
    engine: EngineProcess,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Up]:
    var_dir = tmp_path_factory.mktemp("console-workers")
    env = {
        **os.environ,
        "CONSOLE_VAR_DIR": str(var_dir),
        "BCTRL_API_URL": f"{engine.url}/v1",  # not the default: `up` starts no engine of its own
        "BCTRL_API_KEY": engine.keys["admin"],
        "REDIS_URL": redis_url,
        "LOGIN_RATE_LIMIT": "3",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "METRICS_TOKEN": METRICS_TOKEN,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = var_dir / "up.log"
    process = start_up(env, log, "--console-workers", "2")
    workers: list[int] = []
    try:
        found = eventually(lambda: process.poll() is not None or URL.search(log.read_text()), timeout=90)
        assert isinstance(found, re.Match), log.read_text()
        running = Up(process, found.group(1), env)
        workers = running.workers
        assert len(workers) == 2, (workers, log.read_text())
        running.manage("createuser", "--username", "alice", "--role", "admin", "--password", PASSWORD)
        running.manage("createuser", "--username", "bob", "--role", "viewer", "--password", PASSWORD)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert process.returncode == 0, log.read_text()
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)  # `up` left none behind


@pytest.mark.parametrize(
    ("asked", "args"),
    [({}, ("--console-workers", "2")), ({"CONSOLE_WORKERS": "2"}, ())],
    ids=["flag", "setting"],
)
def test_it_refuses_several_processes_without_redis(
    tmp_path: Path, asked: dict[str, str], args: tuple[str, ...]
) -> None:
    env = {**os.environ, "CONSOLE_VAR_DIR": str(tmp_path), **asked}
    env.pop("REDIS_URL", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log = tmp_path / "up.log"
    process = start_up(env, log, *args)
    assert process.wait(timeout=60) != 0
    assert "2 console processes need a Redis they all share, and REDIS_URL is not set" in log.read_text()
    assert not (tmp_path / "console.sqlite3").exists()  # refused before anything was made


def test_a_count_of_no_processes_is_refused_by_name(tmp_path: Path) -> None:
    env = {**os.environ, "CONSOLE_VAR_DIR": str(tmp_path), "CONSOLE_WORKERS": "0"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    process = start_up(env, tmp_path / "up.log")
    assert process.wait(timeout=60) != 0
    assert "CONSOLE_WORKERS is 0; it counts processes: 1 or more." in (tmp_path / "up.log").read_text()


def test_it_serves_one_port_from_two_processes(up: Up) -> None:
    for worker in up.workers:
        with up.only(worker), up.client() as client:
            assert client.get("/login/").status_code == 200


def test_a_session_made_on_one_process_is_valid_on_the_other(up: Up) -> None:
    first, second = up.workers
    with up.only(first), up.client() as client:
        assert up.sign_in(client, "alice", PASSWORD).status_code == 302
        cookies = client.cookies
    with up.only(second), up.client() as client:
        client.cookies = cookies
        page = client.get("/workspaces/")
    assert page.status_code == 200  # not the redirect to the sign-in page
    assert "alice" in page.text


def test_the_sign_in_limit_counts_failures_on_both_processes(up: Up) -> None:
    first, second = up.workers
    with up.only(first), up.client() as client:
        for _ in range(2):
            assert up.sign_in(client, "bob", "a wrong password").status_code == 200
    with up.only(second), up.client() as client:
        assert up.sign_in(client, "bob", "a wrong password").status_code == 200  # the third: the limit
    with up.only(first), up.client() as client:
        refused = up.sign_in(client, "bob", PASSWORD)  # the right password, locked all the same
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts" in refused.text


def test_a_change_through_the_api_reaches_sockets_on_both_processes(up: Up, api: httpx.Client) -> None:
    with up.client() as client:
        assert up.sign_in(client, "alice", PASSWORD).status_code == 302
        cookies = client.cookies
    start = newest_update(api)
    with contextlib.ExitStack() as stack:
        sockets = []
        for worker in up.workers:
            with up.only(worker):
                sockets.append(stack.enter_context(up.socket(cookies, start)))
        each_sees_once(api, start, sockets, "seen by both processes")
    for worker in up.workers:  # each process read it from its own one upstream stream
        with up.only(worker), up.client() as client:
            client.cookies = cookies
            relay = client.get("/live/", params={"region": "relay"}, headers={"HX-Request": "true"}).text
        assert "Upstream connections opened</dt><dd>1</dd>" in relay, relay


def test_metrics_from_either_process_count_both_processes_sockets(up: Up) -> None:
    with up.client() as client:
        assert up.sign_in(client, "alice", PASSWORD).status_code == 302
        cookies = client.cookies

    def counted(worker: int) -> str:
        with up.only(worker), up.client() as client:
            return client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text

    with contextlib.ExitStack() as stack:
        for worker in up.workers:  # one socket on each process
            with up.only(worker):
                stack.enter_context(up.socket(cookies, 0))
        for worker in up.workers:  # whichever process answers, it counts both
            assert eventually(lambda w=worker: 'bctrl_console_websockets{kind="updates"} 2.0' in counted(w))
