"""One small interface to the model providers: a system text, one user text, tools to choose from.

`ModelClient(auth).complete(ChatRequest)` sends one request in the provider's own wire format
(OpenAI-compatible chat completions, Anthropic messages, Google Gemini generateContent) and
answers a `ChatResponse`: the tool calls the model chose, its text, and token usage. Agents ask
for a tool call on every request (`tool_choice` required / `any` / `ANY`), so a reply is an
action, not prose to parse.

Failures are one exception, `ModelError`, with the contract's codes:
- `navigation.blocked`: the provider's address is one the egress policy refuses (a loopback,
  private or link-local address not in ENGINE_EGRESS_ALLOW, the engine's own port); nothing was
  sent (engine/egress/outbound.py);
- `agent.provider_error`: an HTTP error status, an unreachable provider, a body that is not the
  provider's format;
- `agent.timeout`: no answer within the request timeout, on every try;
- `agent.invalid_output`: a tool call whose arguments are not a JSON object.

Retries: 429 and 5xx (and 529, Anthropic's "overloaded"), timeouts and connection errors are
tried again up to `max_retries` times, waiting what `Retry-After` asks (seconds or an HTTP date,
at most RETRY_AFTER_CAP) or else an exponential backoff. A provider asking for a longer wait
than the cap fails at once: an agent step should not sleep for minutes on one answer.

The API key travels only in a header. Nothing a provider (or whatever answers at a `baseUrl`)
sends back is echoed: a failure is a code, a fixed sentence and the HTTP status, never the body
or the connection's error text (which can quote the bytes a server sent), so a `baseUrl` cannot
turn an agent call into a reader of whatever answers there.
"""

import asyncio
import email.utils
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from engine.ai.providers import (
    ANTHROPIC_VERSION,
    base_url_for,
    failure_reason,
    refused_message,
    status_reason,
)
from engine.egress.outbound import Refused, judged_transport

RETRY_STATUSES = (429, 500, 502, 503, 504, 529)
RETRY_AFTER_CAP = 30.0
BACKOFF_BASE = 0.5
DEFAULT_MAX_TOKENS = 2048


class ModelError(Exception):
    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class ModelAuth:
    """Who answers and with which key. `source` says where the key came from, never the key."""

    provider: str
    api_key: str = field(repr=False)
    base_url: str
    model: str
    source: str  # "platform" | "credential:<id>" | "inline"

    def describe(self) -> dict[str, str]:
        return {"provider": self.provider, "model": self.model, "auth": self.source}


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]  # a JSON Schema of type object


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ChatRequest:
    system: str
    prompt: str
    tools: tuple[Tool, ...]
    max_tokens: int = DEFAULT_MAX_TOKENS


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0

    def add(self, other: "Usage") -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.requests += other.requests

    def as_json(self) -> dict[str, int]:
        return {
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "totalTokens": self.input_tokens + self.output_tokens,
            "requests": self.requests,
        }


@dataclass
class ChatResponse:
    tool_calls: list[ToolCall]
    text: str
    usage: Usage
    attempts: int = 1


Sleep = Callable[[float], Awaitable[None]]


class ModelClient:
    """One conversation partner: use it as `async with ModelClient(...) as client`, so the
    requests of one call or one agent run share a connection pool (and a TLS session)."""

    def __init__(
        self,
        auth: ModelAuth,
        timeout: float,
        max_retries: int,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.auth = auth
        self.timeout = timeout
        self.max_retries = max_retries
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport or judged_transport(),
            follow_redirects=False,
        )

    async def __aenter__(self) -> "ModelClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._http.aclose()

    async def complete(self, request: ChatRequest) -> ChatResponse:
        url, headers, body = encode(self.auth, request)
        attempts = 0
        client = self._http
        while True:
            attempts += 1
            retry_in: float | None
            error: ModelError
            try:
                response = await client.post(url, headers=headers, json=body)
            except Refused as exc:
                raise ModelError(
                    "navigation.blocked", refused_message(f"the {self.auth.provider} provider", exc.refusal)
                ) from None
            except httpx.TimeoutException:
                error = ModelError(
                    "agent.timeout",
                    f"The {self.auth.provider} provider did not answer within {self.timeout:g} s"
                    f" ({attempts} attempt(s)).",
                )
                retry_in = self._backoff(attempts)
            except (httpx.HTTPError, httpx.InvalidURL, UnicodeEncodeError) as exc:
                error = ModelError(
                    "agent.provider_error",
                    f"Could not reach the {self.auth.provider} provider at {self.auth.base_url}: "
                    f"{failure_reason(exc)}.",
                )
                retry_in = self._backoff(attempts)
            else:
                if response.status_code < 400:
                    parsed = self._decode(response)
                    parsed.attempts = attempts
                    return parsed
                error = ModelError(
                    "agent.provider_error",
                    f"The {self.auth.provider} provider answered HTTP {response.status_code}"
                    f" ({status_reason(response.status_code)}).",
                    status=response.status_code,
                )
                retry_in = (
                    self._retry_after(response, attempts) if response.status_code in RETRY_STATUSES else None
                )
            if retry_in is None or attempts > self.max_retries:
                raise error
            await self._sleep(retry_in)

    def _backoff(self, attempts: int) -> float:
        return BACKOFF_BASE * 2 ** (attempts - 1)

    def _retry_after(self, response: httpx.Response, attempts: int) -> float | None:
        value = response.headers.get("retry-after")
        if value is None:
            return self._backoff(attempts)
        seconds: float | None
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                seconds = None
        if seconds is None:
            return self._backoff(attempts)
        seconds = max(0.0, seconds)
        return seconds if seconds <= RETRY_AFTER_CAP else None

    def _decode(self, response: httpx.Response) -> ChatResponse:
        try:
            body = response.json()
        except ValueError:
            raise ModelError(
                "agent.provider_error",
                f"The {self.auth.provider} provider answered with a body that is not JSON; is baseUrl right?",
            ) from None
        try:
            return decode(self.auth.provider, body)
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ModelError(
                "agent.provider_error",
                f"The {self.auth.provider} provider's answer is not in its wire format; is baseUrl right?",
            ) from None


