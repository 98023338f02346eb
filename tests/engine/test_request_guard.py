"""The ASGI guard: a request without a key is answered before its body is read; bodies are bounded per route.

"Before its body is read" is shown, not timed: the test sends the headers of a 300 MB request and
a few bytes of it, then reads the answer on the same socket while 300 MB are still owed.
"""

import json
import socket

import httpx

from tests.support.engine_process import EngineProcess

HUGE = 300 * 1024 * 1024


def send_head(engine: EngineProcess, head: str, first_bytes: bytes = b"x" * 10) -> tuple[int, dict]:
    """Send a request head and a few body bytes, then read the whole answer (the rest is never sent)."""
    with socket.create_connection(("127.0.0.1", engine.port), timeout=10) as conn:
        conn.sendall(head.encode() + first_bytes)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head_part, _, body = answer.partition(b"\r\n\r\n")
    status = int(head_part.split(b" ", 2)[1])
    return status, json.loads(body)


def test_a_huge_body_without_a_key_is_refused_before_it_is_read(engine: EngineProcess) -> None:
    for credentials in ("", "Authorization: Bearer bctrl_not-a-key\r\n"):
        status, body = send_head(
            engine,
            "PUT /v1/storage/huge/objects/big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"{credentials}Content-Type: application/octet-stream\r\nContent-Length: {HUGE}\r\n\r\n",
        )
        assert status == 401 and body["error"]["code"] == "auth.required" and body["requestId"]


def test_a_body_past_the_routes_limit_is_refused_by_its_length(engine: EngineProcess) -> None:
    status, body = send_head(
        engine,
        "POST /v1/workspaces HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {engine.keys['admin']}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {2 * 1024 * 1024}\r\n\r\n",
        b'{"name": "',
    )
    assert status == 413 and body["error"]["code"] == "request.too_large"
    assert body["error"]["details"] == {"limitBytes": 1024 * 1024}


def test_a_streamed_body_is_cut_off_once_it_passes_the_limit(
    engine: EngineProcess, api: httpx.Client
) -> None:
    chunks = iter([b'{"name": "', b"x" * (700 * 1024), b"x" * (700 * 1024), b'"}'])
    response = api.post("/workspaces", content=chunks, headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "request.too_large"
    assert response.headers["X-Request-Id"] == response.json()["requestId"]


def test_bodies_within_limits_and_the_public_docs_pass(engine: EngineProcess, api: httpx.Client) -> None:
    assert api.post("/workspaces", json={"name": "n" * 200}).status_code == 201
    assert httpx.get(f"{engine.url}/v1/openapi.json").status_code == 200  # no key needed
    assert httpx.get(f"{engine.url}/healthz").json()["ok"] is True
