"""`/metrics` on both services: Prometheus text, for a bearer token only, with bounded labels.

What it protects: a launch shows in `bctrl_runtime_launches_total` and its time in a histogram, a
step's time in another; the console counts its open websockets and its relay's lag; nobody
without the token reads any of it, and no label carries an id or a URL.
"""

import httpx
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect
from websockets.typing import Origin

from tests.deployment.conftest import PASSWORD, Deployment, scrape
from tests.support.engine_process import eventually


def _value(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def test_it_answers_only_its_token(deployment: Deployment) -> None:
    for url in (deployment.console.url, deployment.engine.url):
        assert httpx.get(f"{url}/metrics", timeout=30).status_code == 401
        wrong = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=30)
        assert wrong.status_code == 401 and "bctrl_" not in wrong.text
    # an API key is not the metrics token
    key = {"Authorization": f"Bearer {deployment.engine.keys['admin']}"}
    assert httpx.get(f"{deployment.engine.url}/metrics", headers=key, timeout=30).status_code == 401


def test_a_launch_and_a_step_are_counted_and_timed(deployment: Deployment) -> None:
    engine = deployment.engine
    before = scrape(engine.url, deployment.engine_token)
    with engine.client() as api:
        workspace = api.post("/workspaces", json={"name": "metrics"}).json()
        launched = api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "measured"})
        assert launched.status_code == 200, launched.text
        during = scrape(engine.url, deployment.engine_token)
        ran = api.post(
            f"/workspaces/{workspace['id']}/execute",
            json={
                "runtime": "measured",
                "steps": [{"call": "page.goto", "args": [f"{deployment.site.url}/index.html"]}],
            },
        )
        assert ran.json()["status"] == "succeeded", ran.text
        refused = api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "measured"})  # in use
        api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})
    after = scrape(engine.url, deployment.engine_token)

    launches = "bctrl_runtime_launches_total"
    assert _value(after, launches, result="started") == _value(before, launches, result="started") + 1
    refused_code = refused.json()["error"]["code"]
    assert _value(after, launches, result=refused_code) == _value(before, launches, result=refused_code) + 1
    count = "bctrl_runtime_launch_seconds_count"
    assert _value(after, count) == _value(before, count) + 1
    assert _value(after, "bctrl_runtime_launch_seconds_sum") > _value(
        before, "bctrl_runtime_launch_seconds_sum"
    )
    steps = "bctrl_step_seconds_count"
    assert (
        _value(after, steps, call="page.goto", result="ok")
        == _value(before, steps, call="page.goto", result="ok") + 1
    )
    assert _value(during, "bctrl_runtimes_active") == 1
    assert _value(after, "bctrl_runtimes_active") == 0
    assert _value(after, "bctrl_requests_in_flight", kind="requests") >= 0
    # bounded labels: no id, name or URL of anything made above
    for made in (workspace["id"], launched.json()["id"], "measured", deployment.site.url):
        assert made not in after


def test_the_console_counts_its_sockets_and_its_relay_lag(deployment: Deployment) -> None:
    console = deployment.console
    client = console.sign_in("alice", PASSWORD)
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    with connect(
        f"ws://127.0.0.1:{console.port}/ws/updates/",
        origin=Origin(console.url),
        additional_headers={"Cookie": cookie},
        open_timeout=20,
    ):
        assert eventually(
            lambda: (
                _value(
                    scrape(console.url, deployment.console_token), "bctrl_console_websockets", kind="updates"
                )
                == 1
            )
        )
        with deployment.engine.client() as api:  # an update for the relay to deliver
            workspace = api.post("/workspaces", json={"name": "relayed"}).json()
            api.delete(f"/workspaces/{workspace['id']}")
        assert eventually(lambda: "bctrl_relay_lag_seconds " in scrape(console.url, deployment.console_token))
        text = scrape(console.url, deployment.console_token)
        assert 0 <= _value(text, "bctrl_relay_lag_seconds") < 60
        assert _value(text, "bctrl_relay_upstream_connections_total") >= 1
    assert eventually(
        lambda: (
            _value(scrape(console.url, deployment.console_token), "bctrl_console_websockets", kind="updates")
            == 0
        )
    )
