"""Scopes per route: every route of the OpenAPI document, called with each scope's key, against a table.

The table is the contract's "Scopes of API keys" written out: `read` may GET and call the two
`wait` routes (and mint view-only embeds); `operator` everything but changing or revealing vault entries and AI credentials, and API keys
(a TOTP code is an operator's, so is testing an AI credential); `admin` everything. A route the
table does not know, or one whose declared scope differs, fails the first test; the second
calls each route with each key and checks that exactly the keys below its scope get 403.
"""

import re
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support.engine_process import EngineProcess

RANK = {"read": 0, "operator": 1, "admin": 2}
ADMIN_ONLY = {
    ("PUT", "/v1/vault/{key}"),
    ("DELETE", "/v1/vault/{key}"),
    ("POST", "/v1/vault/{key}/reveal"),
    ("GET", "/v1/vault/{key}/totp"),  # a one-time code is read only by admins; operators fill it
    ("POST", "/v1/ai-credentials"),
    ("PATCH", "/v1/ai-credentials/{id}"),
    ("DELETE", "/v1/ai-credentials/{id}"),
    # API keys, listing included: names and scopes tell an attacker which key to steal
    ("GET", "/v1/api-keys"),
    ("POST", "/v1/api-keys"),
    ("DELETE", "/v1/api-keys/{id}"),
}
OPERATOR_ONLY_READS = {
    # who is connected over CDP: key names tell an attacker which key to steal
    ("GET", "/v1/workspaces/{id}/runtimes/{alias}/cdp"),
}
READ_WRITES = {
    ("POST", "/v1/workspaces/{id}/runtimes/{alias}/events/wait"),
    ("POST", "/v1/operations/{id}/wait"),
    # view-only embeds (an interactive live view asks for operator in its handler: its body decides)
    ("POST", "/v1/workspaces/{id}/runtimes/{alias}/embed/live"),
    ("POST", "/v1/workspaces/{id}/runtimes/{alias}/embed/recording"),
    ("POST", "/v1/runtimes/{id}/embed/recording"),
}


def shape(path: str) -> str:
    """A path with its parameters named by kind, whatever the code calls them (ids alike)."""
    return re.sub(r"\{(\w*[iI]d)\}", "{id}", path)


def expected_scope(method: str, path: str) -> str:
    route = (method, shape(path))
    if route in ADMIN_ONLY:
        return "admin"
    if route in OPERATOR_ONLY_READS:
        return "operator"
    if method == "GET" or route in READ_WRITES:
        return "read"
    return "operator"


def operations(engine: EngineProcess) -> list[tuple[str, str, str]]:
    document = httpx.get(f"{engine.url}/v1/openapi.json").json()
    return [
        (method.upper(), path, operation["x-bctrl-scope"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_every_route_declares_the_scope_the_table_gives_it(engine: EngineProcess) -> None:
    found = operations(engine)
    assert len(found) > 40
    wrong = [
        (m, p, declared, expected_scope(m, p)) for m, p, declared in found if declared != expected_scope(m, p)
    ]
    assert wrong == []


def concrete(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.lower().endswith("id") and name != "id":
            return str(uuid.uuid4())
        return {
            "alias": "no-such-runtime",
            "key": "scope-test/entry",
            "namespace": "scope-test",
            "path": "x.txt",
        }.get(name, "x")

    return re.sub(r"\{(?:path:)?(\w+)\}", value, path)


@pytest.mark.parametrize("scope", ["read", "operator", "admin"])
def test_each_key_gets_exactly_what_its_scope_allows(engine: EngineProcess, scope: str) -> None:
    refused, allowed = [], []
    with httpx.Client(headers={"Authorization": f"Bearer {engine.keys[scope]}"}, timeout=30) as client:
        for method, path, needed in operations(engine):
            url = f"{engine.url}{concrete(path)}"
            # Bodies that cannot create anything: an unknown id is a 404, a missing field a 400.
            with client.stream(
                method, url, json={} if method in ("POST", "PUT", "PATCH") else None
            ) as response:
                status = response.status_code  # (the updates stream is closed at once)
                body = response.read() if status == 403 else b""
            if RANK[scope] < RANK[needed]:
                assert status == 403 and b"auth.forbidden" in body, (method, path, status)
                refused.append((method, path))
            else:
                assert status != 403, (method, path, body)
                allowed.append((method, path))
    if scope == "admin":
        assert refused == []
    else:
        assert allowed and refused


def test_the_shape_of_a_url_decides_nothing(engine: EngineProcess) -> None:
    """The holes of issue 7: a URL ending in /wait or /test got the scope of the calls so named."""
    with engine.client("read") as reader, engine.client("operator") as operator:
        for method, path in (
            ("PUT", "/vault/prod/wait"),
            ("DELETE", "/vault/prod/wait"),
            ("PUT", "/storage/ns/objects/a/wait"),
            ("DELETE", "/storage/ns/objects/a/wait"),
        ):
            response = reader.request(method, path, json={"username": "u", "password": "p"})
            assert response.status_code == 403 and response.json()["error"]["code"] == "auth.forbidden"
        patched = operator.patch("/ai-credentials/test", json={"baseUrl": "http://127.0.0.1:9/v1"})
        assert patched.status_code == 403 and patched.json()["error"]["details"]["needed"] == "admin"


def test_the_reference_shows_the_scope_each_route_declares(engine: EngineProcess) -> None:
    reference = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    served = reference.split("## Planned, not served yet", 1)[0]
    documented = {
        (method, shape(path)): scope
        for method, path, scope in re.findall(
            r"^\|\s*(GET|POST|PUT|PATCH|DELETE)\s*\|\s*`(/v1/[^`]+)`\s*\|\s*(\w+)[^|]*\|",
            served,
            re.MULTILINE,
        )
    }
    declared = {(method, shape(path)): scope for method, path, scope in operations(engine)}
    assert documented == declared
