"""The console against an API that is not this engine: the public BCTRL surface only, over real HTTP.

`PublicApi` (tests/support/public_api.py) is written from the public reference alone: flat
errors, lists without paging or queries, uuid events with opaque cursors and no `sequence`, no
`Idempotency-Key`, no update log, no OpenAPI document, and a 404 `not_found` for every route of
ours. Every console page and form must work against it: never a 5xx, never "no longer exists"
for a route the API simply does not have; searches filter what the API sent; a create that the
API answers too late is made once. (The live parts, over real websockets, are in
tests/e2e/test_public_api.py.)
"""

import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from dashboard.alerts.models import AlertRule
from dashboard.bctrl.client import reset_clients
from tests.support.html import attribute, region
from tests.support.public_api import KEY, PublicApi

WRONG_WORDS = ("no longer exists", "deleted by someone else")
EVENTS_ON_THE_RUNTIME = 120  # more than a page of the console's events list (50)


@pytest.fixture(scope="module")
def double() -> Iterator[PublicApi]:
    api = PublicApi().start()
    yield api
    api.stop()


@pytest.fixture(scope="module")
def seeded(double: PublicApi) -> dict[str, Any]:
    workspace = double.add_workspace("Public team")
    double.add_workspace("Research")
    runtime = double.add_runtime(workspace["id"], "checkout")
    with double.lock:
        for n in range(EVENTS_ON_THE_RUNTIME):
            double._emit(runtime, "page.navigated", {"url": f"https://example.test/{n}", "pageId": "page-1"})
        # one request, shaped as the reference shows it (its drawer has no sequences to read it by)
        order = {"requestId": "req_1", "url": "https://example.test/api/orders"}
        double._emit(runtime, "network.request", {**order, "method": "POST", "resourceType": "fetch"})
        double._emit(runtime, "network.response", {**order, "status": 201, "mimeType": "application/json"})
    operation = double.add_operation(workspace["id"], "checkout")
    double.add_credential("openai-prod", "openai")
    double.add_credential("claude-team", "anthropic")
    return {"workspace": workspace, "runtime": runtime, "operation": operation}


@pytest.fixture
def public_api(settings: Any, double: PublicApi, seeded: dict[str, Any]) -> PublicApi:
    """The console's client pointed at the double (the autouse fixture pointed it at the engine)."""
    settings.BCTRL_API_URL = double.url
    settings.BCTRL_API_KEY = KEY
    reset_clients()
    return double


def _page_urls(user: User, seeded: dict[str, Any]) -> list[str]:
    """Every GET-able console URL, its arguments filled with what the double holds (or does not)."""
    values = {
        "workspace_id": seeded["workspace"]["id"],
        "alias": "checkout",
        "operation_id": seeded["operation"]["id"],
        "artifact_id": str(uuid.uuid4()),
        "credential_id": "openai-prod",
        "profile_id": str(uuid.uuid4()),
        "extension_id": str(uuid.uuid4()),
        "namespace": "exports",
        "object_path": "reports/q3.csv",
        "key": "prod/crm/login",
        "user_id": user.pk,
        "runtime_id": seeded["runtime"]["id"],  # runs by id are this engine's: not offered here
        "recipe_id": 1,
        "api_key_id": str(uuid.uuid4()),
        "request_id": "req_1",
        # alert rules are the console's own: one exists, so its pages reach what they ask the API
        "rule_id": AlertRule.objects.get_or_create(
            name="Failed runs", event=AlertRule.Event.RUN_FAILED, emails="ops@example.com"
        )[0].pk,
    }
    urls = []

    def walk(patterns: list[Any]) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern) and pattern.name:
                names = pattern.pattern.converters.keys()
                urls.append(reverse(pattern.name, kwargs={name: values[name] for name in names}))

    walk(get_resolver().url_patterns)
    return urls


def test_every_page_renders_with_the_right_words(
    admin_client: Client, alice: User, public_api: PublicApi, seeded: dict[str, Any]
) -> None:
    urls = _page_urls(alice, seeded)
    assert len(urls) > 40  # the walk found the console, not an empty resolver
    failures = {}
    for url in urls:
        for headers in ({}, {"HX-Request": "true"}):
            response = admin_client.get(url, headers=headers)
            body = response.content.decode(errors="replace")
            wrong = [words for words in WRONG_WORDS if words in body]
            if response.status_code >= 500 or wrong:
                failures[f"{url} {headers}"] = (response.status_code, wrong)
    assert failures == {}
    assert public_api.count("GET", r"^GET /v1/openapi\.json")  # it asked what the API offers


def test_every_form_post_answers_without_a_5xx_or_a_wrong_deleted_message(
    admin_client: Client, alice: User, public_api: PublicApi, seeded: dict[str, Any]
) -> None:
    """Empty posts: what validation lets through reaches the double, which refuses all it does not offer."""
    failures = {}
    since = len(public_api.calls)
    for url in _page_urls(alice, seeded):
        if url in ("/login/", "/logout/") or url.endswith(("/stop/", "/delete/")):
            continue
        response = admin_client.post(url, {}, headers={"HX-Request": "true"})
        body = response.content.decode(errors="replace")
        wrong = [words for words in WRONG_WORDS if words in body]
        if response.status_code >= 500 or wrong:
            failures[url] = (response.status_code, wrong)
    assert failures == {}
    assert public_api.count("POST", r"^POST /v1/", since)  # the posts did reach the API


