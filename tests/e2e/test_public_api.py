"""The console's live parts against the public BCTRL surface: a real console process, the public-API
double over real HTTP (tests/support/public_api.py), Chromium and the console's real websockets.

What it protects: against an API whose events have uuid ids, opaque cursors and no `sequence`,
and whose updates stream has no ids and keeps ending, a runtime page left open streams new
events once each and costs a bounded number of calls (the issue's reviewer saw 2,401 list calls
in 2 s); the relay reopens the stream a few times a minute at most and says that it cannot resume.
"""

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD, screenshot, sign_in
from tests.support.console_process import ConsoleProcess
from tests.support.public_api import KEY, PublicApi

pytestmark = pytest.mark.e2e

WINDOW_MS = 10_000
EVENT_CALLS_MAX = 30  # in WINDOW_MS, the page's own reads included
TICK_SECONDS = 0.25  # the double's runtime logs a line this often: a busy page


@pytest.fixture(scope="module")
def double() -> Iterator[PublicApi]:
    api = PublicApi(stream_seconds=2).start()  # the updates stream ends every 2 s
    yield api
    api.stop()


@pytest.fixture(scope="module")
def public_console(double: PublicApi, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleProcess]:
    process = ConsoleProcess(tmp_path_factory.mktemp("public-console"), double.url, KEY)
    process.start()
    process.create_user("alice", "admin", PASSWORD)
    yield process
    process.stop()


def event_calls(double: PublicApi, since: int) -> int:
    return double.count("GET", r"/events\?", since) + double.count("POST", r"/events/wait\?", since)


def test_a_runtime_page_left_open_streams_each_event_once_within_a_budget_of_calls(
    page: Page, double: PublicApi, public_console: ConsoleProcess, tmp_path: Path
) -> None:
    workspace = double.add_workspace("Public live")
    double.add_runtime(workspace["id"], "ticker", tick_seconds=TICK_SECONDS)
    sign_in(page, public_console)
    since = len(double.calls)
    page.goto(f"{public_console.url}/workspaces/{workspace['id']}/runtimes/ticker/")
    rows = page.locator("#timeline-rows tr.entry")
    expect(rows.first).to_be_attached()
    shown_first = rows.count()
    page.wait_for_timeout(WINDOW_MS)
    calls = event_calls(double, since)
    assert calls <= EVENT_CALLS_MAX, f"{calls} event calls in {WINDOW_MS} ms"
    ids = page.locator("#timeline-rows tr.entry").evaluate_all("rows => rows.map(row => row.id)")
    assert len(ids) > shown_first + 10  # new ticks arrived live (the keepAlive refusal was got round)
    assert len(ids) == len(set(ids))  # and none twice
    ticks = page.locator("#timeline-rows tr.entry").evaluate_all(
        "rows => rows.map(row => row.textContent.match(/tick (\\d+)/)).filter(Boolean).map(m => Number(m[1]))"
    )
    assert ticks == sorted(ticks) and len(ticks) == len(set(ticks))
    screenshot(page, "public-api-runtime")


def test_the_relay_reopens_an_unresumable_stream_a_few_times_a_minute_and_says_so(
    page: Page, double: PublicApi, public_console: ConsoleProcess
) -> None:
    sign_in(page, public_console)
    page.goto(f"{public_console.url}/live/")
    expect(page.locator("#relay-state")).to_contain_text("Resuming after a drop", timeout=20_000)
    expect(page.locator("#relay-state")).to_contain_text("not possible", timeout=20_000)
    opened = len(double.stream_opens)
    page.wait_for_timeout(20_000)  # the stream ends every 2 s all along
    opens = list(double.stream_opens)
    gaps = [later - earlier for earlier, later in itertools.pairwise(opens)]
    assert len(opens) > opened and gaps and min(gaps) >= 10, gaps  # never a reconnect loop
    # Once the stream stays open, updates without ids arrive like any others.
    double.stream_seconds = 120
    reopened = len(double.stream_opens)
    for _ in range(60):
        if len(double.stream_opens) > reopened:
            break
        page.wait_for_timeout(500)
    page.wait_for_timeout(500)  # the relay reads the stream's first bytes
    double.add_workspace("Made while watching")  # an update on the stream, without an id
    expect(page.locator("body")).to_contain_text("Made while watching", timeout=30_000)
