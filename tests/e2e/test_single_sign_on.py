"""Single sign-on in a real browser: a console configured for a real OpenID provider (django-oauth-
toolkit, in its own process on loopback), users who exist only at the provider.

What it protects: a user signs in through the provider and lands with the role their groups map
to; a change of groups at the provider changes the role at the next sign-in, and groups that map
to no role leave the user with none and say so; nobody at the provider becomes a local account by
choosing its name.
"""

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD, screenshot
from tests.support.accessibility import problems_of
from tests.support.console_process import ConsoleProcess
from tests.support.engine_process import EngineProcess
from tests.support.oidc import PROVIDER_NAME, ROLE_GROUPS, OidcProvider

pytestmark = pytest.mark.e2e

PROVIDER_PASSWORD = "provider correct horse battery"


@pytest.fixture(scope="module")
def provider_and_console(
    engine: EngineProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[OidcProvider, ConsoleProcess]]:
    provider = OidcProvider(tmp_path_factory.mktemp("oidc-provider"))
    console = ConsoleProcess(tmp_path_factory.mktemp("sso-console"), f"{engine.url}/v1", engine.keys["admin"])
    provider.start(redirect_uri=f"{console.url}/sso/callback/")
    console.env.update(provider.console_settings())
    try:
        console.start()
        console.create_user("alice", "admin", PASSWORD)  # a local admin, whose name someone may try
        yield provider, console
    finally:
        console.stop()
        provider.stop()


def _sign_in_through_provider(page: Page, console: ConsoleProcess, username: str) -> None:
    page.goto(f"{console.url}/login/")
    page.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").click()
    if page.get_by_role("button", name="Sign in to Test ID").is_visible():  # not yet signed in there
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PROVIDER_PASSWORD)
        page.get_by_role("button", name="Sign in to Test ID").click()


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}")).to_be_visible()


def test_a_user_signs_in_with_the_role_their_groups_map_to(
    page: Page, provider_and_console: tuple[OidcProvider, ConsoleProcess]
) -> None:
    provider, console = provider_and_console
    username = f"dana-{uuid.uuid4().hex[:6]}"
    provider.set_user(username, PROVIDER_PASSWORD, [ROLE_GROUPS["operator"], "unrelated-team"])
    page.goto(f"{console.url}/login/")
    screenshot(page, "sign-in-sso")
    assert problems_of(page) == []  # axe-core and a 390 px phone, with the provider's button

    _sign_in_through_provider(page, console, username)
    page.wait_for_url(f"{console.url}/")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator(".who")).to_contain_text(f"{username} · operator")

    # the provider moves them to the viewers: the next sign-in makes them a viewer
    provider.set_user(username, PROVIDER_PASSWORD, [ROLE_GROUPS["viewer"]])
    _sign_out(page)
    _sign_in_through_provider(page, console, username)
    page.wait_for_url(f"{console.url}/")
    expect(page.locator(".who")).to_contain_text(f"{username} · viewer")

    # and out of every mapped group: no role, and the sign-in page says why
    provider.set_user(username, PROVIDER_PASSWORD, ["unrelated-team"])
    _sign_out(page)
    _sign_in_through_provider(page, console, username)
    page.wait_for_url(f"{console.url}/login/")
    expect(page.get_by_role("alert")).to_contain_text(
        "none of your groups there gives you a role in this console"
    )
    screenshot(page, "sign-in-sso-refused")
    assert problems_of(page) == []
    page.goto(f"{console.url}/")
    expect(page).to_have_url(f"{console.url}/login/?next=/")  # not signed in


def test_a_provider_user_named_like_a_local_admin_is_someone_else(
    page: Page, provider_and_console: tuple[OidcProvider, ConsoleProcess]
) -> None:
    provider, console = provider_and_console
    provider.set_user("alice", PROVIDER_PASSWORD, [ROLE_GROUPS["viewer"]])

    _sign_in_through_provider(page, console, "alice")
    page.wait_for_url(f"{console.url}/")
    expect(page.locator(".who")).to_contain_text("alice-2 · viewer")  # a user of their own
    _sign_out(page)
    # the local alice is untouched: she still signs in with her password, as an admin
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"{console.url}/")
    expect(page.locator(".who")).to_contain_text("alice · admin")
