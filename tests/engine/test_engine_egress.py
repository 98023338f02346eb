"""The engine's own outbound calls obey the egress policy: a `baseUrl` cannot reach a private service.

The "private service" is a TCP listener the suite starts on 127.0.0.2 (a second loopback address
standing for something on the engine's network), which records every connection it accepts and
would answer with a secret. A refused `baseUrl` must fail with `navigation.blocked` before a
connection is opened, so the listener sees none, and nothing it could have said comes back.
"""

import ipaddress
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from engine.egress.outbound import Refused, judged_transport
from engine.egress.policy import EgressPolicy, IpAddress
from tests.engine.conftest import AgentWorkspace
from tests.support.loops import run_in_own_loop
from tests.support.model_server import ModelServer, tool

SECRET = b"PRIVATE-SERVICE-SECRET"


class PrivateService:
    """A listener on 127.0.0.2 that counts connections and answers each with an HTTP secret."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.2", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                body = b'{"error": {"message": "' + SECRET + b'"}, "data": []}'
                conn.sendall(
                    b"HTTP/1.1 500 Oops\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def private_service() -> Iterator[PrivateService]:
    service = PrivateService()
    yield service
    service.close()


def test_a_saved_credentials_test_against_a_private_address_sends_nothing(
    api: httpx.Client, private_service: PrivateService
) -> None:
    credential_id = "private-base-url"
    created = api.post(
        "/ai-credentials",
        json={
            "id": credential_id,
            "provider": "openai-compatible",
            "label": "points inward",
            "apiKey": "sk-whatever",
            "baseUrl": f"http://127.0.0.2:{private_service.port}/v1",
        },
    )
    assert created.status_code == 200, created.text
    try:
        response = api.post(f"/ai-credentials/{credential_id}/test")
        body = response.json()
        assert response.status_code == 200 and body["ok"] is False, body
        assert body["code"] == "navigation.blocked" and "ENGINE_EGRESS_ALLOW" in body["message"]
        assert "destination:loopback" in body["message"]
        assert SECRET.decode() not in response.text
        assert private_service.connections == 0
    finally:
        api.delete(f"/ai-credentials/{credential_id}")


def test_an_inline_base_url_to_a_private_address_is_blocked_before_any_byte(
    agents: AgentWorkspace, private_service: PrivateService
) -> None:
    agents.goto("agent-act.html")
    for base in (
        f"http://127.0.0.2:{private_service.port}/v1",
        f"http://[::ffff:127.0.0.2]:{private_service.port}/v1",
    ):
        body = agents.execute(
            {
                "call": "stagehand.act",
                "args": [
                    "Click save",
                    {
                        "auth": {"apiKey": "sk-inline", "provider": "openai-compatible", "baseUrl": base},
                        "model": "anything",
                        "maxRetries": 2,
                    },
                ],
            }
        )
        error = body["steps"][0]["error"]
        assert body["status"] == "failed" and error["code"] == "navigation.blocked", body
        assert SECRET.decode() not in str(body)
    assert private_service.connections == 0
    events = agents.api.get(f"/workspaces/{agents.id}/runtimes/agent/events", params={"limit": 500}).text
    assert SECRET.decode() not in events


def test_an_allowed_providers_error_body_is_not_echoed(
    agents: AgentWorkspace, model_server: ModelServer, model: str
) -> None:
    agents.goto("agent-act.html")
    model_server.script(
        model, {"kind": "error", "status": 418, "message": "TEAPOT-BODY", "retry_after": None}
    )
    body = agents.execute(
        {"call": "stagehand.act", "args": ["Click save", {"model": model, "maxRetries": 0}]}
    )
    error = body["steps"][0]["error"]
    assert error["code"] == "agent.provider_error" and "HTTP 418" in error["message"]
    assert "TEAPOT-BODY" not in str(body)


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("google", "../../admin?q="),
        ("google", "org/model"),
        ("openai-compatible", "a/../b"),
        ("openai-compatible", "model#frag"),
        ("openai-compatible", "with space"),
    ],
)
def test_a_model_name_that_could_move_the_url_is_refused(
    agents: AgentWorkspace, model_server: ModelServer, provider: str, model: str
) -> None:
    response = agents.api.post(
        f"/workspaces/{agents.id}/execute",
        json={
            "runtime": "agent",
            "steps": [
                {
                    "call": "stagehand.act",
                    "args": [
                        "Click save",
                        {
                            "auth": {
                                "apiKey": "sk-inline",
                                "provider": provider,
                                "baseUrl": model_server.base_url(provider),
                            },
                            "model": model,
                        },
                    ],
                }
            ],
        },
    )
    assert response.status_code == 400, response.text
    assert model_server.seen(model) == []


def test_a_model_name_with_a_slash_is_fine_where_it_goes_in_the_body(
    agents: AgentWorkspace, model_server: ModelServer
) -> None:
    model = "openrouter-style/some-model"
    agents.goto("agent-act.html")
    model_server.script(model, tool("scroll", direction="down"))
    body = agents.execute(
        {
            "call": "stagehand.act",
            "args": [
                "Scroll",
                {
                    "auth": {
                        "apiKey": "sk-inline",
                        "provider": "openai-compatible",
                        "baseUrl": model_server.base_url("openai"),
                    },
                    "model": model,
                },
            ],
        }
    )
    assert body["status"] == "succeeded", body


# ---- the transport, in-process ------------------------------------------------------------------


def _get(transport: httpx.AsyncBaseTransport, url: str) -> httpx.Response:
    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport) as client:
            return await client.get(url)

    return run_in_own_loop(get())


def test_the_transport_connects_to_the_address_it_judged_and_keeps_the_name(
    model_server: ModelServer, private_service: PrivateService
) -> None:
    answers = {"model.test": ["127.0.0.1"], "rebound.test": ["127.0.0.1", "127.0.0.2"]}

    async def resolver(host: str, port: int) -> list[IpAddress]:
        return [ipaddress.ip_address(a) for a in answers[host]]

    policy = EgressPolicy.from_setting(model_server.host_port)
    port = model_server.host_port.rsplit(":", 1)[1]
    response = _get(judged_transport(policy, resolver), f"http://model.test:{port}/openai/v1/models")
    assert response.status_code == 200
    assert model_server.listings[-1]["host"] == f"model.test:{port}"
    # A name with one refused address is refused whole, before anything connects.
    with pytest.raises(Refused) as refused:
        _get(judged_transport(policy, resolver), f"http://rebound.test:{private_service.port}/")
    assert refused.value.refusal.rule == "destination:loopback"
    assert private_service.connections == 0
