"""`/healthz` and `/readyz` on both services, against real dependencies that go away and come back.

What it protects: a load balancer takes a process out of rotation on its first probe after the
database or the API went away (no waiting for a timeout: each check has its own time limit), and
puts it back once they return; liveness never depends on them; no body names an address or a key.
"""

import httpx

from tests.deployment.conftest import Deployment
from tests.support.engine_process import eventually


def _ready(url: str) -> httpx.Response:
    return httpx.get(f"{url}/readyz", timeout=30)


def test_both_are_ready_and_say_what_they_checked(deployment: Deployment) -> None:
    console, engine = _ready(deployment.console.url), _ready(deployment.engine.url)
    assert console.status_code == 200, console.text
    checks = console.json()["checks"]
    assert console.json()["ready"] is True
    # the relay reads while a page is open (and a little after): idle or connected, both ready
    assert checks.pop("relay") in ("idle", "connected")
    assert checks == {"database": "ok", "redis": "off", "api": "ok"}
    assert engine.status_code == 200, engine.text
    assert engine.json() == {"ready": True, "checks": {"database": "ok"}, "runtimes": "isolated"}
    for body in (console.text, engine.text):  # no address, port or key of anything
        assert "127.0.0.1" not in body and deployment.engine.keys["admin"] not in body


def test_a_probe_needs_no_session_and_any_host_name(deployment: Deployment) -> None:
    # an orchestrator probes by the pod's address, which ALLOWED_HOSTS need not list
    for path in ("/healthz", "/readyz"):
        response = httpx.get(f"{deployment.console.url}{path}", headers={"Host": "10.1.2.3:8000"}, timeout=30)
        assert response.status_code == 200, response.text
        assert "Set-Cookie" not in response.headers
    for path in ("/healthz", "/readyz"):  # the image's HEALTHCHECK asks 127.0.0.1, whatever the names
        response = httpx.get(f"{deployment.engine.url}{path}", headers={"Host": "10.1.2.3:8787"}, timeout=30)
        assert response.status_code == 200, response.text


def test_it_is_not_ready_while_the_database_is_gone(deployment: Deployment) -> None:
    deployment.postgres.stop()
    try:
        console, engine = _ready(deployment.console.url), _ready(deployment.engine.url)
        # the first probe after the database left says so
        assert console.status_code == 503, console.text
        assert console.json()["checks"]["database"] == "unavailable"
        assert engine.status_code == 503, engine.text
        assert engine.json()["ready"] is False
        assert engine.json()["checks"] == {"database": "unavailable"}
        # alive all the same: a supervisor must not restart a process for its database
        assert httpx.get(f"{deployment.console.url}/healthz", timeout=30).status_code == 200
        assert httpx.get(f"{deployment.engine.url}/healthz", timeout=30).status_code == 200
    finally:
        deployment.postgres.start()
    assert eventually(lambda: _ready(deployment.console.url).status_code == 200)
    assert eventually(lambda: _ready(deployment.engine.url).status_code == 200)
    with deployment.engine.client() as api:  # and the engine serves again on its own connection
        assert api.get("/workspaces").status_code == 200


def test_the_console_is_not_ready_while_the_api_is_gone(deployment: Deployment) -> None:
    deployment.engine.stop()
    try:
        console = _ready(deployment.console.url)
        assert console.status_code == 503, console.text
        assert console.json()["checks"]["api"] == "unavailable"
        assert console.json()["checks"]["database"] == "ok"
    finally:
        deployment.restart_engine()
    assert eventually(lambda: _ready(deployment.console.url).status_code == 200)


def test_a_probe_path_takes_no_large_body(deployment: Deployment) -> None:
    # never counted against admission, so never a way around the body limit either
    for path in ("/healthz", "/readyz", "/metrics"):
        refused = httpx.post(f"{deployment.engine.url}{path}", content=b"x" * (2 * 1024 * 1024), timeout=30)
        assert refused.status_code == 413, (path, refused.text)