def test_deleting_a_workspace_says_this_api_does_not_offer_it(
    admin_client: Client, public_api: PublicApi, seeded: dict[str, Any]
) -> None:
    """The public API has no DELETE (405 on a path it knows): "not offered", and the workspace stays."""
    workspace_id = seeded["workspace"]["id"]
    response = admin_client.post(f"/workspaces/{workspace_id}/delete/", {"confirm": "Public team"})
    body = response.content.decode()
    assert response.status_code == 404 and "Not offered by this API" in body
    assert not any(words in body for words in WRONG_WORDS)
    assert workspace_id in public_api.workspaces


def test_lists_outside_the_public_surface_say_they_are_not_offered(
    admin_client: Client, public_api: PublicApi
) -> None:
    for url in ("/profiles/", "/extensions/", "/vault/", "/storage/"):
        response = admin_client.get(url)
        assert response.status_code < 500 and "Not offered by this API" in response.content.decode(), url


def test_a_run_by_id_says_this_api_does_not_offer_it(
    admin_client: Client, public_api: PublicApi, seeded: dict[str, Any]
) -> None:
    body = admin_client.get(f"/workspaces/{seeded['workspace']['id']}/runtimes/checkout/").content.decode()
    runs = region(body, "runtime-runs")
    assert "does not list earlier runs" in runs and "Retry" not in runs
    # its timeline through the public alias route (loaded after the page), as entries
    assert f'hx-get="/workspaces/{seeded["workspace"]["id"]}/runtimes/checkout/events/"' in body
    timeline = admin_client.get(
        f"/workspaces/{seeded['workspace']['id']}/runtimes/checkout/events/", headers={"HX-Request": "true"}
    ).content.decode()
    assert 'id="timeline-rows"' in timeline and 'class="entry' in timeline
    by_id = admin_client.get(f"/runtimes/{seeded['runtime']['id']}/")
    assert by_id.status_code == 404 and "does not offer runs by id" in by_id.content.decode()


def test_usage_keys_and_the_overview_degrade_in_place(admin_client: Client, public_api: PublicApi) -> None:
    assert "does not report usage" in admin_client.get("/usage/").content.decode()
    assert "does not manage keys through its API" in admin_client.get("/api-keys/").content.decode()
    body = admin_client.get("/").content.decode()
    health = region(body, "region-health")
    assert "Connected in" in health and "not offered by this API" in health
    operations = region(body, "region-operations")
    assert "one workspace at a time" in operations and "Retry" not in operations
    assert "checkout" in region(body, "region-live")  # the public runtime list still fills this


def test_operations_use_the_public_workspace_route(
    admin_client: Client, public_api: PublicApi, seeded: dict[str, Any]
) -> None:
    since = len(public_api.calls)
    assert "one workspace at a time" in admin_client.get("/operations/").content.decode()
    body = admin_client.get("/operations/", {"workspace": seeded["workspace"]["id"]}).content.decode()
    assert "browserUse.agent.execute" in body
    assert public_api.count("GET", rf"^GET /v1/workspaces/{seeded['workspace']['id']}/operations", since)
    assert "workspaceId=" not in " ".join(public_api.calls[since:])


def test_a_workspace_filter_that_is_not_an_id_never_reaches_a_path(
    admin_client: Client, public_api: PublicApi
) -> None:
    since = len(public_api.calls)
    response = admin_client.get("/operations/", {"workspace": "../auth/whoami"})
    assert response.status_code == 200 and "is not a workspace id" in response.content.decode()
    assert not [call for call in public_api.calls[since:] if "whoami" in call or "/../" in call]


def test_a_search_that_matches_nothing_lists_nothing(admin_client: Client, public_api: PublicApi) -> None:
    body = admin_client.get("/workspaces/", {"q": "no such workspace"}).content.decode()
    assert "No workspace matches “no such workspace”" in body
    assert "Public team" not in body and "Research" not in body
    assert re.search(r"among the \d+ fetched", body)  # the API sent them all; the console searched


def test_a_search_lists_only_what_matches_and_says_how_many_were_fetched(
    admin_client: Client, public_api: PublicApi
) -> None:
    body = admin_client.get("/workspaces/", {"q": "public"}).content.decode()
    table = region(body, "workspace-table")
    assert "Public team" in table and "Research" not in table
    assert re.search(r"1 shown of \d+ fetched", table)


