"""A Playwright script of 100 steps through the CDP gateway, against the same script on a raw Chromium.

  gateway: Playwright's connect_over_cdp to the URL `POST .../runtimes/{alias}/cdp` mints, on a
           real engine's runtime, then `browser.new_page()`: every message passes the gateway's
           websocket, its rules and the runtime's CDP multiplexer, the page's requests the
           runtime's egress proxy, and the engine's own Playwright watches the page (its events,
           network capture, live view);
  raw:     the same Playwright driving a Chromium it launched itself (same executable and flags),
           then `browser.new_page()`.
Both run the same 100 steps on the suite's local site (navigations, clicks, fills, evaluations,
reads) in a fresh context of their own, as a Playwright script does. A round runs both back to
back (which goes first alternates); prints the median time of each and the median of the
rounds' ratios (goal ≤ 1.2).

Printed beside it, each against a raw baseline of the same kind measured in the same rounds:
- the runtime's own first page (`browser.contexts[0].pages[0]`: the runtime's persistent profile,
  with its history, disk cache and cookies written to disk) against a raw Chromium's persistent
  context (`launch_persistent_context`): a profile on disk costs a raw Chromium ~5 % by itself;
- the same on a runtime that records (the default): the recorder (a screencast of every tab at
  ~12 fps, JPEG-encoded; bench/recording.py) is a cost of every runtime whether or not a client
  is connected, so the gateway's runtimes are launched with `recording: false` and this one is
  measured apart, after the first runtime stopped.

  --rounds N   rounds per configuration (default 7)
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
from playwright.sync_api import Page, ViewportSize, sync_playwright  # noqa: E402

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


def rounds_of(pages: dict[str, Page], site: str, rounds: int, times: dict[str, list[float]]) -> None:
    """Warm each page (first navigation, Playwright's injected code), then run the script on each,
    back to back, `rounds` times, which one goes first alternating."""
    for page in pages.values():
        script(page, site)
    for round_number in range(rounds):
        order = list(pages.items())
        for label, page in order if round_number % 2 == 0 else reversed(order):
            started = time.perf_counter()
            script(page, site)
            times.setdefault(label, []).append(time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    site = TestSite().start()
    engine = EngineProcess(Path(tempfile.mkdtemp(prefix="cdp-bench-")), allow=site.host_port).start()
    viewport: ViewportSize = {"width": 1280, "height": 720}
    times: dict[str, list[float]] = {}
    try:
        with engine.client("operator") as client, sync_playwright() as playwright:
            workspace = client.post("/workspaces", json={"name": "cdp bench"}).json()["id"]
            executable, flags = chromium.executable(), list(chromium.FLAGS)
            raw = playwright.chromium.launch(executable_path=executable, args=flags)
            profile = playwright.chromium.launch_persistent_context(
                tempfile.mkdtemp(prefix="cdp-bench-profile-"),
                executable_path=executable,
                args=flags,
                viewport=viewport,
            )
            # One runtime at a time: a second one's recorder (a screencast of its tabs) would load
            # the machine in the background of the first one's rounds.
            gateway = playwright.chromium.connect_over_cdp(connect_url(client, workspace, "bench", False))
            rounds_of(
                {"gateway": gateway.new_page(viewport=viewport), "raw": raw.new_page(viewport=viewport)},
                site.url,
                rounds,
                times,
            )
            own_pages = {"own page": gateway.contexts[0].pages[0], "raw profile": profile.pages[0]}
            rounds_of(own_pages, site.url, rounds, times)
            gateway.close()
            client.post(f"/workspaces/{workspace}/runtimes/bench/stop")
            recorder = playwright.chromium.connect_over_cdp(connect_url(client, workspace, "recorded", True))
            own_pages = {"recorded": recorder.contexts[0].pages[0], "raw profile beside it": profile.pages[0]}
            rounds_of(own_pages, site.url, rounds, times)
            recorder.close()
            client.post(f"/workspaces/{workspace}/runtimes/recorded/stop")
            profile.close()
            raw.close()
    finally:
        engine.stop()
        site.stop()
    median = {name: statistics.median(values) for name, values in times.items()}

    def ratio(measured: str, baseline: str) -> float:
        """The median of the rounds' ratios: a round runs both back to back, so each ratio is
        taken under the same background load (a 2-core machine's load drifts between rounds)."""
        return statistics.median(m / b for m, b in zip(times[measured], times[baseline], strict=True))

    print(f"{STEPS} Playwright steps, median of {rounds} rounds (ratios: median of the rounds' ratios)")
    print(f"  through the CDP gateway : {median['gateway'] * 1000:8.0f} ms")
    print(f"  raw local Chromium      : {median['raw'] * 1000:8.0f} ms")
    print(f"  ratio gateway/raw       : {ratio('gateway', 'raw'):8.2f}   (goal <= 1.2)")
    print(
        f"  (the runtime's own page : {median['own page'] * 1000:8.0f} ms, "
        f"ratio {ratio('own page', 'raw profile'):.2f} against a raw persistent profile)"
    )
    print(
        f"  (a runtime recording    : {median['recorded'] * 1000:8.0f} ms, "
        f"ratio {ratio('recorded', 'raw profile beside it'):.2f} against a raw persistent profile)"
    )


if __name__ == "__main__":
    main()