# ---- wire formats ---------------------------------------------------------------------------


def encode(auth: ModelAuth, request: ChatRequest) -> tuple[str, dict[str, str], dict[str, Any]]:
    """URL, headers and JSON body of one request in the provider's wire format."""
    base = base_url_for(auth.provider, auth.base_url) or ""
    if auth.provider == "anthropic":
        return _anthropic(base, auth, request)
    if auth.provider == "google":
        return _google(base, auth, request)
    return _openai(base, auth, request)


def _anthropic(
    base: str, auth: ModelAuth, request: ChatRequest
) -> tuple[str, dict[str, str], dict[str, Any]]:
    tools = [
        {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in request.tools
    ]
    return (
        f"{base}/messages",
        {"x-api-key": auth.api_key, "anthropic-version": ANTHROPIC_VERSION},
        {
            "model": auth.model,
            "max_tokens": request.max_tokens,
            "system": request.system,
            "messages": [{"role": "user", "content": request.prompt}],
            "tools": tools,
            "tool_choice": {"type": "any"},
        },
    )


def _google(base: str, auth: ModelAuth, request: ChatRequest) -> tuple[str, dict[str, str], dict[str, Any]]:
    declarations = [
        {"name": t.name, "description": t.description, "parameters": gemini_schema(t.parameters)}
        for t in request.tools
    ]
    return (
        f"{base}/models/{quote(auth.model, safe='')}:generateContent",
        {"x-goog-api-key": auth.api_key},
        {
            "systemInstruction": {"parts": [{"text": request.system}]},
            "contents": [{"role": "user", "parts": [{"text": request.prompt}]}],
            "tools": [{"functionDeclarations": declarations}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
            "generationConfig": {"maxOutputTokens": request.max_tokens},
        },
    )


def _openai(base: str, auth: ModelAuth, request: ChatRequest) -> tuple[str, dict[str, str], dict[str, Any]]:
    """OpenAI and every OpenAI-compatible server (vLLM, Ollama, LM Studio, gateways...)."""
    limit_field = "max_completion_tokens" if auth.provider == "openai" else "max_tokens"
    tools = [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in request.tools
    ]
    return (
        f"{base}/chat/completions",
        {"Authorization": f"Bearer {auth.api_key}"},
        {
            "model": auth.model,
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.prompt},
            ],
            "tools": tools,
            "tool_choice": "required",
            limit_field: request.max_tokens,
        },
    )


def decode(provider: str, body: dict[str, Any]) -> ChatResponse:
    if provider == "anthropic":
        calls, texts = [], []
        for block in body["content"]:
            if block.get("type") == "tool_use":
                calls.append(ToolCall(block["name"], _arguments(block["name"], block.get("input"))))
            elif block.get("type") == "text":
                texts.append(block.get("text") or "")
        usage = body.get("usage") or {}
        return ChatResponse(
            calls,
            "\n".join(texts),
            Usage(usage.get("input_tokens") or 0, usage.get("output_tokens") or 0, 1),
        )
    if provider == "google":
        candidates = body.get("candidates") or []
        parts = (candidates[0].get("content") or {}).get("parts") or [] if candidates else []
        calls, texts = [], []
        for part in parts:
            if "functionCall" in part:
                call = part["functionCall"]
                calls.append(ToolCall(call["name"], _arguments(call["name"], call.get("args", {}))))
            elif "text" in part:
                texts.append(part["text"] or "")
        usage = body.get("usageMetadata") or {}
        return ChatResponse(
            calls,
            "\n".join(texts),
            Usage(usage.get("promptTokenCount") or 0, usage.get("candidatesTokenCount") or 0, 1),
        )
    message = body["choices"][0]["message"]
    calls = [
        ToolCall(
            call["function"]["name"], _arguments(call["function"]["name"], call["function"].get("arguments"))
        )
        for call in message.get("tool_calls") or []
    ]
    usage = body.get("usage") or {}
    return ChatResponse(
        calls,
        message.get("content") or "",
        Usage(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0, 1),
    )


def _arguments(name: str, raw: Any) -> dict[str, Any]:
    """A tool call's arguments as an object; OpenAI sends them as a JSON string."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ModelError(
                "agent.invalid_output", f"The model called {name[:64]!r} with arguments that are not JSON."
            ) from None
    if not isinstance(raw, dict):
        raise ModelError(
            "agent.invalid_output", f"The model called {name[:64]!r} with arguments that are not an object."
        )
    return raw


# Gemini's function parameters are an OpenAPI subset: keywords outside it are refused.
_GEMINI_KEYWORDS = {
    "type",
    "format",
    "description",
    "nullable",
    "enum",
    "properties",
    "required",
    "items",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
    "anyOf",
    "propertyOrdering",
}


def gemini_schema(schema: Any) -> Any:
    if isinstance(schema, list):
        return [gemini_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in _GEMINI_KEYWORDS:
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: gemini_schema(sub) for name, sub in value.items()}
        elif key in ("items", "anyOf"):
            out[key] = gemini_schema(value)
        elif key == "type" and isinstance(value, list):
            # ["string", "null"] → string, nullable
            kinds = [k for k in value if k != "null"]
            out["type"] = kinds[0] if kinds else "string"
            if "null" in value:
                out["nullable"] = True
        else:
            out[key] = value
    return out
