"""Use without read, through the network capture: a site that echoes a filled password.

The runtime keeps the bodies of text responses for its inspector; once a vault secret was typed
into it, a body kept afterwards may hold that secret (a login's answer page, a JSON echo made by
a later document), so it is withheld from keys without raw-read rights (`vault.sealed`), its entry
saying `bodyWithheld: "vault"`; the secret's value is also replaced in whatever is kept. Real
Chromium, the loopback test site only.
"""

import json
from typing import Any

import pytest

from tests.support.engine_process import EngineProcess
from tests.support.network_events import network
from tests.support.site import TestSite
from tests.support.vault_echo import PASSWORD, USERNAME, entry


@pytest.mark.parametrize("scope", ["read", "operator"])
def test_a_body_kept_after_a_fill_is_withheld_without_raw_reads(
    engine: EngineProcess, site: TestSite, echoed: dict[str, Any], scope: str
) -> None:
    with engine.client(scope) as client:
        events = network(client, echoed["id"])
        assert PASSWORD not in json.dumps(events)
        for url in (f"{site.url}/echo", f"{site.url}/echo.json"):  # the filled document's, and a later one's
            seen = entry(events, url, "POST")
            # the entry stays: URL, status, headers, timings; only its body is withheld
            assert seen["network.response"]["status"] == 200
            finished = seen["network.finished"]
            assert finished["bodyKept"] is True and finished["bodyWithheld"] == "vault"
            assert finished["timing"]["wait"] >= 0 and finished["responseHeaders"]
            refused = client.get(f"/runtimes/{echoed['id']}/network/{finished['requestId']}/body")
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["code"] == "vault.sealed" and PASSWORD not in refused.text
        # A body that arrived before the fill holds no secret: it stays readable.
        before = entry(events, f"{site.url}/vault-login-echo.html", "GET")["network.finished"]
        assert "bodyWithheld" not in before
        page = client.get(f"/runtimes/{echoed['id']}/network/{before['requestId']}/body")
        assert page.status_code == 200 and b'id="pass"' in page.content


def test_raw_read_rights_get_the_body_with_the_secret_replaced(
    engine: EngineProcess, site: TestSite, echoed: dict[str, Any]
) -> None:
    with engine.client("admin") as admin:
        events = network(admin, echoed["id"])
        for url in (f"{site.url}/echo", f"{site.url}/echo.json"):
            finished = entry(events, url, "POST")["network.finished"]
            body = admin.get(f"/runtimes/{echoed['id']}/network/{finished['requestId']}/body")
            assert body.status_code == 200 and body.headers["X-BCTRL-Body-Withheld"] == "vault"
            # kept with the secret's value replaced (defence in depth); the username is no secret
            assert PASSWORD.encode() not in body.content and b"[secret]" in body.content
            assert USERNAME.encode() in body.content


def test_no_kept_file_of_the_run_holds_the_secret(engine: EngineProcess, echoed: dict[str, Any]) -> None:
    kept = list((engine.var_dir / "network" / echoed["id"]).iterdir())
    assert kept and all(PASSWORD.encode() not in path.read_bytes() for path in kept)
