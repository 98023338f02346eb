"""Styled pages for the requests the console cannot answer: a bad id, an alias that cannot be one,
a wrong method, a malformed request; and a failed htmx request never swaps a page into a region."""

from pathlib import Path

from django.test import Client

CONSOLE_JS = Path(__file__).resolve().parents[2] / "static" / "js" / "console.js"


def test_a_bad_uuid_is_a_styled_404(viewer_client: Client) -> None:
    response = viewer_client.get("/workspaces/not-a-uuid/runtimes/")
    body = response.content.decode()
    assert response.status_code == 404 and "<h1>Not found</h1>" in body and 'class="sidebar"' in body
    assert "ids are UUIDs" in body


def test_an_alias_with_spaces_is_a_styled_404(viewer_client: Client, workspace: dict) -> None:
    response = viewer_client.get(f"/workspaces/{workspace['id']}/runtimes/my%20shop/")
    assert response.status_code == 404 and "lowercase letters, digits and dashes" in response.content.decode()


def test_a_get_on_a_post_only_address_is_a_styled_405(operator_client: Client, workspace: dict) -> None:
    response = operator_client.get(f"/workspaces/{workspace['id']}/runtimes/shop/stop/")
    body = response.content.decode()
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert "<h1>Not this way</h1>" in body and "This address takes POST, not GET" in body


def test_a_malformed_request_is_a_styled_400(viewer_client: Client) -> None:
    response = viewer_client.get("/", HTTP_HOST="not-allowed.example")
    assert response.status_code == 400 and "<h1>Bad request</h1>" in response.content.decode()


def test_a_full_page_is_never_swapped_into_a_region() -> None:
    # The guard runs in the browser (the end-to-end suite drives it); here: it is there and keyed
    # on a whole document, so an error page of the console becomes a toast, not a nested console.
    script = CONSOLE_JS.read_text()
    guard = script.split('addEventListener("htmx:beforeSwap"')[1].split("});")[0]
    assert "<!doctype html" in guard and "shouldSwap = false" in guard and "toast(" in guard
