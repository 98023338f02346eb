"""An operator's day, in a real browser: the console in headless Chromium, the engine behind it.

Sign in, create a workspace, launch a runtime, run steps that take a screenshot and see it, keep a
vault entry whose password never reaches the page, stop the runtime, delete the workspace.
"""

import json
import re
import uuid

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import screenshot, sign_in
from tests.support.console_process import ConsoleProcess
from tests.support.site import TestSite

pytestmark = pytest.mark.e2e


def test_an_operator_runs_a_browser_from_the_console(
    page: Page, console: ConsoleProcess, site: TestSite, api: httpx.Client
) -> None:
    sign_in(page, console, "alice")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    screenshot(page, "overview")

    name = f"E2E workspace {uuid.uuid4().hex[:6]}"
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Workspaces").click()
    page.get_by_role("link", name="New workspace").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create workspace").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    workspace_url = page.url

    page.get_by_role("link", name="Launch runtime").click()
    page.get_by_label("Alias", exact=True).fill("e2e-browser")
    page.get_by_role("button", name="Launch runtime").click()
    expect(page.get_by_role("heading", name="e2e-browser", level=1)).to_be_visible(timeout=60_000)
    expect(page.locator("h1 .badge")).to_have_text("active")

    steps = [
        {"call": "page.goto", "args": [f"{site.url}/index.html"]},
        {"call": "page.textContent", "args": ["#title"]},
        {"call": "page.screenshot", "args": [{"name": "home"}]},
    ]
    page.locator("summary", has_text="Paste or import steps as JSON").click()
    page.get_by_label("Steps (JSON)").fill(json.dumps(steps))
    page.get_by_role("button", name="Run JSON steps").click()
    results = page.locator("#step-results")
    expect(results.get_by_text("Hello from the test site").first).to_be_visible(timeout=60_000)
    image = results.locator("img.screenshot")
    expect(image).to_be_visible()
    # the screenshot really rendered: the browser decoded an image with real dimensions
    page.wait_for_function("img => img.complete && img.naturalWidth > 100", arg=image.element_handle())
    screenshot(page, "runtime")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Stop runtime").click()
    # stopped means stopped: the page is drawn again without a Stop button or a step runner
    expect(page.locator("h1 .badge")).to_have_text("stopped", timeout=30_000)
    expect(page.locator("#runtime-ended")).to_contain_text("Stopped on request")
    expect(page.locator("#step-runner")).to_have_count(0)
    expect(page.get_by_role("button", name="Stop runtime")).to_have_count(0)
    expect(page.get_by_role("link", name="Relaunch with the same config")).to_be_visible()

    password = f"pw-{uuid.uuid4().hex}"
    key = f"e2e/{uuid.uuid4().hex[:8]}/login"
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Vault").click()
    page.get_by_role("link", name="New entry").click()
    page.get_by_label("Key", exact=True).fill(key)
    page.locator("#id_username").fill("operator@example.com")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Create entry").click()
    expect(page.get_by_text("operator@example.com").first).to_be_visible()
    assert password not in page.content()
    page.goto(f"{console.url}/vault/")
    assert password not in page.content()
    screenshot(page, "vault")

    page.goto(workspace_url)
    page.get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Delete workspace").click()
    expect(page.get_by_role("heading", name="Workspaces")).to_be_visible()
    workspace_id = workspace_url.rstrip("/").rsplit("/", 1)[-1]
    assert api.get(f"/workspaces/{workspace_id}").status_code == 404


def test_a_viewer_sees_the_disabled_actions(
    page: Page, console: ConsoleProcess, api: httpx.Client, workspace: dict
) -> None:
    assert api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "watched"}).status_code == 200
    sign_in(page, console, "vera")
    page.goto(f"{console.url}/workspaces/")
    expect(page.get_by_role("heading", name="Workspaces")).to_be_visible()
    # what a viewer may not do is there, disabled, saying which role it needs: never a live link
    expect(page.get_by_role("link", name="New workspace")).to_have_count(0)
    expect(page.get_by_role("button", name="New workspace")).to_be_disabled()
    expect(page.get_by_text("needs the operator role").first).to_be_visible()
    screenshot(page, "workspaces")
    # a moment says how long ago it was when pointed at (made then, so never stale)
    created = page.locator("#workspace-table time").first
    created.hover()
    expect(created).to_have_attribute(
        "title", re.compile(r"^(less than a minute|\d+ (minute|hour|day)s?.*) ago$")
    )
    page.goto(f"{console.url}/workspaces/{workspace['id']}/runtimes/watched/")
    expect(page.get_by_role("button", name="Stop runtime")).to_be_disabled()
    expect(page.get_by_role("button", name="Run steps")).to_be_disabled()
    expect(page.locator("#step-builder")).to_have_count(0)
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys")).to_have_count(0)
