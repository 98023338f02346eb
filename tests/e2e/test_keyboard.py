"""The step runner by keyboard alone: type a call's name on its picker, Tab through its arguments,
press Add step with Space, run with Enter; the focus stays where the operator acted."""

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import sign_in
from tests.support.console_process import ConsoleProcess
from tests.support.site import TestSite

pytestmark = pytest.mark.e2e


def tab_to(page: Page, selector: str, most: int = 60) -> None:
    """Press Tab until the focus is on `selector` (and fail if it never gets there, saying where
    the focus went: a keyboard trap shows as the same element over and over)."""
    trail: list[str] = []
    for _ in range(most):
        if page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
        trail.append(focused(page)[:60])
    raise AssertionError(f"Tab never reached {selector}; the focus went " + "\n".join(trail))


def focused(page: Page) -> str:
    return page.evaluate("() => document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : ''")


def test_the_step_runner_builds_and_runs_steps_by_keyboard_alone(
    page: Page, console: ConsoleProcess, api: httpx.Client, workspace: dict, site: TestSite
) -> None:
    assert api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "keys"}).status_code == 200
    sign_in(page, console, "oscar")
    page.goto(f"{console.url}/workspaces/{workspace['id']}/runtimes/keys/")

    # the first step: type-ahead on the call picker chooses page.goto (not the first "p…" call)
    tab_to(page, "#step-0-call")
    page.keyboard.type("page.goto")
    expect(page.locator("#step-0-call")).to_have_value("page.goto")
    url_input = page.locator("#step-0-arg-0")
    expect(url_input).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "step-0-call"  # the picker kept the focus
    tab_to(page, "#step-0-arg-0")
    page.keyboard.type(f"{site.url}/index.html")

    # Add step is a button: Space presses it, and the new step's call picker gets the focus
    tab_to(page, "#add-step")
    page.keyboard.press("Space")
    expect(page.locator("#step-1-call")).to_be_focused()
    page.keyboard.type("page.title")
    expect(page.locator("#step-1-call")).to_have_value("page.title")

    # a third step, removed again: the focus lands on a call picker, not on the page
    tab_to(page, "#add-step")
    page.keyboard.press("Enter")
    expect(page.locator("#step-2-call")).to_be_focused()
    tab_to(page, "#step-row-2 [data-remove-step]")
    page.keyboard.press("Enter")
    expect(page.locator("#step-row-2")).to_have_count(0)
    expect(page.locator("#step-1-call")).to_be_focused()

    tab_to(page, "#run-steps")
    page.keyboard.press("Enter")
    results = page.locator("#step-results")
    expect(results.locator(".badge-succeeded")).to_be_visible(timeout=60_000)
    expect(results.locator(".step-result")).to_have_count(2)
    expect(results.get_by_text("Test home")).to_be_visible()  # page.title's result
    expect(results.locator(".step-result").nth(1)).to_contain_text("page.title")
    expect(page.locator("#run-steps")).to_be_focused()  # not the page body
    # the focus is visible where it is
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), outline
