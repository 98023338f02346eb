"""Every main page of the console, for each role that may open it: no axe-core violation, and no
sideways scrolling on a 390 px wide phone. One browser, one signed-in context per role, each page
loaded once (checked at desktop width, then at 390 px).

axe-core comes from npm (package.json at the repository root, installed by bin/setup) and is
injected into each page; its own script is the only thing the test adds to a page.
"""

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import CSP_LISTENER, PASSWORD, screenshot, watch
from tests.support.accessibility import problems_of, too_wide, violations
from tests.support.console_process import ConsoleProcess
from tests.support.engine_process import EngineProcess
from tests.support.site import TestSite

pytestmark = pytest.mark.e2e

RANK = {"viewer": 0, "operator": 1, "admin": 2}
PEOPLE = {"viewer": "vera", "operator": "oscar", "admin": "alice"}


@dataclass(frozen=True)
class Estate:
    """One of everything the pages show, so each is drawn with content, not its empty state."""

    workspace: str
    runtime: str
    profile: str
    vault_key: str
    namespace: str
    credential: str


@pytest.fixture(scope="module")
def estate(engine_api: httpx.Client) -> Iterator[Estate]:
    api = engine_api
    tag = uuid.uuid4().hex[:6]
    namespace = f"axe-{tag}"
    vault_key = f"axe-{tag}/crm/login"
    workspace = api.post(
        "/workspaces",
        json={
            "name": f"Accessible {tag}",
            "mounts": {"vault": {"allow": [f"axe-{tag}/"]}, "storage": {"workspace": namespace}},
        },
    ).json()
    runtime = api.post(f"/workspaces/{workspace['id']}/runtimes", json={"alias": "axe"}, timeout=120).json()
    api.put(
        f"/vault/{vault_key}",
        json={"username": "ada@example.com", "password": "pw", "origins": ["https://crm.example"]},
    )
    profile = api.post("/browser-profiles", json={"name": f"Sales {tag}"}).json()
    api.put(
        f"/storage/{namespace}/objects/reports/week.csv",
        content=b"a,b\n1,2\n",
        headers={"Content-Type": "text/csv"},
    )
    credential = f"axe-{tag}"
    api.post(
        "/ai-credentials",
        json={
            "id": credential,
            "provider": "openai",
            "label": "Team",
            "apiKey": "sk-axe",
            "baseUrl": "https://api.example/v1",
        },
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    yield Estate(workspace["id"], runtime["id"], profile["id"], vault_key, namespace, credential)
    api.delete(f"/workspaces/{workspace['id']}", params={"force": "true"})
    api.delete(f"/vault/{vault_key}")
    api.delete(f"/browser-profiles/{profile['id']}")
    api.delete(f"/storage/{namespace}/objects/reports/week.csv")
    api.delete(f"/ai-credentials/{credential}")


@pytest.fixture(scope="module")
def engine_api(engine: EngineProcess) -> Iterator[httpx.Client]:
    with engine.client("admin") as client:
        yield client


def pages(estate: Estate) -> list[tuple[str, str]]:
    """(least role, path) of every main page."""
    ws = f"/workspaces/{estate.workspace}"
    key = estate.vault_key
    return [
        ("viewer", "/"),
        ("viewer", "/workspaces/"),
        ("viewer", f"{ws}/"),
        ("viewer", f"{ws}/runtimes/"),
        ("viewer", f"{ws}/runtimes/axe/"),
        ("viewer", f"/runtimes/{estate.runtime}/"),
        ("viewer", f"{ws}/artifacts/"),
        ("viewer", "/runtimes/"),
        ("viewer", "/runtimes/wall/"),
        ("viewer", "/operations/"),
        ("viewer", "/live/"),
        ("viewer", "/recipes/"),
        ("viewer", "/usage/"),
        ("viewer", "/profiles/"),
        ("viewer", f"/profiles/{estate.profile}/"),
        ("viewer", "/extensions/"),
        ("viewer", "/storage/"),
        ("viewer", f"/storage/{estate.namespace}/"),
        ("viewer", "/vault/"),
        ("viewer", f"/vault/entry/{key}"),
        ("viewer", "/ai-credentials/"),
        ("viewer", f"/ai-credentials/{estate.credential}/"),
        ("viewer", "/account/"),
        ("operator", "/workspaces/new/"),
        ("operator", f"{ws}/edit/"),
        ("operator", f"{ws}/launch/"),
        ("operator", "/profiles/new/"),
        ("operator", "/recipes/new/"),
        ("admin", "/vault/new/"),
        ("admin", "/ai-credentials/new/"),
        ("admin", "/users/"),
        ("admin", "/users/new/"),
        ("admin", "/api-keys/"),
        ("admin", "/audit/"),
        ("admin", "/alerts/"),
        ("admin", "/alerts/new/"),
        ("admin", "/alerts/deliveries/"),
    ]


def signed_in(browser: Browser, console: ConsoleProcess, username: str, errors: list[str]) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    page.set_default_timeout(20_000)
    watch(page, errors)
    page.goto(f"{console.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{console.url}/")
    return page


@pytest.mark.timeout(
    900
)  # some 35 pages a role; the first one also waits for the session's engine and console
@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_every_page_is_accessible_and_fits_a_phone(
    browser: Browser, console: ConsoleProcess, estate: Estate, role: str, browser_errors: list[str]
) -> None:
    page = signed_in(browser, console, PEOPLE[role], browser_errors)
    problems: dict[str, list[str]] = {}
    try:
        for least, path in pages(estate):
            if RANK[role] < RANK[least]:
                continue
            page.set_viewport_size({"width": 1280, "height": 860})
            response = page.goto(f"{console.url}{path}")
            if response is None or response.status != 200:
                problems[path] = [f"answered {response and response.status}"]
                continue
            page.wait_for_timeout(400)  # regions that load themselves (hx-trigger="load")
            found = problems_of(page)
            if found:
                problems[path] = found
            if role == "admin" and path in (
                "/",
                f"/workspaces/{estate.workspace}/runtimes/axe/",
                "/api-keys/",
            ):
                name = "phone-" + (path.strip("/").replace("/", "-")[:40] or "overview")
                screenshot(page, name)
    finally:
        page.context.close()
    assert not problems, json.dumps(problems, indent=1)


@pytest.fixture(scope="module")
def runs(engine_api: httpx.Client, estate: Estate, site: TestSite) -> tuple[str, str]:
    """The estate's active runtime with a timeline to show (a page, its requests, a failed step),
    and an ended run of another alias with the same: (active alias page, ended run page)."""
    steps = [
        {"call": "page.goto", "args": [f"{site.url}/events.html"]},
        {"call": "page.click", "args": ["#missing"], "options": {"timeoutMs": 1500}},
    ]
    execute = f"/workspaces/{estate.workspace}/execute"
    ended = engine_api.post(
        f"/workspaces/{estate.workspace}/runtimes", json={"alias": "axe-ended"}, timeout=120
    ).json()
    for alias in ("axe", "axe-ended"):
        ran = engine_api.post(execute, json={"runtime": alias, "steps": steps}, timeout=60)
        assert ran.status_code == 200 and ran.json()["steps"][-1]["ok"] is False, ran.text
    stopped = engine_api.post(f"/workspaces/{estate.workspace}/runtimes/axe-ended/stop", timeout=60)
    assert stopped.status_code < 300, stopped.text
    return f"/workspaces/{estate.workspace}/runtimes/axe/", f"/runtimes/{ended['id']}/"


@pytest.mark.timeout(600)
def test_the_inspector_its_request_drawer_and_the_connect_panel_are_accessible(
    browser: Browser, console: ConsoleProcess, runs: tuple[str, str], browser_errors: list[str]
) -> None:
    """What the sweep's empty pages do not show: a run's timeline with entries, the drawer of a
    request (open), the Connect panel with a minted URL and its snippets; active and ended."""
    page = signed_in(browser, console, PEOPLE["operator"], browser_errors)
    problems: dict[str, list[str]] = {}
    try:
        for path in runs:
            page.goto(f"{console.url}{path}")
            network = page.locator("#timeline-rows tr.kind-network").first
            expect(network).to_be_visible(timeout=30_000)
            expect(page.locator("#timeline-rows tr.failure").first).to_be_attached()
            if path == runs[0]:  # the Connect panel is the active run's
                page.get_by_role("button", name="Get a connect URL").click()
                expect(page.locator("#cdp-url")).to_be_visible()
            problems[path] = problems_of(page)
            network.get_by_role("button", name=re.compile("Details")).click()
            drawer = page.locator("#request-drawer")
            expect(drawer.get_by_role("heading", name="Request headers")).to_be_visible()
            problems[f"{path} (request drawer)"] = problems_of(page)
            page.keyboard.press("Escape")
            expect(drawer).not_to_be_visible()
    finally:
        page.context.close()
    problems = {path: found for path, found in problems.items() if found}
    assert not problems, json.dumps(problems, indent=1)


def test_the_sign_in_page_is_accessible_and_fits_a_phone(browser: Browser, console: ConsoleProcess) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(f"{console.url}/login/")
    found = violations(page)
    wide = too_wide(page)
    context.close()
    assert not found and not wide, (found, wide)
