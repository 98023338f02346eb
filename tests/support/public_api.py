"""A stand-in for the hosted BCTRL API, built from the public reference alone, served over real HTTP.

It offers only the rows the reference marks public, shaped as the public service answers them,
which is not how this project's engine answers:
- errors are flat: `{"error": "sentence", "code", "requestId", "details"}`; a route it does not
  offer is 404 `not_found` (a known path with a method it does not offer: 405), whatever it is;
- lists are whole: `{"workspaces": [...]}`, no `nextCursor`; `q`, `status`, `limit`, `cursor`
  and every other query parameter are ignored;
- creates take no `Idempotency-Key` (a repeated create makes a second thing); execute honours
  the body's `idempotencyKey`, as the reference says;
- event ids are UUIDs, without `sequence`; positions are opaque cursors: the list takes `after`
  and answers `nextCursor` only when its page is full; `events/wait` answers `cursor`, and
  refuses fields it does not know (`keepAlive`) with a 400 of its own wording;
- the updates stream (`GET /v1/updates/stream`) sends `event:`/`data:` without `id:` lines, and
  ends after `stream_seconds`; there is no update log and no OpenAPI document.

Tests make it slow (`slow("POST", "/v1/workspaces", 3)`: the work itself takes that long), make
runtimes tick (`ticking`: an event every so often), and read what it was asked (`calls`,
`count`, `stream_opens`). Each request is handled on a thread of its own; waits and streams
block only theirs.
"""

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

KEY = "bctrl_public_double_key"
UUID = r"[0-9a-f-]{36}"
ALIAS = r"[a-z][a-z0-9-]*"
WS = rf"/v1/workspaces/(?P<ws>{UUID})"
RT = rf"{WS}/runtimes/(?P<alias>{ALIAS})"
OP = rf"/v1/operations/(?P<op>{UUID})"
CRED = r"/v1/ai-credentials/(?P<cred>[A-Za-z][A-Za-z0-9_-]*)"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up on a slow or streamed answer is expected here