def test_filters_hold_when_the_api_ignores_them(
    admin_client: Client, public_api: PublicApi, seeded: dict[str, Any]
) -> None:
    body = admin_client.get("/ai-credentials/", {"provider": "anthropic"}).content.decode()
    assert "claude-team" in body and "openai-prod" not in body
    runtimes = f"/workspaces/{seeded['workspace']['id']}/runtimes/"
    stopped = admin_client.get(
        runtimes, {"status": "stopped"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "checkout" not in stopped  # the one runtime is active
    labelled = admin_client.get(
        runtimes, {"metadata": "team=payments"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "checkout" not in labelled  # the public runtime carries no labels: none match
    assert "checkout" in admin_client.get(runtimes, headers={"HX-Request": "true"}).content.decode()


def test_the_timeline_reads_the_public_events_and_its_socket_goes_on_after_them(
    admin_client: Client, public_api: PublicApi, seeded: dict[str, Any]
) -> None:
    """The public list has no sequences and its last page no cursor: the timeline shows every
    event, and its socket starts where the page started, skipping what the page shows."""
    url = f"/workspaces/{seeded['workspace']['id']}/runtimes/checkout/events/"
    timeline = admin_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "https://example.test/0" in timeline
    assert f"https://example.test/{EVENTS_ON_THE_RUNTIME - 1}" in timeline
    socket = urlsplit(attribute(timeline, "#inspector-socket", "ws-connect"))
    query = parse_qs(socket.query, keep_blank_values=True)
    assert socket.path.endswith("/events/") and query["after"] == [""], socket
    assert int(query["skip"][0]) >= EVENTS_ON_THE_RUNTIME, timeline[:2000]


def test_a_create_the_api_answers_too_late_makes_one_workspace(
    settings: Any, admin_client: Client, public_api: PublicApi
) -> None:
    """The API takes longer than the console waits: no second POST (the API does not honour an
    Idempotency-Key), the console looks for what it asked for and shows it."""
    settings.BCTRL_TIMEOUT_SECONDS = 1
    reset_clients()
    name = f"Slow {uuid.uuid4().hex[:6]}"
    public_api.slow("POST", "/v1/workspaces", 2.5)
    since = len(public_api.calls)
    try:
        response = admin_client.post("/workspaces/new/", {"name": name, "idempotency_key": uuid.uuid4().hex})
    finally:
        public_api.slow("POST", "/v1/workspaces", 0)
    made = [w for w in public_api.workspaces.values() if w["name"] == name]
    assert len(made) == 1 and public_api.count("POST", r"^POST /v1/workspaces\?", since) == 1
    assert response.status_code == 302 and response["Location"] == f"/workspaces/{made[0]['id']}/"


def test_a_create_it_cannot_confirm_says_the_outcome_is_unknown(
    settings: Any, admin_client: Client, public_api: PublicApi
) -> None:
    settings.BCTRL_TIMEOUT_SECONDS = 0.5
    reset_clients()
    name = f"Lost {uuid.uuid4().hex[:6]}"
    public_api.slow("POST", "/v1/workspaces", 6)  # past every look the console makes
    since = len(public_api.calls)
    try:
        response = admin_client.post("/workspaces/new/", {"name": name, "idempotency_key": uuid.uuid4().hex})
    finally:
        public_api.slow("POST", "/v1/workspaces", 0)
    body = response.content.decode()
    assert "it may or may not have been made" in body and "Check the list before trying again" in body
    assert "Retry" not in region(body, "main")
    assert public_api.count("POST", r"^POST /v1/workspaces\?", since) == 1


def test_a_step_run_sent_twice_runs_once(
    operator_client: Client, public_api: PublicApi, seeded: dict[str, Any]
) -> None:
    """The step runner's execute carries the public `idempotencyKey`, which the public API
    honours: a form sent twice (a double click, a retry after no answer) runs its steps once."""
    workspace_id, runtime = seeded["workspace"]["id"], seeded["runtime"]
    url = f"/workspaces/{workspace_id}/runtimes/checkout/execute/"
    form = {"source": "json", "steps_json": '[{"call": "page.title"}]', "idempotency_key": uuid.uuid4().hex}
    since = len(public_api.calls)
    finished_before = sum(e["eventType"] == "step.finished" for e in public_api.events[runtime["id"]])
    answers = [operator_client.post(url, form, headers={"HX-Request": "true"}) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert all("Example" in a.content.decode() for a in answers)  # both show the one run's result
    assert public_api.count("POST", r"/execute\?", since) == 2
    finished = sum(e["eventType"] == "step.finished" for e in public_api.events[runtime["id"]])
    assert finished == finished_before + 1


def test_a_request_s_drawer_finds_its_events_without_sequences(
    admin_client: Client, public_api: PublicApi, seeded: dict[str, Any]
) -> None:
    """The public events have no `sequence` for the row to name: the drawer looks for the
    request among the run's network events instead of refusing."""
    base = f"/workspaces/{seeded['workspace']['id']}/runtimes/checkout/"
    timeline = admin_client.get(f"{base}events/", headers={"HX-Request": "true"}).content.decode()
    assert 'data-request="req_1" data-seqs=""' in timeline
    response = admin_client.get(f"{base}network/req_1/", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200, body
    assert "https://example.test/api/orders" in body and "POST" in body and "201" in body
    missing = admin_client.get(f"{base}network/req_404/", headers={"HX-Request": "true"})
    assert missing.status_code == 200 and "no longer kept" in missing.content.decode()
