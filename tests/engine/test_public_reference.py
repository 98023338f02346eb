"""The engine's OpenAPI document names the public surface as the public BCTRL reference does.

Guarantee protected: a client generated from the public reference (the hosted service's document)
and one generated from this engine's document call the same operations by the same names, get the
same success statuses, and authenticate the same way. REFERENCE is copied from the public
reference's pages (workspaces edition), one row per public operation: its operation id (unique
within its group there) and its success status. The reference gives every group of resources the
same plain verbs (`list`, `create`, `get`, `update`, `delete`); an OpenAPI document needs ids
unique, so those are qualified by their group (`workspaces-list`), and only those.
"""

import re
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.support.engine_process import EngineProcess

# (method, path, group, the reference's operation id, the reference's success status)
REFERENCE = [
    ("GET", "/v1/workspaces", "workspaces", "list", 200),
    ("POST", "/v1/workspaces", "workspaces", "create", 201),  # the contract's [public] row says 201
    ("GET", "/v1/workspaces/{id}", "workspaces", "get", 200),
    ("GET", "/v1/workspaces/{id}/state", "workspaces", "state", 200),
    ("GET", "/v1/workspaces/{id}/help", "workspaces", "help", 200),
    ("POST", "/v1/workspaces/{id}/execute", "workspaces", "execute", 200),
    ("GET", "/v1/workspaces/{id}/operations", "workspaces", "operations-list", 200),
    ("GET", "/v1/workspaces/{id}/artifacts", "workspaces", "artifacts-list", 200),
    ("POST", "/v1/workspaces/{id}/runtimes", "workspaces", "runtimes-create", 200),
    ("GET", "/v1/workspaces/{id}/runtimes", "workspaces", "runtimes-list", 200),
    ("GET", "/v1/workspaces/{id}/runtimes/{alias}", "workspaces", "runtimes-get", 200),
    ("POST", "/v1/workspaces/{id}/runtimes/{alias}/stop", "workspaces", "runtimes-stop", 200),
    ("GET", "/v1/workspaces/{id}/runtimes/{alias}/events", "workspaces", "runtime-events-list", 200),
    ("POST", "/v1/workspaces/{id}/runtimes/{alias}/events/wait", "workspaces", "runtime-events-wait", 200),
    ("POST", "/v1/workspaces/{id}/runtimes/{alias}/embed/live", "workspaces", "runtimes-embed-live", 200),
    (
        "POST",
        "/v1/workspaces/{id}/runtimes/{alias}/embed/recording",
        "workspaces",
        "runtimes-embed-recording",
        200,
    ),
    ("GET", "/v1/operations/{id}", "operations", "get", 200),
    ("POST", "/v1/operations/{id}/wait", "operations", "wait", 200),
    ("POST", "/v1/operations/{id}/cancel", "operations", "cancel", 200),
    ("GET", "/v1/ai-credentials", "ai-credentials", "list", 200),
    ("POST", "/v1/ai-credentials", "ai-credentials", "create", 200),
    ("GET", "/v1/ai-credentials/{id}", "ai-credentials", "get", 200),
    ("PATCH", "/v1/ai-credentials/{id}", "ai-credentials", "update", 200),
    ("DELETE", "/v1/ai-credentials/{id}", "ai-credentials", "delete", 204),
    ("POST", "/v1/ai-credentials/{id}/test", "ai-credentials", "test", 200),
]
PLAIN_VERBS = {"list", "create", "get", "update", "delete"}
SERVERS = ["https://api.bctrl.ai", "http://localhost:8787"]
OPERATION_ID = re.compile(r"^[a-z]+(-[a-z]+)*$")


def expected_id(group: str, reference_id: str) -> str:
    return f"{group}-{reference_id}" if reference_id in PLAIN_VERBS else reference_id


def normalise(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


@pytest.fixture(scope="module")
def document(engine: EngineProcess) -> dict[str, Any]:
    return httpx.get(f"{engine.url}/v1/openapi.json", timeout=30).json()


@pytest.fixture(scope="module")
def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), normalise(path)): operation
        for path, by_method in document["paths"].items()
        for method, operation in by_method.items()
    }


def test_it_names_each_public_operation_as_the_reference_does(
    operations: dict[tuple[str, str], dict[str, Any]],
) -> None:
    wrong = {
        f"{method} {path}": operations[(method, normalise(path))]["operationId"]
        for method, path, group, reference_id, _status in REFERENCE
        if operations[(method, normalise(path))]["operationId"] != expected_id(group, reference_id)
    }
    assert wrong == {}


def test_it_answers_each_public_operation_with_the_reference_s_status(
    operations: dict[tuple[str, str], dict[str, Any]],
) -> None:
    wrong = {}
    for method, path, _group, _id, status in REFERENCE:
        successes = sorted(
            int(code) for code in operations[(method, normalise(path))]["responses"] if str(code)[0] == "2"
        )
        if successes != [status]:
            wrong[f"{method} {path}"] = successes
    assert wrong == {}


def test_every_operation_id_is_named_unique_and_readable(document: dict[str, Any]) -> None:
    ids = [
        operation["operationId"]
        for by_method in document["paths"].values()
        for operation in by_method.values()
    ]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    # a route that forgot its operation_id gets ninja's engine_api_<module>_<function>: name it
    assert [i for i in ids if not OPERATION_ID.match(i)] == []


def test_it_authenticates_and_serves_as_the_reference_says(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"] == {
        "bearerAuth": {"type": "http", "scheme": "bearer", "description": "Use Bearer <api-key>."}
    }
    secured = [op["security"] for by_method in document["paths"].values() for op in by_method.values()]
    assert secured and all(security == [{"bearerAuth": []}] for security in secured)
    assert [server["url"] for server in document["servers"]] == SERVERS