class Refused(Exception):
    """An error the double answers with its flat body."""

    def __init__(self, status: int, code: str, error: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(error)
        self.status, self.code, self.error, self.details = status, code, error, details


class Answer:
    def __init__(self, status: int, body: Any = None, stream: Callable[[Any], None] | None = None) -> None:
        self.status, self.body, self.stream = status, body, stream


class PublicApi:
    """The double's state and routes; `start()` serves it on 127.0.0.1 (its `url` ends in /v1)."""

    def __init__(self, stream_seconds: float = 30.0) -> None:
        self.lock = threading.Condition()
        self.calls: list[str] = []
        self.stream_opens: list[float] = []
        self.stream_seconds = stream_seconds
        self.delays: dict[tuple[str, str], float] = {}
        self.workspaces: dict[str, dict[str, Any]] = {}
        self.runtimes: dict[tuple[str, str], dict[str, Any]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}  # runtime id → its events, in order
        self.operations: dict[str, dict[str, Any]] = {}
        self.artifacts: list[dict[str, Any]] = []
        self.credentials: dict[str, dict[str, Any]] = {}
        self.executed: dict[str, dict[str, Any]] = {}  # idempotencyKey → the first result
        self.updates: list[dict[str, Any]] = []
        self.ticking: dict[str, float] = {}  # runtime id → seconds between its ticks
        self.closed = False
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Answer]]] = []
        self._route_table()
        self.server = _QuietServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.threads = [threading.Thread(target=self.server.serve_forever, daemon=True)]
        self.threads.append(threading.Thread(target=self._tick, daemon=True))

    # --- what tests use ------------------------------------------------------------------------

    def start(self) -> "PublicApi":
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        with self.lock:
            self.closed = True
            self.lock.notify_all()
        self.server.shutdown()
        self.server.server_close()

    def slow(self, method: str, path: str, seconds: float) -> None:
        """Calls of `method` to exactly `path` take `seconds` more, before the work is done."""
        self.delays[(method, path)] = seconds

    def count(self, method: str, pattern: str, since: int = 0) -> int:
        """Calls made (from the `since`-th on) whose "METHOD /path" matches `pattern`."""
        regex = re.compile(pattern)
        with self.lock:
            return sum(
                1 for call in self.calls[since:] if call.startswith(method + " ") and regex.search(call)
            )

    def add_workspace(self, name: str) -> dict[str, Any]:
        with self.lock:
            return self._workspace(name)

    def add_runtime(self, workspace_id: str, alias: str, tick_seconds: float | None = None) -> dict[str, Any]:
        with self.lock:
            runtime = self._runtime(workspace_id, alias)
            if tick_seconds:
                self.ticking[runtime["id"]] = tick_seconds
            return runtime

    def add_operation(self, workspace_id: str, alias: str) -> dict[str, Any]:
        with self.lock:
            operation = {
                "id": str(uuid.uuid4()),
                "workspaceId": workspace_id,
                "runtime": alias,
                "call": "browserUse.agent.execute",
                "status": "running",
                "progress": {
                    "step": 1,
                    "totalSteps": 4,
                    "currentCall": None,
                    "lastEventType": None,
                    "message": "",
                },
                "result": None,
                "error": None,
                "createdAt": now(),
                "startedAt": now(),
                "finishedAt": None,
            }
            self.operations[operation["id"]] = operation
            return operation

    def add_credential(self, credential_id: str, provider: str) -> dict[str, Any]:
        with self.lock:
            return self._credential({"id": credential_id, "provider": provider, "label": f"{provider} key"})

    def publish(self, update_type: str, workspace_id: str | None, data: dict[str, Any]) -> None:
        """An update on the organisation's stream (no id: the public stream numbers none)."""
        with self.lock:
            self.updates.append(
                {"type": update_type, "createdAt": now(), "workspaceId": workspace_id, "data": data}
            )
            self.lock.notify_all()

    # --- the data ------------------------------------------------------------------------------

    def _workspace(self, name: str) -> dict[str, Any]:
        workspace = {
            "id": str(uuid.uuid4()),
            "name": name,
            "mounts": {},
            "runtimeCount": 0,
            "activeRuntimeCount": 0,
            "createdAt": now(),
            "updatedAt": now(),
        }
        self.workspaces[workspace["id"]] = workspace
        self.updates.append(
            {
                "type": "workspace.created",
                "createdAt": now(),
                "workspaceId": workspace["id"],
                "data": {"id": workspace["id"], "name": name},
            }
        )
        self.lock.notify_all()
        return workspace

    def _runtime(self, workspace_id: str, alias: str, driver: str = "playwright") -> dict[str, Any]:
        runtime = {
            "id": str(uuid.uuid4()),
            "alias": alias,
            "workspaceId": workspace_id,
            "kind": "browser",
            "driver": driver,
            "status": "active",
            "summary": {
                "browserRunning": True,
                "currentDriver": driver,
                "defaultContextId": "ctx-1",
                "defaultPageId": "page-1",
                "launchMode": "ephemeral",
                "profileId": None,
                "storageWorkspace": None,
            },
            "config": {},
            "createdAt": now(),
            "startedAt": now(),
            "stoppedAt": None,
            "failure": None,
        }
        self.runtimes[(workspace_id, alias)] = runtime
        self.events[runtime["id"]] = []
        self._emit(runtime, "runtime.started", {"alias": alias})
        self._emit(runtime, "page.created", {"pageId": "page-1"})
        self.updates.append(
            {
                "type": "runtime.started",
                "createdAt": now(),
                "workspaceId": workspace_id,
                "data": {"alias": alias, "runtimeId": runtime["id"]},
            }
        )
        return runtime

    def _credential(self, body: dict[str, Any]) -> dict[str, Any]:
        credential = {
            "id": body["id"],
            "provider": body["provider"],
            "label": body.get("label") or body["id"],
            "enabled": body.get("enabled", True),
            "baseUrl": body.get("baseUrl"),
            "defaultModel": body.get("defaultModel"),
            "createdAt": now(),
            "updatedAt": now(),
        }
        self.credentials[credential["id"]] = credential
        return credential

    def _emit(self, runtime: dict[str, Any], event_type: str, data: dict[str, Any]) -> None:
        self.events[runtime["id"]].append(
            {
                "id": str(uuid.uuid4()),
                "eventType": event_type,
                "eventData": data,
                "createdAt": now(),
                "runtime": runtime["alias"],
                "runtimeKind": "browser",
                "workspaceId": runtime["workspaceId"],
                "operationId": None,
            }
        )
        self.lock.notify_all()

    def _tick(self) -> None:
        due: dict[str, float] = {}
        while not self.closed:
            time.sleep(0.05)
            with self.lock:
                for runtime in self.runtimes.values():
                    every = self.ticking.get(runtime["id"])
                    if (
                        every
                        and runtime["status"] == "active"
                        and time.monotonic() >= due.get(runtime["id"], 0)
                    ):
                        due[runtime["id"]] = time.monotonic() + every
                        n = len(self.events[runtime["id"]])
                        self._emit(
                            runtime,
                            "console.message",
                            {"level": "log", "text": f"tick {n}", "pageId": "page-1"},
                        )

    # --- cursors: opaque to the caller ---------------------------------------------------------

    @staticmethod
    def _cursor(runtime_id: str, index: int) -> str:
        return base64.urlsafe_b64encode(f"{runtime_id}:{index}".encode()).decode().rstrip("=")

    def _position(self, runtime_id: str, after: Any) -> int:
        """The index of the event a cursor names (-1: before the first)."""
        if after in (None, ""):
            return -1
        try:
            raw = base64.urlsafe_b64decode(str(after) + "=" * (-len(str(after)) % 4)).decode()
            owner, index = raw.rsplit(":", 1)
            if owner == runtime_id:
                return int(index)
        except (ValueError, UnicodeDecodeError):
            pass
        raise Refused(400, "invalid_cursor", "That cursor was not issued for this runtime's events.")

    # --- the routes ----------------------------------------------------------------------------

    def _route_table(self) -> None:
        add = self.routes.append
        add(("GET", re.compile(r"/v1/workspaces"), self._list_workspaces))
        add(("POST", re.compile(r"/v1/workspaces"), self._create_workspace))
        add(("GET", re.compile(WS), self._get_workspace))
        add(("GET", re.compile(WS + "/state"), self._state))
        add(("GET", re.compile(WS + "/help"), self._help))
        add(("POST", re.compile(WS + "/execute"), self._execute))
        add(("GET", re.compile(WS + "/operations"), self._workspace_operations))
        add(("GET", re.compile(WS + "/artifacts"), self._artifacts))
        add(("GET", re.compile(WS + "/runtimes"), self._list_runtimes))
        add(("POST", re.compile(WS + "/runtimes"), self._create_runtime))
        add(("GET", re.compile(RT), lambda m, q, b: Answer(200, self._find_runtime(m))))
        add(("POST", re.compile(RT + "/stop"), self._stop))
        add(("GET", re.compile(RT + "/events"), self._list_events))
        add(("POST", re.compile(RT + "/events/wait"), self._wait))
        add(("POST", re.compile(RT + "/embed/live"), self._embed))
        add(("POST", re.compile(RT + "/embed/recording"), self._embed_recording))
        add(("GET", re.compile(OP), lambda m, q, b: Answer(200, self._find_operation(m))))
        add(
            (
                "POST",
                re.compile(OP + "/wait"),
                lambda m, q, b: Answer(200, {"operation": self._find_operation(m), "timedOut": True}),
            )
        )
        add(("POST", re.compile(OP + "/cancel"), self._cancel))
        add(
            (
                "GET",
                re.compile(r"/v1/ai-credentials"),
                lambda m, q, b: Answer(200, {"credentials": list(self.credentials.values())}),
            )
        )
        add(("POST", re.compile(r"/v1/ai-credentials"), self._create_credential))
        add(("GET", re.compile(CRED), lambda m, q, b: Answer(200, self._find_credential(m))))
        add(("PATCH", re.compile(CRED), self._patch_credential))
        add(("DELETE", re.compile(CRED), self._delete_credential))
        add(
            (
                "POST",
                re.compile(CRED + "/test"),
                lambda m, q, b: Answer(
                    200,
                    {
                        "ok": True,
                        "message": "The provider answered.",
                        "provider": self._find_credential(m)["provider"],
                    },
                ),
            )
        )
        add(("GET", re.compile(r"/v1/updates/stream"), lambda m, q, b: Answer(200, stream=self._stream)))

    def _answer(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Answer:
        known_path = False
        for route_method, pattern, handler in self.routes:
            match = pattern.fullmatch(path)
            if match:
                known_path = True
                if route_method == method:
                    return handler(match, query, body)
        if known_path:
            raise Refused(405, "method_not_allowed", f"{method} is not supported on {path}.")
        raise Refused(404, "not_found", "Not found.")

    def _counted(self, workspace: dict[str, Any]) -> dict[str, Any]:
        runtimes = self._runtimes_of(workspace["id"])
        active = sum(r["status"] == "active" for r in runtimes)
        return {**workspace, "runtimeCount": len(runtimes), "activeRuntimeCount": active}

    def _list_workspaces(self, match: re.Match[str], query: Any, body: Any) -> Answer:
        return Answer(200, {"workspaces": [self._counted(w) for w in self.workspaces.values()]})

    def _create_workspace(self, match: re.Match[str], query: Any, body: Any) -> Answer:
        name = (body or {}).get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise Refused(
                400,
                "validation_error",
                "A workspace needs a name.",
                {"fields": [{"path": "name", "message": "Required."}]},
            )
        return Answer(201, self._counted(self._workspace(name)))

    def _find_workspace(self, match: re.Match[str]) -> dict[str, Any]:
        workspace = self.workspaces.get(match["ws"])
        if workspace is None:
            raise Refused(404, "workspace_not_found", "Workspace not found.")
        return workspace

    def _get_workspace(self, match: re.Match[str], query: Any, body: Any) -> Answer:
        return Answer(200, self._counted(self._find_workspace(match)))

    def _state(self, match: re.Match[str], query: Any, body: Any) -> Answer:
        workspace = self._find_workspace(match)
        runtimes = [
            {**r, "bindings": [{"alias": "page", "id": "page-1", "type": "page"}]}
            for r in self._runtimes_of(workspace["id"])
        ]
        operations = [
            o
            for o in self.operations.values()
            if o["workspaceId"] == workspace["id"] and o["status"] == "running"
        ]
        return Answer(
            200, {"workspace": self._counted(workspace), "runtimes": runtimes, "activeOperations": operations}
        )

    def _help(self, match: re.Match[str], query: Any, body: Any) -> Answer:
        self._find_workspace(match)
        calls = [
            {
                "name": "page.goto",
                "description": "Go to a URL.",
                "args": [{"name": "url", "type": "string", "required": True, "description": ""}],
                "result": "null",
                "ref": "page",
                "longRunning": False,
                "drivers": ["playwright"],
            },
            {
                "name": "page.title",
                "description": "The page's title.",
                "args": [],
                "result": "string",
                "ref": "page",
                "longRunning": False,
                "drivers": ["playwright"],
            },
        ]
        return Answer(200, {"runtime": None, "driver": None, "calls": calls})

    def _execute(self, match: re.Match[str], query: Any, body: Any) -> Answer:
        self._find_workspace(match)
        body = body if isinstance(body, dict) else {}
        key = body.get("idempotencyKey")
        if key and key in self.executed:  # the public reference: the same key answers the first result
            return Answer(200, self.executed[key])
        runtime = self.runtimes.get((match["ws"], body.get("runtime", "")))
        if runtime is None or runtime["status"] != "active":
            raise Refused(409, "runtime_not_active", "That runtime is not running.")
        steps = []
        for index, step in enumerate(body.get("steps") or []):
            call = step.get("call", "")
            self._emit(runtime, "step.started", {"call": call, "index": index})
            result = "Example" if call == "page.title" else None
            self._emit(runtime, "step.finished", {"call": call, "index": index, "ok": True, "durationMs": 3})
            steps.append(
                {"index": index, "call": call, "ok": True, "result": result, "error": None, "durationMs": 3}
            )
        result = {"mode": "fail-fast", "status": "succeeded", "steps": steps, "operation": None}
        if key:
            self.executed[key] = result
        return Answer(200, result)

    def _workspace_operations(self, match: re.Match[str], query: Any, body: Any) -> Answer:
        self._find_workspace(match)
        return Answer(
            200, {"operations": [o for o in self.operations.values() if o["workspaceId"] == match["ws"]]}
        )

    def _artifacts(self, match: re.Match[str], query: Any, body: Any) -> Answer:
        self._find_workspace(match)
        return Answer(200, {"artifacts": [a for a in self.artifacts if a["workspaceId"] == match["ws"]]})

    def _runtimes_of(self, workspace_id: str) -> list[dict[str, Any]]:
        return [r for (ws, _), r in self.runtimes.items() if ws == workspace_id]

    def _list_runtimes(self, match: re.Match[str], query: Any, body: Any) -> Answer:
        self._find_workspace(match)
        return Answer(200, {"runtimes": self._runtimes_of(match["ws"])})

    def _create_runtime(self, match: re.Match[str], query: Any, body: Any) -> Answer:
        self._find_workspace(match)
        body = body if isinstance(body, dict) else {}
        alias = body.get("alias")
        if not isinstance(alias, str) or not re.fullmatch(r"[a-z][a-z0-9-]{0,62}", alias):
            raise Refused(
                400,
                "validation_error",
                "The alias is not valid.",
                {"fields": [{"path": "alias", "message": "Invalid."}]},
            )
        existing = self.runtimes.get((match["ws"], alias))
        if existing and existing["status"] == "active":
            raise Refused(409, "runtime_alias_in_use", f"A runtime called {alias} is running.")
        return Answer(200, self._runtime(match["ws"], alias, body.get("driver", "playwright")))

    def _find_runtime(self, match: re.Match[str]) -> dict[str, Any]:
        runtime = self.runtimes.get((match["ws"], match["alias"]))
        if runtime is None:
            raise Refused(404, "runtime_not_found", "Runtime not found.")
        return runtime

    def _stop(self, match: re.Match[str], query: Any, body: Any) -> Answer:
        runtime = self._find_runtime(match)
        runtime.update(status="stopped", stoppedAt=now())
        self._emit(runtime, "runtime.stopped", {"alias": runtime["alias"]})
        return Answer(200, runtime)

    def _list_events(self, match: re.Match[str], query: dict[str, list[str]], body: Any) -> Answer:
        runtime = self._find_runtime(match)
        events = self.events[runtime["id"]]
        start = self._position(runtime["id"], (query.get("after") or [""])[0]) + 1
        limit = min(500, max(1, int((query.get("limit") or ["100"])[0] or 100)))
        page = events[start : start + limit]
        full = len(page) == limit
        return Answer(
            200,
            {"events": page, "nextCursor": self._cursor(runtime["id"], start + limit - 1) if full else None},
        )

    def _wait(self, match: re.Match[str], query: Any, body: Any) -> Answer:
        body = body if isinstance(body, dict) else {}
        if set(body) - {"eventTypes", "after", "pageId", "contextId", "timeoutMs"}:
            raise Refused(400, "validation_error", "The request body is not valid.")  # not saying which field
        runtime = self._find_runtime(match)
        position = self._position(runtime["id"], body.get("after"))
        deadline = time.monotonic() + min(120_000, int(body.get("timeoutMs") or 30_000)) / 1000
        events = self.events[runtime["id"]]
        while len(events) <= position + 1 and not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return Answer(
                    200, {"event": None, "cursor": self._cursor(runtime["id"], position), "timedOut": True}
                )
            self.lock.wait(remaining)
        return Answer(
            200,
            {
                "event": events[position + 1],
                "cursor": self._cursor(runtime["id"], position + 1),
                "timedOut": False,
            },
        )

    def _embed(self, match: re.Match[str], query: Any, body: Any) -> Answer:
        runtime = self._find_runtime(match)
        token = uuid.uuid4().hex
        origin = self.url.removesuffix("/v1")
        return Answer(
            200,
            {
                "iframeUrl": f"{origin}/embed/live/{runtime['id']}?token={token}",
                "token": token,
                "expiresAt": now(),
            },
        )

    def _embed_recording(self, match: re.Match[str], query: Any, body: Any) -> Answer:
        runtime = self._find_runtime(match)
        token = uuid.uuid4().hex
        origin = self.url.removesuffix("/v1")
        return Answer(
            200,
            {
                "iframeUrl": f"{origin}/embed/recording/{runtime['id']}?token={token}",
                "token": token,
                "expiresAt": now(),
                "status": "ready",
                "durationMs": 1000,
                "tabIds": ["page-1"],
            },
        )

    def _find_operation(self, match: re.Match[str]) -> dict[str, Any]:
        operation = self.operations.get(match["op"])
        if operation is None:
            raise Refused(404, "operation_not_found", "Operation not found.")
        return operation

    def _cancel(self, match: re.Match[str], query: Any, body: Any) -> Answer:
        operation = self._find_operation(match)
        operation.update(status="cancelled", finishedAt=now())
        return Answer(200, operation)

    def _find_credential(self, match: re.Match[str]) -> dict[str, Any]:
        credential = self.credentials.get(match["cred"])
        if credential is None:
            raise Refused(404, "ai_credential_not_found", "AI credential not found.")
        return credential

    def _create_credential(self, match: re.Match[str], query: Any, body: Any) -> Answer:
        body = body if isinstance(body, dict) else {}
        missing = [name for name in ("id", "provider", "label", "apiKey") if not body.get(name)]
        if missing:
            raise Refused(
                400,
                "validation_error",
                "Missing fields.",
                {"fields": [{"path": n, "message": "Required."} for n in missing]},
            )
        if body["id"] in self.credentials:
            raise Refused(409, "ai_credential_exists", "That id is taken.")
        return Answer(200, self._credential(body))

    def _patch_credential(self, match: re.Match[str], query: Any, body: Any) -> Answer:
        credential = self._find_credential(match)
        credential.update(
            {k: v for k, v in (body or {}).items() if k in ("label", "enabled", "baseUrl", "defaultModel")}
        )
        return Answer(200, credential)

    def _delete_credential(self, match: re.Match[str], query: Any, body: Any) -> Answer:
        self.credentials.pop(self._find_credential(match)["id"])
        return Answer(204)

    def _stream(self, write: Callable[[bytes], None]) -> None:
        """The updates from now on, without ids, until `stream_seconds` have passed."""
        with self.lock:
            self.stream_opens.append(time.monotonic())
            sent = len(self.updates)
        ends = time.monotonic() + self.stream_seconds
        write(b": connected\n\n")
        while time.monotonic() < ends and not self.closed:
            with self.lock:
                self.lock.wait(min(1.0, max(0.0, ends - time.monotonic())))
                fresh, sent = self.updates[sent:], len(self.updates)
            for update in fresh:
                write(f"event: {update['type']}\ndata: {json.dumps(update)}\n\n".encode())
            write(b": keep-alive\n\n")

    # --- HTTP ----------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with api.lock:
                    api.calls.append(f"{method} {parts.path}?{parts.query}")
                delay = api.delays.get((method, parts.path), 0.0)
                if delay:
                    time.sleep(delay)
                request_id = f"req_{uuid.uuid4().hex[:12]}"
                try:
                    if self.headers.get("Authorization") != f"Bearer {KEY}":
                        raise Refused(401, "unauthorized", "A valid API key is required.")
                    try:
                        body = json.loads(raw) if raw else None
                    except ValueError as exc:
                        raise Refused(400, "invalid_json", "The body is not JSON.") from exc
                    with api.lock:
                        answer = api._answer(method, parts.path, parse_qs(parts.query), body)
                except Refused as refused:
                    flat = {
                        "error": refused.error,
                        "code": refused.code,
                        "requestId": request_id,
                        "details": refused.details,
                    }
                    answer = Answer(refused.status, flat)
                if answer.stream is not None:
                    self._stream(answer.stream, request_id)
                    return
                payload = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("X-Request-Id", request_id)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except OSError:  # the console gave up waiting (a slow answer on purpose)
                    self.close_connection = True

            def _stream(self, produce: Callable[[Callable[[bytes], None]], None], request_id: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("X-Request-Id", request_id)
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True

                def write(chunk: bytes) -> None:
                    self.wfile.write(chunk)
                    self.wfile.flush()

                try:
                    produce(write)
                except OSError:  # the reader went away
                    return

        return Handler
