"""docs/api.md and the engine's OpenAPI document name the same routes.

Guarantee protected: the API reference the project carries cannot drift from what the engine
serves. Every operation of /v1/openapi.json is a row of the reference's tables and every row is
served; the "planned" section lists only routes nobody serves yet. Parameter names are
normalised (`{workspaceId}` and `{id}` compare equal): the OpenAPI test checks the names.
"""

import re
from pathlib import Path

import httpx
import pytest

from tests.support.engine_process import EngineProcess

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "api.md"
PLANNED_HEADING = "## Planned, not served yet"
ROW = re.compile(r"^\|\s*(GET|POST|PUT|PATCH|DELETE)\s*\|\s*`(/v1/[^`]+)`", re.MULTILINE)
MENTION = re.compile(r"`(?:GET |POST |PUT |PATCH |DELETE )?(/v1/[^`?\s]*)")
# Served by ninja next to the operations, not operations themselves.
DOCUMENT_ROUTES = {"/v1/openapi.json", "/v1/docs"}

Route = tuple[str, str]


def normalise(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def rows(text: str) -> set[Route]:
    return {(method, normalise(path)) for method, path in ROW.findall(text)}


@pytest.fixture(scope="module")
def reference() -> tuple[str, str]:
    """(the reference's main part, its planned section)."""
    text = REFERENCE.read_text()
    assert PLANNED_HEADING in text, f"{REFERENCE.name} lost its '{PLANNED_HEADING}' section"
    main, planned = text.split(PLANNED_HEADING, 1)
    return main, planned


@pytest.fixture(scope="module")
def served(engine: EngineProcess) -> set[Route]:
    document = httpx.get(f"{engine.url}/v1/openapi.json", timeout=30).json()
    return {
        (method.upper(), normalise(path))
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }


def test_every_served_route_is_in_the_reference(reference: tuple[str, str], served: set[Route]) -> None:
    missing = sorted(served - rows(reference[0]))
    assert not missing, f"served but not in docs/api.md (add a row): {missing}"


def test_every_route_of_the_reference_is_served(reference: tuple[str, str], served: set[Route]) -> None:
    unserved = sorted(rows(reference[0]) - served)
    assert not unserved, f"in docs/api.md but not served (fix the row or move it to planned): {unserved}"


def test_planned_routes_are_not_served_yet(reference: tuple[str, str], served: set[Route]) -> None:
    planned = rows(reference[1])
    landed = sorted(planned & served)
    assert not landed, f"served now: move these rows out of '{PLANNED_HEADING}': {landed}"


def test_every_path_the_reference_mentions_is_served(reference: tuple[str, str], served: set[Route]) -> None:
    paths = {path for _method, path in served}
    mentioned = {normalise(p) for p in MENTION.findall(reference[0])} - DOCUMENT_ROUTES
    assert mentioned, "the reference mentions no /v1 path"
    assert not sorted(mentioned - paths), sorted(mentioned - paths)
