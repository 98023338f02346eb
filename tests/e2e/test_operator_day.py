"""What a day of operator use asks for, in a real browser: every run reachable, honest errors,
a step runner that says what it did, usage and API keys. Every page of it is watched for CSP
violations and console errors (tests/e2e/conftest.py); none is allowed.
"""

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import PASSWORD, screenshot, sign_in, watch
from tests.support.console_process import ConsoleProcess
from tests.support.engine_process import EngineProcess, browser_pid, eventually, refused_port
from tests.support.site import TestSite

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def console_without_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleProcess]:
    """A console whose API cannot be reached: what an operator sees while the engine is down."""
    process = ConsoleProcess(
        tmp_path_factory.mktemp("console-no-api"), f"http://127.0.0.1:{refused_port()}/v1", "bctrl_unused"
    )
    process.start()
    process.create_user("oscar", "operator", PASSWORD)
    yield process
    process.stop()


def test_the_older_run_of_a_reused_alias_opens_with_its_own_events(
    page: Page, console: ConsoleProcess, api: httpx.Client, workspace: dict
) -> None:
    runtimes = f"/workspaces/{workspace['id']}/runtimes"
    first = api.post(runtimes, json={"alias": "shop2"}).json()
    api.post(f"{runtimes}/shop2/stop")
    second = api.post(runtimes, json={"alias": "shop2"}).json()

    sign_in(page, console, "vera")
    page.goto(f"{console.url}{runtimes}/")
    page.locator(f'a[href="/runtimes/{first["id"]}/"]').click()
    expect(page.get_by_text("An earlier run of shop2")).to_be_visible()
    expect(page.locator("h1 .badge")).to_have_text("stopped")
    timeline = page.locator("#timeline")
    expect(timeline.get_by_text("Runtime stopped")).to_be_visible()
    expect(timeline.locator(f'tr[data-search*="{first["id"]}"]')).not_to_have_count(
        0
    )  # its own runtime.started
    expect(timeline.locator(f'tr[data-search*="{second["id"]}"]')).to_have_count(0)
    page.get_by_role("link", name="its newest run").click()
    expect(page.get_by_text("The newest run of shop2")).to_be_visible()
    expect(page.locator("#runtime-runs").locator(f'a[href="/runtimes/{first["id"]}/"]')).to_be_visible()


def test_the_engine_down_launch_keeps_the_input_and_draws_no_nested_page(
    page: Page, console_without_api: ConsoleProcess, workspace: dict
) -> None:
    sign_in(page, console_without_api, "oscar")
    page.goto(f"{console_without_api.url}/workspaces/{workspace['id']}/launch/")
    # one message for the one cause, not one per list the form would load
    expect(page.get_by_text("could not be reached")).to_have_count(1)
    page.get_by_label("Alias", exact=True).fill("kept-alias")
    page.get_by_label("Locale").fill("fr-FR")
    page.get_by_role("button", name="Launch runtime").click()
    form = page.locator("#launch-form")
    expect(form.get_by_text("could not be reached")).to_have_count(1)
    expect(form.get_by_text("Check that the engine is running")).to_be_visible()
    expect(page.get_by_label("Alias", exact=True)).to_have_value("kept-alias")
    expect(page.get_by_label("Locale")).to_have_value("fr-FR")
    # no console inside the console: one top bar, one sidebar, nothing of a page in the form
    expect(page.locator(".topbar")).to_have_count(1)
    expect(page.locator("nav.sidebar")).to_have_count(1)
    expect(form.locator("main, .topbar, h1")).to_have_count(0)
    expect(page.get_by_role("link", name="Retry")).to_have_count(0)  # the form is the way to try again


def test_a_page_answered_whole_to_an_htmx_request_becomes_a_toast(
    page: Page, console: ConsoleProcess, api: httpx.Client, workspace: dict
) -> None:
    """The session ends while a page is open: the next region refresh is answered with the sign-in
    page, which must not be drawn inside the region."""
    assert api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "left-open"}).status_code == 200
    sign_in(page, console, "oscar")
    page.goto(f"{console.url}/workspaces/{workspace['id']}/runtimes/left-open/")
    expect(page.locator("#timeline-rows")).to_be_attached()
    page.context.clear_cookies()
    page.get_by_role("button", name="Add step").click()
    expect(page.locator(".toast-error")).to_contain_text("BCTRL Console: Sign in to manage")
    expect(page.locator("#step-runner form#login-form, #step-runner .topbar, #step-runner h1")).to_have_count(
        0
    )
    expect(page.locator("#step-rows .step-row")).to_have_count(1)


