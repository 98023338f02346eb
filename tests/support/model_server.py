"""A scripted model server on loopback, speaking the OpenAI, Anthropic and Gemini wire formats.

Tests choose what the "model" answers: `server.script(model, reply, reply, ...)` queues replies
for requests naming `model` (each test uses a model name of its own, so tests never read each
other's script). A reply is a tool call, an HTTP error, a slow answer, a malformed tool call, or
a function of the request it answers (so a scripted model can pick the element id the page
snapshot gave the button it wants). Every request is recorded, raw bytes included, so a test
can assert what a provider would have seen (a filled secret appears in none).

Routes (the base URLs to configure as `baseUrl`):
- `{url}/openai/v1`: POST /chat/completions, GET /models
- `{url}/anthropic/v1`: POST /messages, GET /models
- `{url}/google/v1beta`: POST /models/{model}:generateContent, GET /models
A request with no scripted reply left answers 500, so an unexpected extra request fails loudly.
GET .../models (the AI credential `test`) lists one model, or answers 401 quoting the key when
the key starts with `sk-bad`; each listing request is recorded in `listings`.

It listens on 127.0.0.1: an engine reaches it only when its ENGINE_EGRESS_ALLOW names
`host_port` (the engine's own calls obey the runtimes' egress policy).
"""

import json
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# A loopback address the session engine may call on any port (tests/conftest.py): servers a test
# starts to stand for an AI provider bind there (the engine's own calls obey its egress rules).
PROVIDERS_HOST = "127.0.0.7"

BASE_PATHS = {"openai": "/openai/v1", "anthropic": "/anthropic/v1", "google": "/google/v1beta"}


@dataclass
class Seen:
    """One request the server received."""

    provider: str
    path: str
    headers: dict[str, str]
    raw: bytes
    body: dict[str, Any]
    model: str
    system: str
    prompt: str
    tools: list[str]

    @property
    def api_key(self) -> str:
        return (
            self.headers.get("authorization", "").removeprefix("Bearer ")
            or self.headers.get("x-api-key", "")
            or self.headers.get("x-goog-api-key", "")
        )


Reply = dict[str, Any] | Callable[[Seen], dict[str, Any]]


def tool(name: str, **arguments: Any) -> dict[str, Any]:
    return {"kind": "tool", "name": name, "arguments": arguments}


def error(status: int, message: str = "scripted failure", retry_after: str | None = None) -> dict[str, Any]:
    return {"kind": "error", "status": status, "message": message, "retry_after": retry_after}


def output(value: dict[str, Any]) -> dict[str, Any]:
    """A structured answer (JSON in the message content), as browser-use asks OpenAI for one."""
    return {"kind": "output", "output": value}


def slow(seconds: float, then: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"kind": "slow", "seconds": seconds, "then": then or tool("done", success=True, answer="late")}


def malformed(name: str = "click") -> dict[str, Any]:
    """A tool call whose arguments are not a JSON object, in the provider's own way."""
    return {"kind": "malformed", "name": name}


def element_id(seen: Seen, role: str, name: str) -> str:
    """The snapshot id of the element `role "name"` in the prompt the model was shown."""
    match = re.search(rf'\[(e\d+)\] {re.escape(role)} "{re.escape(name)}"', seen.prompt)
    if match is None:
        raise AssertionError(f'no {role} "{name}" in the prompt:\n{seen.prompt}')
    return match.group(1)


@dataclass
class ModelServer:
    scripts: dict[str, deque[Reply]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    listings: list[dict[str, str]] = field(default_factory=list)  # GET .../models: {path, headers...}
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> "ModelServer":
        server = self

        class Handler(_Handler):
            model_server = server

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.host_port = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.url = f"http://{self.host_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def base_url(self, provider: str) -> str:
        return self.url + BASE_PATHS["openai" if provider == "openai-compatible" else provider]

    def script(self, model: str, *replies: Reply) -> None:
        with self.lock:
            self.scripts[model] = deque(replies)

    def seen(self, model: str) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if r.model == model]

    def left(self, model: str) -> int:
        with self.lock:
            return len(self.scripts.get(model, ()))

    def _next(self, seen: Seen) -> dict[str, Any]:
        with self.lock:
            self.requests.append(seen)
            queue = self.scripts.get(seen.model)
            reply = queue.popleft() if queue else None
        if reply is None:
            return error(500, f"no scripted reply left for model {seen.model!r}")
        return reply(seen) if callable(reply) else reply


