"""The console against an API that is not this engine: one offering only the contract's public surface.

`PublicSurface` is built here from the rows the contract marks [public] (workspaces and what
hangs off them, runtimes, their events, execute, operations by id, AI credentials). It answers
every other route 404 `request.not_found`, ignores query parameters the public surface does not
define (as another API may), pages events with an opaque cursor and sends no `sequence`. Every
console page must render against it: no 500, and a plain "not offered" where a route is missing.
"""

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from dashboard.bctrl.client import use_transport

WORKSPACE_ID = str(uuid.uuid4())
RUNTIME_ID = str(uuid.uuid4())
OPERATION_ID = str(uuid.uuid4())
ARTIFACT_ID = str(uuid.uuid4())
ALIAS = "checkout"
WHEN = "2026-11-28T12:00:00.000Z"
EVENTS_CURSOR = "opaque:Zm9yIHBhZ2UgdHdv"  # not a number: the console must pass it back untouched

Handler = Callable[[httpx.Request, re.Match[str]], httpx.Response]


def _error(status: int, code: str, message: str) -> httpx.Response:
    body = {"error": {"code": code, "message": message, "details": None}, "requestId": "req_public"}
    return httpx.Response(status, json=body, headers={"X-Request-Id": "req_public"})


class PublicSurface:
    """A BCTRL v1 API with only the public routes; records every call it is asked."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.workspace = {
            "id": WORKSPACE_ID,
            "name": "Public team",
            "mounts": {},
            "runtimeCount": 1,
            "activeRuntimeCount": 1,
            "createdAt": WHEN,
            "updatedAt": WHEN,
        }
        self.runtime = {
            "id": RUNTIME_ID,
            "alias": ALIAS,
            "workspaceId": WORKSPACE_ID,
            "kind": "browser",
            "driver": "playwright",
            "status": "active",
            "summary": {
                "browserRunning": True,
                "currentDriver": "playwright",
                "defaultContextId": "ctx-1",
                "defaultPageId": "page-1",
                "launchMode": "ephemeral",
                "profileId": None,
                "storageWorkspace": "",
            },
            "config": {},
            "createdAt": WHEN,
            "startedAt": WHEN,
            "stoppedAt": None,
            "failure": None,
        }
        self.operation = {
            "id": OPERATION_ID,
            "workspaceId": WORKSPACE_ID,
            "runtime": ALIAS,
            "call": "browserUse.agent.execute",
            "status": "running",
            "progress": {
                "step": 1,
                "totalSteps": 4,
                "currentCall": None,
                "lastEventType": None,
                "message": "",
            },
            "result": None,
            "error": None,
            "createdAt": WHEN,
            "startedAt": WHEN,
            "finishedAt": None,
        }
        self.artifact = {
            "id": ARTIFACT_ID,
            "workspaceId": WORKSPACE_ID,
            "runtime": ALIAS,
            "operationId": None,
            "kind": "screenshot",
            "name": "cart.png",
            "contentType": "image/png",
            "sizeBytes": 68,
            "storage": {"namespace": "exports", "path": "cart.png"},
            "createdAt": WHEN,
        }
        self.credentials = [
            self._credential("openai-prod", "openai"),
            self._credential("claude-team", "anthropic"),
        ]
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        ws = r"workspaces/(?P<ws>[0-9a-f-]{36})"
        rt = ws + r"/runtimes/(?P<alias>[a-z][a-z0-9-]*)"
        self._route("GET", r"workspaces", lambda r, m: self._page("workspaces", [self.workspace]))
        self._route("POST", r"workspaces", lambda r, m: httpx.Response(201, json=self.workspace))
        self._route("GET", ws, lambda r, m: self._json(self.workspace))
        self._route("GET", ws + "/state", self._state)
        self._route("GET", ws + "/help", self._help)
        self._route("POST", ws + "/execute", self._execute)
        self._route("GET", ws + "/operations", lambda r, m: self._page("operations", [self.operation]))
        self._route("GET", ws + "/artifacts", lambda r, m: self._page("artifacts", [self.artifact]))
        self._route("GET", ws + "/runtimes", lambda r, m: self._page("runtimes", [self.runtime]))
        self._route("POST", ws + "/runtimes", lambda r, m: httpx.Response(201, json=self.runtime))
        self._route("GET", rt, self._runtime)
        self._route("POST", rt + "/stop", lambda r, m: self._json({**self.runtime, "status": "stopped"}))
        self._route("GET", rt + "/events", self._events)
        self._route(
            "POST",
            rt + "/events/wait",
            lambda r, m: self._json({"event": None, "cursor": "", "timedOut": True}),
        )
        self._route("GET", r"operations/(?P<id>[0-9a-f-]{36})", self._operation)
        self._route("POST", r"operations/(?P<id>[0-9a-f-]{36})/cancel", self._operation)
        self._route("GET", r"ai-credentials", lambda r, m: self._page("credentials", self.credentials))
        self._route("GET", r"ai-credentials/(?P<id>[A-Za-z][\w-]*)", self._credential_route)
        self._route("POST", r"ai-credentials/(?P<id>[A-Za-z][\w-]*)/test", self._test_credential)

    # --- the data ------------------------------------------------------------------------------

    @staticmethod
    def _credential(credential_id: str, provider: str) -> dict[str, Any]:
        return {
            "id": credential_id,
            "provider": provider,
            "label": f"{provider} key",
            "enabled": True,
            "baseUrl": None,
            "defaultModel": None,
            "createdAt": WHEN,
            "updatedAt": WHEN,
        }

    @staticmethod
    def _event(number: int) -> dict[str, Any]:
        # the public Event: no `sequence`
        return {
            "id": str(uuid.UUID(int=number)),
            "eventType": "page.navigated",
            "eventData": {"url": f"https://example.test/{number}", "pageId": "page-1"},
            "createdAt": WHEN,
            "runtime": ALIAS,
            "runtimeKind": "browser",
            "workspaceId": WORKSPACE_ID,
            "operationId": None,
        }

    # --- the routes ----------------------------------------------------------------------------

    def _route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(f"^/v1/{pattern}$"), handler))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")
        for method, pattern, handler in self.routes:
            match = pattern.match(request.url.path)
            if match and method == request.method:
                return handler(request, match)
        return _error(404, "request.not_found", "No such route.")

    @staticmethod
    def _json(body: Any) -> httpx.Response:
        return httpx.Response(200, json=body, headers={"X-Request-Id": "req_public"})

    def _page(self, key: str, items: list[dict[str, Any]]) -> httpx.Response:
        return self._json({key: items, "nextCursor": None})

    def _state(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        runtime = {**self.runtime, "bindings": [{"alias": "main", "id": "page-1", "type": "page"}]}
        return self._json({"workspace": self.workspace, "runtimes": [runtime], "activeOperations": []})

    def _help(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        call = {
            "name": "page.goto",
            "description": "Go to a URL.",
            "args": [{"name": "url", "type": "string"}],
        }
        return self._json({"calls": [call]})

    def _execute(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        step = {"index": 0, "call": "page.goto", "ok": True, "result": None, "error": None, "durationMs": 5}
        return self._json({"mode": "fail-fast", "status": "succeeded", "steps": [step], "operation": None})

    def _runtime(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        if match["ws"] != WORKSPACE_ID or match["alias"] != ALIAS:
            return _error(404, "runtime.not_found", "Runtime does not exist.")
        return self._json(self.runtime)

    def _events(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        if request.url.params.get("cursor") == EVENTS_CURSOR:
            return self._json({"events": [self._event(3)], "nextCursor": None})
        return self._json({"events": [self._event(1), self._event(2)], "nextCursor": EVENTS_CURSOR})

    def _operation(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        if match["id"] != OPERATION_ID:
            return _error(404, "operation.not_found", "Operation does not exist.")
        return self._json(self.operation)

    def _credential_route(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        credential = next((c for c in self.credentials if c["id"] == match["id"]), None)
        return (
            self._json(credential)
            if credential
            else _error(404, "ai_credential.not_found", "No such credential.")
        )

    def _test_credential(self, request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        return self._json({"ok": True, "message": "The provider answered.", "provider": "openai"})


@pytest.fixture
def public_api() -> Iterator[PublicSurface]:
    api = PublicSurface()
    use_transport(httpx.MockTransport(api))
    yield api


def _page_urls(user: User) -> list[str]:
    """Every GET-able console URL, its arguments filled with what the stub holds (or does not)."""
    values = {
        "workspace_id": WORKSPACE_ID,
        "alias": ALIAS,
        "operation_id": OPERATION_ID,
        "artifact_id": ARTIFACT_ID,
        "credential_id": "openai-prod",
        "profile_id": str(uuid.uuid4()),
        "extension_id": str(uuid.uuid4()),
        "namespace": "exports",
        "object_path": "reports/q3.csv",
        "key": "prod/crm/login",
        "user_id": user.pk,
        "runtime_id": str(uuid.uuid4()),  # runs by id are this engine's: not offered here
        "recipe_id": 1,
        "api_key_id": str(uuid.uuid4()),
        "request_id": "req_1",
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


def test_every_page_renders_against_the_public_surface(
    admin_client: Client, alice: User, public_api: PublicSurface
) -> None:
    urls = _page_urls(alice)
    assert len(urls) > 40  # the walk found the console, not an empty resolver
    failures = {}
    for url in urls:
        for headers in ({}, {"HX-Request": "true"}):
            response = admin_client.get(url, headers=headers)
            if response.status_code >= 500:
                failures[f"{url} {headers}"] = response.status_code
    assert failures == {}


def test_every_form_post_answers_without_a_500(
    admin_client: Client, alice: User, public_api: PublicSurface
) -> None:
    """Empty posts: what validation lets through reaches the stub, which refuses all it does not offer."""
    failures = {}
    for url in _page_urls(alice):
        if url in ("/login/", "/logout/"):
            continue
        response = admin_client.post(url, {}, headers={"HX-Request": "true"})
        if response.status_code >= 500:
            failures[url] = response.status_code
    assert failures == {}
    assert any(call.startswith("DELETE ") for call in public_api.calls)  # the posts did reach the API


def test_lists_outside_the_public_surface_say_they_are_not_offered(
    admin_client: Client, public_api: PublicSurface
) -> None:
    for url in ("/profiles/", "/extensions/", "/vault/", "/storage/"):
        response = admin_client.get(url)
        assert response.status_code < 500 and "Not offered by this API" in response.content.decode(), url


def test_a_runtime_page_degrades_to_the_public_alias_routes(
    admin_client: Client, public_api: PublicSurface
) -> None:
    body = admin_client.get(f"/workspaces/{WORKSPACE_ID}/runtimes/{ALIAS}/").content.decode()
    runs = body.split('id="runtime-runs"')[1].split("</section>")[0]
    assert "does not list earlier runs" in runs and "Retry" not in runs
    # its timeline through the public alias route (loaded after the page), as entries
    assert f'hx-get="/workspaces/{WORKSPACE_ID}/runtimes/{ALIAS}/events/"' in body
    timeline = admin_client.get(
        f"/workspaces/{WORKSPACE_ID}/runtimes/{ALIAS}/events/", headers={"HX-Request": "true"}
    ).content.decode()
    assert 'id="timeline-rows"' in timeline and 'class="entry' in timeline
    by_id = admin_client.get(f"/runtimes/{uuid.uuid4()}/")
    assert by_id.status_code == 404 and "does not offer runs by id" in by_id.content.decode()


def test_usage_and_keys_say_they_are_not_offered(admin_client: Client, public_api: PublicSurface) -> None:
    assert "does not report usage" in admin_client.get("/usage/").content.decode()
    assert "does not manage keys through its API" in admin_client.get("/api-keys/").content.decode()


def test_the_overview_degrades_in_place(admin_client: Client, public_api: PublicSurface) -> None:
    body = admin_client.get("/").content.decode()
    health = body.split('id="region-health"')[1].split("</section>")[0]
    assert "Connected in" in health and "not offered by this API" in health
    operations = body.split('id="region-operations"')[1].split("</section>")[0]
    assert "one workspace at a time" in operations and "Retry" not in operations
    assert "checkout" in body.split('id="region-live"')[1]  # the public runtime list still fills this


def test_operations_use_the_public_workspace_route(admin_client: Client, public_api: PublicSurface) -> None:
    everywhere = admin_client.get("/operations/").content.decode()
    assert "one workspace at a time" in everywhere
    body = admin_client.get("/operations/", {"workspace": WORKSPACE_ID}).content.decode()
    assert "browserUse.agent.execute" in body
    assert any(call.startswith(f"GET /v1/workspaces/{WORKSPACE_ID}/operations?") for call in public_api.calls)
    assert not [call for call in public_api.calls if "workspaceId=" in call]


def test_a_workspace_filter_that_is_not_an_id_never_reaches_a_path(
    admin_client: Client, public_api: PublicSurface
) -> None:
    response = admin_client.get("/operations/", {"workspace": "../auth/whoami"})
    assert response.status_code == 200 and "is not a workspace id" in response.content.decode()
    assert not [call for call in public_api.calls if "whoami" in call or "/../" in call]


def test_the_provider_filter_holds_when_the_api_ignores_it(
    admin_client: Client, public_api: PublicSurface
) -> None:
    body = admin_client.get("/ai-credentials/", {"provider": "anthropic"}).content.decode()
    assert "claude-team" in body and "openai-prod" not in body


def test_events_page_with_the_api_s_opaque_cursor(admin_client: Client, public_api: PublicSurface) -> None:
    """The timeline reads every page of the run's events, going on with the API's own cursor."""
    url = f"/workspaces/{WORKSPACE_ID}/runtimes/{ALIAS}/events/"
    timeline = admin_client.get(url, headers={"HX-Request": "true"})
    assert timeline.status_code == 200 and "https://example.test/3" in timeline.content.decode()
    assert any(
        EVENTS_CURSOR.replace(":", "%3A") in call for call in public_api.calls
    )  # passed back as it came


def test_a_list_without_its_key_is_a_clear_error(admin_client: Client) -> None:
    use_transport(httpx.MockTransport(lambda request: httpx.Response(200, json={"items": []})))
    response = admin_client.get("/workspaces/")
    assert response.status_code == 200
    assert "answered without the list “workspaces”" in response.content.decode()


def test_an_answer_that_is_not_json_is_a_clear_error(admin_client: Client) -> None:
    use_transport(httpx.MockTransport(lambda request: httpx.Response(200, html="<h1>Welcome to nginx</h1>")))
    response = admin_client.get(f"/workspaces/{WORKSPACE_ID}/")
    assert response.status_code == 502
    assert "without the JSON body the contract describes" in response.content.decode()