def test_a_step_run_says_what_ran_what_failed_and_what_was_skipped(
    page: Page, console: ConsoleProcess, api: httpx.Client, workspace: dict, site: TestSite
) -> None:
    assert api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "runner"}).status_code == 200
    sign_in(page, console, "oscar")
    page.goto(f"{console.url}/workspaces/{workspace['id']}/runtimes/runner/")
    steps = [
        {"call": "page.goto", "args": [f"{site.url}/form.html"]},
        {"call": "page.click", "args": ["#nothing-here"], "options": {"timeoutMs": 300}},
        {"call": "page.title"},
    ]
    page.locator("summary", has_text="Paste or import steps as JSON").click()
    page.get_by_label("Steps (JSON)").fill(json.dumps(steps))
    page.locator("#step-json").get_by_label("Screenshot the page if a step fails").check()
    page.get_by_role("button", name="Run JSON steps").click()
    results = page.locator("#step-results")
    expect(results.get_by_text("within 300 ms (waiting for selector '#nothing-here')")).to_be_visible(
        timeout=60_000
    )
    expect(results.locator(".step-result.skipped")).to_contain_text("page.title")
    image = results.locator('img[alt="Screenshot of the page after the failed step"]')
    page.wait_for_function("img => img.complete && img.naturalWidth > 100", arg=image.element_handle())
    expect(page.locator(".toast-error")).to_contain_text("A step failed")
    results.locator("summary", has_text="This run as cURL").click()
    expect(results.locator("#as-curl")).to_contain_text("$BCTRL_API_KEY")
    expect(results.locator("#as-python")).to_contain_text("import httpx")
    with page.expect_download() as download:
        results.get_by_role("button", name="Download steps.json").click()
    assert json.loads(Path(download.value.path()).read_text()) == steps
    results.get_by_role("button", name="Save as a team recipe…").click()
    page.get_by_label("Name", exact=True).fill("Form page, failing click")
    page.get_by_role("button", name="Save recipe").click()
    expect(page.get_by_text("Recipe “Form page, failing click” saved")).to_be_visible()
    expect(page.locator("#recipe-choice")).to_contain_text("Form page, failing click")


def test_the_upload_limit_is_said_first_and_checked_in_the_browser(
    page: Page, console: ConsoleProcess, tmp_path: Path
) -> None:
    sign_in(page, console, "oscar")
    page.goto(f"{console.url}/storage/e2e-uploads/?new=1")
    zone = page.locator("[data-upload]")
    expect(zone.get_by_text("Up to 100 MB.")).to_be_visible()
    # The check runs on whatever limit the page was given; a 100 MB file is too big to make here,
    # so the page is given a 1 KB limit the way the server writes it, and a 2 KB file is chosen.
    page.locator("input[type=file]").evaluate(
        "input => { input.dataset.maxBytes = '1024'; input.dataset.maxHuman = '1 KB'; }"
    )
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 2048)
    page.locator("input[type=file]").set_input_files(str(big))
    expect(zone.get_by_text("big.bin is too large: the API accepts at most 1 KB.")).to_be_visible()
    page.get_by_role("button", name="Upload").click()  # the browser keeps it: the field is invalid
    assert page.locator("input[type=file]").evaluate("input => input.validity.valid") is False
    expect(page.get_by_text("Uploaded big.bin")).to_have_count(0)
    small = tmp_path / "small.txt"
    small.write_text("fits")
    page.locator("input[type=file]").set_input_files(str(small))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("Uploaded small.txt (4 bytes).")).to_be_visible()


def test_usage_and_api_keys(
    page: Page, console: ConsoleProcess, engine: EngineProcess, api: httpx.Client, workspace: dict
) -> None:
    # A little real usage to draw: three browsers up at once in two workspaces, one of them crashing.
    other = api.post("/workspaces", json={"name": "e2e reporting"}).json()
    try:
        launched = [
            api.post(f"/workspaces/{ws}/runtimes", json={"alias": alias}).json()
            for ws, alias in (
                (workspace["id"], "checkout"),
                (workspace["id"], "search"),
                (other["id"], "export"),
            )
        ]
        os.kill(browser_pid(engine.var_dir / "runtimes" / launched[1]["id"]), signal.SIGKILL)
        assert eventually(
            lambda: api.get(f"/workspaces/{workspace['id']}/runtimes/search").json()["status"] == "failed"
        )
        sign_in(page, console, "alice")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Usage").click()
        page.get_by_label("Range").select_option("today")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("svg.chart")).to_have_count(3)
        expect(page.locator("svg.chart rect.bar").first).to_be_attached()
        expect(page.get_by_text("runtime.browser_crashed")).to_be_visible()
        expect(page.locator("table.bars").get_by_text("e2e reporting")).to_be_visible()
        screenshot(page, "usage")
    finally:
        api.delete(f"/workspaces/{other['id']}", params={"force": "true"})

    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    page.get_by_label("Name", exact=True).fill("e2e nightly export")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-key-secret").inner_text()
    assert secret.startswith("bctrl_")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
    expect(page.get_by_text(secret)).to_have_count(0)  # shown once
    expect(page.locator("#console-key")).to_contain_text("cannot be revoked from here")
    row = page.locator("tr", has_text="e2e nightly export")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator("tr", has_text="e2e nightly export").get_by_text("revoked")).to_be_visible()
    screenshot(page, "api-keys")


def test_a_second_browser_sees_no_violation_on_the_pages_of_the_day(
    browser: Browser, console: ConsoleProcess, engine: EngineProcess, browser_errors: list[str]
) -> None:
    """Every console page once, signed in as an admin: no CSP violation and no console error."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.add_init_script(
        'document.addEventListener("securitypolicyviolation", e => console.error("CSP violation: " + e.violatedDirective));'
    )
    page = context.new_page()
    watch(page, browser_errors)
    sign_in(page, console, "alice")
    for path in (
        "/",
        "/workspaces/",
        "/operations/",
        "/recipes/",
        "/usage/",
        "/profiles/",
        "/extensions/",
        "/storage/",
        "/vault/",
        "/ai-credentials/",
        "/users/",
        "/api-keys/",
        "/audit/",
        "/account/",
    ):
        page.goto(f"{console.url}{path}")
        expect(page.locator("main h1")).to_be_visible()
    context.close()
    assert browser_errors == []