class _Handler(BaseHTTPRequestHandler):
    model_server: ModelServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.model_server.lock:
            self.model_server.listings.append({"path": self.path, **headers})
        key = (
            headers.get("authorization", "").removeprefix("Bearer ")
            or headers.get("x-api-key", "")
            or headers.get("x-goog-api-key", "")
        )
        if not self.path.endswith("/models"):
            self._send(404, {"error": {"message": "no such route"}})
        elif key.startswith("sk-bad"):
            self._send(401, {"error": {"message": f"Incorrect API key provided: {key}"}})
        else:
            self._send(200, {"data": [{"id": "scripted"}], "models": [{"name": "models/scripted"}]})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw or b"{}")
        headers = {k.lower(): v for k, v in self.headers.items()}
        seen = self._parse(raw, body, headers)
        if seen is None:
            self._send(404, {"error": {"message": f"no such route {self.path}"}})
            return
        reply = self.model_server._next(seen)
        if reply["kind"] == "slow":
            if self.model_server.stopping.wait(reply["seconds"]):
                return
            reply = reply["then"]
        if reply["kind"] == "error":
            extra = {"Retry-After": reply["retry_after"]} if reply["retry_after"] is not None else {}
            self._send(reply["status"], {"error": {"message": reply["message"]}}, extra)
            return
        self._send(200, _encode(seen, reply))

    def _parse(self, raw: bytes, body: dict[str, Any], headers: dict[str, str]) -> Seen | None:
        path = self.path
        tools: list[str]
        if path == BASE_PATHS["openai"] + "/chat/completions":
            messages = body.get("messages") or []
            system = _text(next((m["content"] for m in messages if m.get("role") == "system"), ""))
            # every user message's text (browser-use sends the page, then nudges, as separate ones)
            prompt = "\n".join(_text(m["content"]) for m in messages if m.get("role") == "user")
            tools = [t["function"]["name"] for t in body.get("tools") or []]
            return Seen("openai", path, headers, raw, body, body.get("model", ""), system, prompt, tools)
        if path == BASE_PATHS["anthropic"] + "/messages":
            prompt = (body.get("messages") or [{}])[-1].get("content", "")
            tools = [t["name"] for t in body.get("tools") or []]
            return Seen(
                "anthropic",
                path,
                headers,
                raw,
                body,
                body.get("model", ""),
                body.get("system", ""),
                prompt,
                tools,
            )
        match = re.fullmatch(re.escape(BASE_PATHS["google"]) + r"/models/([^/:]+):generateContent", path)
        if match:
            system = "".join(
                p.get("text", "") for p in (body.get("systemInstruction") or {}).get("parts", [])
            )
            prompt = "".join(p.get("text", "") for p in (body.get("contents") or [{}])[-1].get("parts", []))
            tools = [d["name"] for t in body.get("tools") or [] for d in t.get("functionDeclarations", [])]
            return Seen("google", path, headers, raw, body, match.group(1), system, prompt, tools)
        return None

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the engine gave up on this request (a timeout or a cancel): nothing to answer


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list (browser-use sends images too)."""
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


def _structured(seen: Seen, reply: dict[str, Any]) -> dict[str, Any]:
    """An answer as JSON text: what a library asking for structured output (OpenAI's
    `response_format: json_schema`, as browser-use does) reads from the message content."""
    usage_in, usage_out = max(1, len(seen.prompt) // 4), 30
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 0,
        "model": seen.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": json.dumps(reply["output"])},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": usage_in,
            "completion_tokens": usage_out,
            "total_tokens": usage_in + usage_out,
        },
    }


def _encode(seen: Seen, reply: dict[str, Any]) -> dict[str, Any]:
    """A tool call (or a malformed one) in the wire format of the provider that was asked."""
    if reply["kind"] == "output":
        return _structured(seen, reply)
    name = reply["name"]
    bad = reply["kind"] == "malformed"
    arguments = reply.get("arguments", {})
    usage_in, usage_out = max(1, len(seen.prompt) // 4), 12
    if seen.provider == "anthropic":
        return {
            "id": "msg_scripted",
            "type": "message",
            "role": "assistant",
            "model": seen.model,
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": name, "input": "{oops" if bad else arguments}
            ],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": usage_in, "output_tokens": usage_out},
        }
    if seen.provider == "google":
        return {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"functionCall": {"name": name, "args": "{oops" if bad else arguments}}],
                    },
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {"promptTokenCount": usage_in, "candidatesTokenCount": usage_out},
        }
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "model": seen.model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {
                                "name": name,
                                "arguments": "{oops" if bad else json.dumps(arguments),
                            },
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": usage_in,
            "completion_tokens": usage_out,
            "total_tokens": usage_in + usage_out,
        },
    }
