"""A Playwright script of 100 steps through the CDP gateway, against the same script on a raw Chromium.

  gateway: Playwright's connect_over_cdp to the URL `POST .../runtimes/{alias}/cdp` mints, on a
           real engine's runtime: every message passes the gateway's websocket, its rules and
           the runtime's CDP multiplexer (and the page's requests the runtime's egress proxy);
  raw:     the same Playwright driving a Chromium it launched itself (same executable and flags).
Both run the same 100 steps on the suite's local site (navigations, clicks, fills, evaluations,
reads); rounds alternate so background load hits both alike. Prints the median time of a round
for each and their ratio (goal ≤ 1.2).

The gateway's runtime is launched with `recording: false`: the recorder (a screencast of every tab
at ~12 fps, JPEG-encoded, a cost of every runtime whether or not a client is connected; see
bench/recording.py) is not what a CDP client adds, and a raw Chromium has none. The same script
on a default runtime (recording on) is printed too, for what a user sees: measured after the first
runtime stopped, against raw rounds of its own.

  --rounds N   rounds per configuration (default 5)
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

from engine.runtimes import chromium  # noqa: E402
from tests.support.engine_process import EngineProcess  # noqa: E402
from tests.support.site import TestSite  # noqa: E402

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


def connect_url(client: httpx.Client, workspace: str, alias: str, recording: bool) -> str:
    launch = {"alias": alias, "launch": {"mode": "ephemeral", "config": {"recording": recording}}}
    assert client.post(f"/workspaces/{workspace}/runtimes", json=launch).status_code == 200
    minted = client.post(
        f"/workspaces/{workspace}/runtimes/{alias}/cdp", json={"label": alias, "ttlSeconds": 600}
    )
    url: str = minted.json()["webSocketDebuggerUrl"]
    return url


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    site = TestSite().start()
    engine = EngineProcess(Path(tempfile.mkdtemp(prefix="cdp-bench-")), allow=site.host_port).start()
    times: dict[str, list[float]] = {"gateway": [], "raw": [], "recorded": [], "raw beside it": []}
    try:
        with engine.client("operator") as client, sync_playwright() as playwright:
            workspace = client.post("/workspaces", json={"name": "cdp bench"}).json()["id"]
            raw = playwright.chromium.launch(executable_path=chromium.executable(), args=list(chromium.FLAGS))
            raw_page = raw.new_page(viewport={"width": 1280, "height": 720})
            # One runtime at a time: a second one's recorder (a screencast of its tabs) would load
            # the machine in the background of the first one's rounds.
            for alias, name, recording in (("bench", "gateway", False), ("recorded", "recorded", True)):
                gateway = playwright.chromium.connect_over_cdp(
                    connect_url(client, workspace, alias, recording)
                )
                pages = {
                    name: gateway.contexts[0].pages[0],
                    "raw" if name == "gateway" else "raw beside it": raw_page,
                }
                for page in pages.values():
                    script(page, site.url)  # warm each: the first navigation, Playwright's injected code
                for _ in range(rounds):
                    for label, page in pages.items():
                        started = time.perf_counter()
                        script(page, site.url)
                        times[label].append(time.perf_counter() - started)
                gateway.close()
                client.post(f"/workspaces/{workspace}/runtimes/{alias}/stop")
            raw.close()
    finally:
        engine.stop()
        site.stop()
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"{STEPS} Playwright steps, median of {rounds} rounds")
    print(f"  through the CDP gateway : {median['gateway'] * 1000:8.0f} ms")
    print(f"  raw local Chromium      : {median['raw'] * 1000:8.0f} ms")
    print(f"  ratio gateway/raw       : {median['gateway'] / median['raw']:8.2f}   (goal <= 1.2)")
    recorded = median["recorded"] / median["raw beside it"]
    print(f"  (a runtime recording    : {median['recorded'] * 1000:8.0f} ms, ratio {recorded:.2f})")


if __name__ == "__main__":
    main()
