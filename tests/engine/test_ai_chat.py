"""The provider client's retry rules, with faults injected at the transport (httpx.MockTransport).

Waits are recorded by an injected sleep, so the tests check what the client asked to wait
(what `Retry-After` said), never how long anything took.
"""

import email.utils
import time

import httpx
import pytest

from engine.ai.chat import ChatRequest, ChatResponse, ModelAuth, ModelClient, ModelError, Tool, gemini_schema
from tests.support.loops import run_in_own_loop

KEY = "sk-chat-test-0123456789"
AUTH = ModelAuth(provider="openai", api_key=KEY, base_url="http://model.test/v1", model="m", source="inline")
REQUEST = ChatRequest("system", "prompt", (Tool("click", "Click.", {"type": "object", "properties": {}}),))
OK = {
    "choices": [{"message": {"tool_calls": [{"function": {"name": "click", "arguments": "{}"}}]}}],
    "usage": {"prompt_tokens": 7, "completion_tokens": 2},
}


def _client(
    *responses: httpx.Response, retries: int = 2
) -> tuple[ModelClient, list[float], list[httpx.Request]]:
    queue = list(responses)
    sent: list[httpx.Request] = []
    waits: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return queue.pop(0)

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return (
        ModelClient(
            AUTH, timeout=5, max_retries=retries, transport=httpx.MockTransport(handler), sleep=sleep
        ),
        waits,
        sent,
    )


def test_it_waits_what_retry_after_says_then_succeeds() -> None:
    client, waits, sent = _client(
        httpx.Response(429, headers={"Retry-After": "2"}, json={"error": {"message": "slow down"}}),
        httpx.Response(503, json={}),
        httpx.Response(200, json=OK),
    )
    response = _complete(client)
    assert waits == [2.0, 1.0]  # Retry-After, then the backoff of a second failure
    assert response.attempts == 3 and response.tool_calls[0].name == "click"
    assert response.usage.as_json() == {"inputTokens": 7, "outputTokens": 2, "totalTokens": 9, "requests": 1}
    assert sent[0].headers["authorization"] == f"Bearer {KEY}" and sent[0].url.path == "/v1/chat/completions"


def test_it_reads_retry_after_as_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 3, usegmt=True)
    client, waits, _ = _client(
        httpx.Response(503, headers={"Retry-After": when}), httpx.Response(200, json=OK)
    )
    _complete(client)
    assert len(waits) == 1 and 1 <= waits[0] <= 3


def test_a_wait_longer_than_the_cap_fails_at_once() -> None:
    client, waits, sent = _client(httpx.Response(429, headers={"Retry-After": "3600"}))
    with pytest.raises(ModelError) as failure:
        _complete(client)
    assert failure.value.code == "agent.provider_error" and "HTTP 429" in failure.value.message
    assert waits == [] and len(sent) == 1


def test_a_client_error_is_not_retried_and_its_body_is_not_echoed() -> None:
    client, waits, sent = _client(
        httpx.Response(401, json={"error": {"message": f"Incorrect API key provided: {KEY}"}})
    )
    with pytest.raises(ModelError) as failure:
        _complete(client)
    assert "Incorrect" not in failure.value.message and KEY not in failure.value.message
    assert "HTTP 401 (the key was rejected)" in failure.value.message
    assert failure.value.status == 401 and waits == [] and len(sent) == 1


def test_what_a_server_that_does_not_speak_http_sent_is_not_echoed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        # what h11 says of a banner: the bytes the server sent, quoted
        raise httpx.RemoteProtocolError("illegal status line: bytearray(b'SSH-2.0-private-banner')")

    client = ModelClient(AUTH, timeout=5, max_retries=0, transport=httpx.MockTransport(handler))
    with pytest.raises(ModelError) as failure:
        _complete(client)
    assert failure.value.code == "agent.provider_error" and "banner" not in failure.value.message
    assert "does not speak HTTP" in failure.value.message


def test_a_google_model_name_goes_into_the_path_encoded() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500, json={})

    auth = ModelAuth("google", KEY, "http://model.test/v1beta", "a:b@c", "inline")
    client = ModelClient(auth, timeout=5, max_retries=0, transport=httpx.MockTransport(handler))
    with pytest.raises(ModelError):
        _complete(client)
    assert sent[0].url.raw_path == b"/v1beta/models/a%3Ab%40c:generateContent"


def test_retries_stop_after_max_retries() -> None:
    client, waits, sent = _client(*(httpx.Response(500, json={}) for _ in range(3)), retries=2)
    with pytest.raises(ModelError) as failure:
        _complete(client)
    assert failure.value.code == "agent.provider_error" and len(sent) == 3 and waits == [0.5, 1.0]


def test_an_answer_in_the_wrong_format_is_a_provider_error() -> None:
    client, _, _ = _client(httpx.Response(200, json={"something": "else"}))
    with pytest.raises(ModelError) as failure:
        _complete(client)
    assert failure.value.code == "agent.provider_error" and "wire format" in failure.value.message


def _complete(client: ModelClient) -> ChatResponse:
    """One request, on an event loop in a thread of its own: the e2e tests' sync Playwright keeps
    a loop running in the main thread for the rest of the session."""

    async def complete() -> ChatResponse:
        async with client:
            return await client.complete(REQUEST)

    return run_in_own_loop(complete())


def test_gemini_parameters_keep_only_the_openapi_subset() -> None:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "properties": {"price": {"type": ["number", "null"], "exclusiveMinimum": 0}},
        "required": ["price"],
    }
    assert gemini_schema(schema) == {
        "type": "object",
        "properties": {"price": {"type": "number", "nullable": True}},
        "required": ["price"],
    }
