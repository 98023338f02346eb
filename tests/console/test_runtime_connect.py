"""The runtime page's Connect panel against the real engine: an operator gets a CDP URL (audited)
with snippets, it really opens the runtime's browser, and who is connected is listed; a viewer
gets neither."""

from collections.abc import Iterator

import pytest
from django.test import Client
from websockets.sync.client import connect

from dashboard.audit.models import AuditEntry
from tests.console.runtime_support import LiveRuntime, live_runtime
from tests.support.engine_process import EngineProcess
from tests.support.html import region, text


@pytest.fixture(scope="module")
def connected(engine: EngineProcess) -> Iterator[LiveRuntime]:
    with live_runtime(engine, "connectable") as runtime:
        yield runtime


def test_an_operator_gets_a_url_that_opens_the_browser(
    operator_client: Client, connected: LiveRuntime
) -> None:
    page = operator_client.get(connected.url).content.decode()
    assert "Connect your own automation" in page and "/connect/" in page
    empty = operator_client.get(f"{connected.url}connect/", headers={"HX-Request": "true"}).content.decode()
    assert "Nobody is connected over CDP." in empty and "Get a connect URL" in empty
    minted = operator_client.post(f"{connected.url}connect/url/", headers={"HX-Request": "true"})
    body = minted.content.decode()
    assert minted.status_code == 200 and 'id="cdp-url"' in body
    url = text(region(body, "cdp-url"))
    assert url.startswith("ws://") and "/cdp/" in url and "token=" in url
    for snippet in ("connect_over_cdp(", "connectOverCDP(", "browserWSEndpoint"):
        assert snippet in body
    with connect(url) as socket:
        socket.send('{"id": 1, "method": "Browser.getVersion"}')
        assert '"product"' in socket.recv(timeout=30)
        listed = operator_client.get(
            f"{connected.url}connect/", headers={"HX-Request": "true"}
        ).content.decode()
        assert "<td>oscar</td>" in listed
    assert AuditEntry.objects.filter(action="runtime.cdp.connect_url", username="oscar").exists()


def test_a_viewer_gets_no_url(viewer_client: Client, connected: LiveRuntime) -> None:
    page = viewer_client.get(connected.url).content.decode()
    assert "Operators can connect Playwright or Puppeteer" in page and 'id="cdp-url"' not in page
    assert viewer_client.post(f"{connected.url}connect/url/").status_code == 403
    assert viewer_client.get(f"{connected.url}connect/").status_code == 403
