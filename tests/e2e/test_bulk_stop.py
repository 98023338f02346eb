"""Stop selected, as an operator uses it on a list of active runtimes: the button says how many it
stops and the confirmation names the count; the stopped runtimes leave the active list live,
without an htmx error (`htmx:oobErrorNoTarget`) or a CSP violation in the browser (the `page`
fixture fails on either); the full list then says why they ended in words, not identifiers."""

import httpx
import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.e2e.conftest import sign_in
from tests.support.console_process import ConsoleProcess

pytestmark = pytest.mark.e2e


def test_stop_selected_says_how_many_and_the_list_follows(
    page: Page, console: ConsoleProcess, api: httpx.Client, workspace: dict
) -> None:
    launched = [
        api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": alias}, timeout=120)
        for alias in ("bulk-a", "bulk-b")
    ]
    assert all(r.status_code == 200 for r in launched), [r.text for r in launched]
    ids = [r.json()["id"] for r in launched]
    sign_in(page, console, "oscar")
    page.goto(f"{console.url}/runtimes/?status=active&workspace={workspace['id']}")
    button = page.locator("#bulk-stop button[data-count-chosen]")
    expect(button).to_have_text("Stop selected (0)")
    expect(button).to_be_disabled()  # nothing chosen, nothing to stop
    page.get_by_label("Choose bulk-a").check()
    expect(button).to_have_text("Stop selected (1)")
    page.get_by_label("Choose bulk-b").check()
    expect(button).to_have_text("Stop selected (2)")

    asked: list[str] = []

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", answer)
    button.click()
    for runtime_id in ids:  # they leave the list of active runtimes, live
        expect(page.locator(f"#runtime-row-{runtime_id}")).to_have_count(0, timeout=60_000)
    assert asked == ["Stop 2 runtimes? Their browsers close."]
    page.wait_for_timeout(1500)  # the stream's runtime.stopped updates arrive after the list's swap

    page.goto(f"{console.url}/runtimes/?workspace={workspace['id']}")
    for runtime_id in ids:
        status = page.locator(f"#runtime-status-{runtime_id}")
        expect(status).to_contain_text("stopped")
        expect(status).to_contain_text("stopped on request")  # words, not `requested`
