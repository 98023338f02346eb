"""A Playwright script of 100 steps through the CDP gateway, against the same script on a raw Chromium.

  gateway: Playwright's connect_over_cdp to the URL `POST .../runtimes/{alias}/cdp` mints, on a
           real engine's runtime: every message passes the gateway's websocket, its rules and
           the runtime's CDP multiplexer (and the page's requests the runtime's egress proxy);
  raw:     the same Playwright driving a Chromium it launched itself (same executable and flags).
Both run the same 100 steps on the suite's local site (navigations, clicks, fills, evaluations,
reads); rounds alternate so background load hits both alike. Prints the median time of a round
for each and their ratio (goal ≤ 1.2).
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from engine.runtimes import chromium  # noqa: E402
from tests.support.engine_process import EngineProcess  # noqa: E402
from tests.support.site import TestSite  # noqa: E402

ROUNDS = 5
STEPS = 100


def script(page: Page, site: str) -> None:
    """100 steps, each one Playwright call a user's script makes."""
    done = 0
    while done < STEPS:
        page.goto(f"{site}/form.html")
        page.fill("#name", f"user {done}")
        page.fill("#password", "not a secret")
        page.check("#agree")
        page.select_option("#color", "blue")
        page.click("#submit")
        assert page.text_content("#out") == f"Hi user {done}"
        page.title()
        page.evaluate("document.querySelectorAll('.item').length")
        page.get_attribute(".item >> nth=1", "data-id")
        done += 10


def main() -> None:
    site = TestSite().start()
    engine = EngineProcess(Path(tempfile.mkdtemp(prefix="cdp-bench-")), allow=site.host_port).start()
    try:
        with engine.client("operator") as client, sync_playwright() as playwright:
            workspace = client.post("/workspaces", json={"name": "cdp bench"}).json()["id"]
            runtime = f"/workspaces/{workspace}/runtimes/bench"
            assert (
                client.post(f"/workspaces/{workspace}/runtimes", json={"alias": "bench"}).status_code == 200
            )
            url = client.post(f"{runtime}/cdp", json={"label": "bench", "ttlSeconds": 600}).json()[
                "webSocketDebuggerUrl"
            ]
            remote = playwright.chromium.connect_over_cdp(url)
            gateway_page = remote.contexts[0].pages[0]
            raw = playwright.chromium.launch(executable_path=chromium.executable(), args=list(chromium.FLAGS))
            raw_page = raw.new_page(viewport={"width": 1280, "height": 720})
            script(gateway_page, site.url)  # warm both: the first navigation, Playwright's injected code
            script(raw_page, site.url)
            gateway_times, raw_times = [], []
            for _ in range(ROUNDS):
                for page, times in ((gateway_page, gateway_times), (raw_page, raw_times)):
                    started = time.perf_counter()
                    script(page, site.url)
                    times.append(time.perf_counter() - started)
            remote.close()
            raw.close()
            client.post(f"{runtime}/stop")
    finally:
        engine.stop()
        site.stop()
    gateway, baseline = statistics.median(gateway_times), statistics.median(raw_times)
    print(f"{STEPS} Playwright steps, median of {ROUNDS} rounds")
    print(f"  through the CDP gateway : {gateway * 1000:8.0f} ms")
    print(f"  raw local Chromium      : {baseline * 1000:8.0f} ms")
    print(f"  ratio gateway/raw       : {gateway / baseline:8.2f}   (goal <= 1.2)")


if __name__ == "__main__":
    main()
