"""The engine's OpenAPI document says what the contract says: parameter names, enums, errors.

A client generated from /v1/openapi.json must see the contract's names (`workspaceId`, not the
handlers' `workspace_id`), the values an enum field can take, and the error body on every
status the engine can answer with.
"""

from typing import Any

import httpx
import pytest

from tests.support.engine_process import EngineProcess

CONTRACT_PATH_PARAMETERS = {
    "workspaceId",
    "alias",
    "runtimeId",
    "operationId",
    "profileId",
    "extensionId",
    "artifactId",
    "credentialId",
    "apiKeyId",
    "namespace",
    "path",
    "key",
    "requestId",  # ours: a run's network request (req_<n>), for its kept body
}


@pytest.fixture(scope="module")
def document(engine: EngineProcess) -> dict[str, Any]:
    return httpx.get(f"{engine.url}/v1/openapi.json", timeout=30).json()


def schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    return document["components"]["schemas"][name]


def enum_of(document: dict[str, Any], model: str, field: str) -> list[str]:
    prop = schema(document, model)["properties"][field]
    if "anyOf" in prop:  # a nullable field: the enum is the branch that is not null
        prop = next(p for p in prop["anyOf"] if p.get("type") != "null")
    if "$ref" in prop:
        prop = schema(document, prop["$ref"].rsplit("/", 1)[-1])
    return sorted(prop["enum"])


def test_path_parameters_have_the_contract_names(document: dict[str, Any]) -> None:
    named = set()
    for path, operations in document["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    assert "{" + parameter["name"] + "}" in path, (path, parameter["name"])
                    named.add(parameter["name"])
    assert named == CONTRACT_PATH_PARAMETERS


def test_response_enums_are_declared(document: dict[str, Any]) -> None:
    assert enum_of(document, "RuntimeOut", "status") == ["active", "failed", "stopped"]
    assert enum_of(document, "RuntimeSummary", "launchMode") == ["ephemeral", "profile"]
    assert enum_of(document, "RuntimeOut", "stopReason") == ["engine_shutdown", "idle", "requested"]
    assert enum_of(document, "OperationOut", "status") == sorted(
        ["queued", "running", "cancelling", "succeeded", "failed", "cancelled", "timed_out"]
    )
    assert enum_of(document, "ArtifactOut", "kind") == ["download", "export", "pdf", "screenshot"]
    assert enum_of(document, "Binding", "type") == ["context", "handle", "page", "subscription"]


def test_every_operation_documents_the_error_body(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status in ("400", "401", "404", "405", "500"):
                content = operation["responses"][status]["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)


def test_extension_upload_takes_an_idempotency_key(document: dict[str, Any]) -> None:
    parameters = document["paths"]["/v1/browser-extensions/upload"]["post"]["parameters"]
    assert any(p["in"] == "header" and p["name"] == "Idempotency-Key" for p in parameters), parameters
