"""One id per console request, on both services' log lines (LOG_FORMAT=json) and in what a user sees.

What it protects: an operator given the request id a page showed finds the console's line and the
engine's lines of that request with one search.
"""

import json
import uuid
from typing import Any

from tests.deployment.conftest import PASSWORD, Deployment
from tests.support.engine_process import eventually


def _json_lines(log: str) -> list[dict[str, Any]]:
    # the servers' own first lines come before Django configures logging; every later one is JSON
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


def test_one_id_finds_the_console_and_the_engine_lines_of_a_request(deployment: Deployment) -> None:
    client = deployment.console.sign_in("alice", PASSWORD)
    response = client.get(f"/workspaces/{uuid.uuid4()}/")  # the engine answers 404 for it
    request_id = response.headers["X-Request-Id"]
    assert request_id in response.text  # the page shows it with the API's error

    def both_logged() -> bool:
        console = [
            line for line in _json_lines(deployment.console.log()) if line.get("request_id") == request_id
        ]
        engine = [
            line for line in _json_lines(deployment.engine.log()) if line.get("request_id") == request_id
        ]
        return any(line["logger"] == "dashboard.access" for line in console) and any(
            line["logger"] == "engine.access" and line["path"].startswith("/v1/workspaces/")
            for line in engine
        )

    assert eventually(both_logged, timeout=10)
    engine_line = next(
        line for line in _json_lines(deployment.engine.log()) if line.get("request_id") == request_id
    )
    assert engine_line["service"] == "engine" and engine_line["status"] == 404
    assert {"time", "level", "message"} <= engine_line.keys()


def test_an_id_a_client_makes_up_is_not_taken_from_outside(deployment: Deployment) -> None:
    # only a trusted proxy's X-Request-Id is kept; anyone else gets an id of the console's own
    client = deployment.console.sign_in("alice", PASSWORD)
    response = client.get("/", headers={"X-Request-Id": "forged-id"})
    assert response.headers["X-Request-Id"].startswith("req_")
    # the engine keeps a caller's plain id (the console's), and refuses anything else as one
    with deployment.engine.client() as api:
        assert (
            api.get("/workspaces", headers={"X-Request-Id": "console-abc.1"}).headers["X-Request-Id"]
            == "console-abc.1"
        )
        made_up = api.get("/workspaces", headers={"X-Request-Id": "<script>" + "x" * 100}).headers[
            "X-Request-Id"
        ]
        assert made_up.startswith("req_")
