"""The API client: real answers from the engine; httpx.MockTransport only for faults it cannot produce."""

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from dashboard.bctrl.client import BctrlClient
from dashboard.bctrl.errors import InvalidRequest, NotFound, RateLimited, Unauthorized, Unavailable
from tests.console.faults import Faults
from tests.support.engine_process import EngineProcess, eventually, free_port
from tests.support.in_flight import HeldUpload


@pytest.fixture
async def client(engine: EngineProcess):
    client = BctrlClient(f"{engine.url}/v1", engine.keys["admin"], retries=1, backoff=0)
    yield client
    await client.aclose()


def _mocked(handler, retries: int = 2) -> BctrlClient:
    return BctrlClient(
        "http://bctrl.test/v1", "k", transport=httpx.MockTransport(handler), retries=retries, backoff=0
    )


# --- the real engine --------------------------------------------------------------------------


async def test_it_reads_a_list(client: BctrlClient) -> None:
    body = await client.get("workspaces", params={"limit": 1, "q": None})
    assert "workspaces" in body and "nextCursor" in body


async def test_a_missing_thing_is_not_found_with_a_request_id(client: BctrlClient) -> None:
    with pytest.raises(NotFound) as caught:
        await client.get(f"workspaces/{uuid.uuid4()}")
    assert caught.value.code == "workspace.not_found"
    assert caught.value.request_id and not caught.value.transient
    assert "no longer exists" in caught.value.user_message


async def test_a_wrong_key_is_unauthorized(engine: EngineProcess) -> None:
    client = BctrlClient(f"{engine.url}/v1", "bctrl_not_a_key", retries=0)
    with pytest.raises(Unauthorized) as caught:
        await client.get("auth/whoami")
    await client.aclose()
    assert caught.value.code == "auth.required" and "BCTRL_API_KEY" in caught.value.user_message


async def test_bad_input_lists_the_fields(client: BctrlClient) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await client.create("workspaces", {"name": ""})
    assert "name" in caught.value.field_errors


async def test_a_repeated_create_makes_one_thing(client: BctrlClient) -> None:
    name, key = f"client-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    first = await client.create("workspaces", {"name": name}, idempotency_key=key)
    second = await client.create("workspaces", {"name": name}, idempotency_key=key)
    assert first["id"] == second["id"]


async def test_an_engine_that_is_not_there_is_unreachable() -> None:
    client = BctrlClient(f"http://127.0.0.1:{free_port()}/v1", "k", retries=0)
    with pytest.raises(Unavailable) as caught:
        await client.get("workspaces")
    await client.aclose()
    assert caught.value.status == 0 and caught.value.transient
    assert "could not be reached" in caught.value.user_message


# --- faults -----------------------------------------------------------------------------------


async def test_a_timeout_is_transient_and_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("slow", request=request)

    client = _mocked(handler)
    with pytest.raises(Unavailable) as caught:
        await client.get("workspaces")
    assert caught.value.code == "request.timeout" and "did not answer in time" in caught.value.user_message
    assert len(calls) == 3


async def test_a_refused_connection_is_retried_then_reported() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("Connection refused", request=request)

    with pytest.raises(Unavailable) as caught:
        await _mocked(handler).get("workspaces")
    assert caught.value.code == "api.unreachable" and len(calls) == 3


async def test_a_proxy_502_page_becomes_a_generic_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, html="<h1>Bad Gateway</h1>", headers={"X-Request-Id": "req_proxy"})

    with pytest.raises(Unavailable) as caught:
        await _mocked(handler, retries=0).get("workspaces")
    assert caught.value.status == 502 and caught.value.code == "server.error"
    assert caught.value.request_id == "req_proxy" and "The API failed" in caught.value.user_message


async def test_a_502_then_success_is_retried_for_a_get() -> None:
    answers = iter([httpx.Response(502), httpx.Response(200, json={"workspaces": [], "nextCursor": None})])
    body = await _mocked(lambda request: next(answers)).get("workspaces")
    assert body["workspaces"] == []


async def test_a_429_waits_for_retry_after_and_succeeds() -> None:
    sent: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(time.monotonic())
        if len(sent) == 1:
            return httpx.Response(429, headers={"Retry-After": "1"}, json={"error": {"code": "rate_limited"}})
        return httpx.Response(200, json={"ok": True})

    assert await _mocked(handler).get("auth/whoami") == {"ok": True}
    # a lower bound only: the client may not come back before the API said it could
    assert len(sent) == 2 and sent[1] - sent[0] >= 1.0


async def test_a_429_that_persists_is_rate_limited() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "0"}, json={"error": {"code": "rate_limited"}})

    with pytest.raises(RateLimited) as caught:
        await _mocked(handler, retries=1).get("workspaces")
    # no details.limit: a rate or a capacity, the message cannot tell which (errors.py, since team limits)
    assert caught.value.retry_after == 0 and "wait a moment and retry" in caught.value.user_message


@pytest.fixture(scope="module")
def busy_engine(tmp_path_factory: pytest.TempPathFactory):
    """An engine that serves one request at a time, so a test can make it busy."""
    process = EngineProcess(
        tmp_path_factory.mktemp("busy-engine"),
        # HeldUpload holds its body back on purpose: no pace floor here
        {
            "ENGINE_MAX_REQUESTS_IN_FLIGHT": "1",
            "ENGINE_WARM_POOL_SIZE": "0",
            "ENGINE_BODY_MIN_BYTES_PER_SECOND": "0",
        },
    ).start()
    yield process
    process.stop()


async def test_a_busy_engine_is_waited_for_even_for_a_post(
    busy_engine: EngineProcess, caplog: pytest.LogCaptureFixture
) -> None:
    held = HeldUpload(busy_engine)  # the engine's one request slot, until the timer lets it go
    assert await asyncio.to_thread(
        eventually,
        lambda: httpx.get(f"{busy_engine.url}/v1/limits", headers=_bearer(busy_engine)).status_code == 503,
    )
    releaser = threading.Timer(0.5, held.finish)
    releaser.start()
    client = BctrlClient(f"{busy_engine.url}/v1", busy_engine.keys["admin"], retries=3, backoff=0)
    try:
        with caplog.at_level(logging.INFO, logger="dashboard.bctrl"):
            # No Idempotency-Key: only the 503 server.busy (nothing of it was done) makes it safe.
            created = await client.post("workspaces", json={"name": "after the rush"})
    finally:
        await client.aclose()
        releaser.join()
    assert created["name"] == "after the rush"
    assert any("after server.busy" in record.getMessage() for record in caplog.records)


def _bearer(engine: EngineProcess) -> dict[str, str]:
    return {"Authorization": f"Bearer {engine.keys['read']}"}


async def test_a_post_without_idempotency_key_is_not_repeated() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(502)

    with pytest.raises(Unavailable):
        await _mocked(handler).post("operations/x/cancel")
    assert len(calls) == 1


def _document(*, honours_key: bool) -> dict:
    """An API's OpenAPI document with one create, declaring Idempotency-Key or not."""
    header = [{"name": "Idempotency-Key", "in": "header", "required": False}] if honours_key else []
    return {"openapi": "3.1.0", "paths": {"/v1/workspaces": {"post": {"parameters": header}}}}


async def test_a_create_is_retried_with_the_same_key_where_the_api_honours_it() -> None:
    keys = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/openapi.json":
            return httpx.Response(200, json=_document(honours_key=True))
        keys.append(request.headers["Idempotency-Key"])
        return httpx.Response(503) if len(keys) == 1 else httpx.Response(201, json={"id": "w1"})

    assert await _mocked(handler).create("workspaces", {"name": "n"}) == {"id": "w1"}
    assert len(keys) == 2 and keys[0] == keys[1]


@pytest.mark.parametrize("document", [None, _document(honours_key=False)], ids=["no document", "no header"])
async def test_a_create_is_sent_once_where_the_api_is_not_known_to_honour_the_key(
    document: dict | None,
) -> None:
    posts = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/openapi.json":
            return httpx.Response(200, json=document) if document else httpx.Response(404)
        posts.append(request)
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(Unavailable) as caught:
        await _mocked(handler).create("workspaces", {"name": "n"})
    assert len(posts) == 1 and caught.value.maybe_done  # it may have been made: the caller must look


async def test_a_create_refused_before_it_was_sent_is_not_maybe_done() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(Unavailable) as caught:
        await _mocked(handler, retries=0).create("workspaces", {"name": "n"})
    assert not caught.value.maybe_done


async def test_an_execute_is_sent_again_with_its_body_s_key() -> None:
    bodies = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        if len(bodies) == 1:
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200, json={"mode": "fail-fast", "status": "succeeded", "steps": []})

    from dashboard.bctrl import client as client_module
    from dashboard.bctrl import execute as execute_api

    client_module.use_transport(httpx.MockTransport(handler))
    try:
        result = await execute_api.execute(str(uuid.uuid4()), "main", [{"call": "page.url"}])
    finally:
        client_module.use_transport(None)
    assert result.status == "succeeded"
    assert len(bodies) == 2 and bodies[0] == bodies[1] and b'"idempotencyKey"' in bodies[0]


async def test_it_reads_the_public_api_s_flat_error_body() -> None:
    body = {"error": "Workspace name is required.", "code": "validation_error", "requestId": "req_flat"}
    body["details"] = {"fields": [{"path": "name", "message": "Required."}]}
    with pytest.raises(InvalidRequest) as caught:
        await _mocked(lambda request: httpx.Response(400, json=body)).create("workspaces", {})
    error = caught.value
    assert (error.code, error.message, error.request_id) == (
        "validation_error",
        "Workspace name is required.",
        "req_flat",
    )
    assert error.field_errors == {"name": "Required."}


@pytest.mark.parametrize(
    ("path", "document", "not_offered"),
    [
        ("browser-profiles/p1", None, True),  # ours, and the API has no document: not offered
        ("browser-profiles/p1", {"paths": {"/v1/browser-profiles/{profileId}": {"get": {}}}}, False),
        ("browser-profiles/p1", {"paths": {"/v1/workspaces": {"get": {}}}}, True),
        ("workspaces/w1", None, False),  # a public route's 404: the thing is gone
    ],
)
async def test_a_404_is_not_offered_only_on_a_route_of_ours_the_api_does_not_list(
    path: str, document: dict | None, not_offered: bool
) -> None:
    flat = {"error": "Not found.", "code": "not_found", "requestId": "req_404"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/openapi.json":
            return httpx.Response(200, json=document) if document else httpx.Response(404, json=flat)
        return httpx.Response(404, json=flat)

    with pytest.raises(NotFound) as caught:
        await _mocked(handler).get(path)
    assert caught.value.not_offered is not_offered
    assert ("no longer exists" in caught.value.user_message) is not not_offered


async def test_it_sends_the_key_as_a_bearer_token() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(200, json={})

    await _mocked(handler).get("auth/whoami")
    assert seen == ["Bearer k"]


async def test_a_stream_to_an_unreachable_api_is_a_bctrl_error() -> None:
    from dashboard.bctrl.client import BctrlClient
    from dashboard.bctrl.errors import Unavailable
    from tests.support.engine_process import free_port

    client = BctrlClient(f"http://127.0.0.1:{free_port()}/v1", "key", retries=0)
    try:
        with pytest.raises(Unavailable) as caught:
            async with client.stream("GET", "artifacts/x/content"):
                pass
        assert caught.value.status == 0 and caught.value.transient
    finally:
        await client.aclose()


# --- calls in flight --------------------------------------------------------------------------


class HeldCalls:
    """A transport that holds every call until `release` is set, counting how many it holds at once."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.held = 0
        self.most_held = 0
        self.calls: list[str] = []  # every call that reached it: method, path and query
        self.arrived = asyncio.Event()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")
        self.held += 1
        self.most_held = max(self.most_held, self.held)
        self.arrived.set()
        try:
            if request.url.path != "/v1/runtimes/events/wait":
                await self.release.wait()
            return httpx.Response(200, json={"path": request.url.path})
        finally:
            self.held -= 1


def _gated(transport: HeldCalls, max_calls_in_flight: int, timeout: float = 15.0) -> BctrlClient:
    return BctrlClient(
        "http://bctrl.test/v1",
        "k",
        transport=httpx.MockTransport(transport),
        retries=0,
        timeout=timeout,
        max_calls_in_flight=max_calls_in_flight,
    )


async def test_calls_past_the_limit_wait_their_turn_and_all_succeed() -> None:
    transport = HeldCalls()
    client = _gated(transport, max_calls_in_flight=3)
    calls = [asyncio.ensure_future(client.get(f"workspaces/{n}")) for n in range(10)]
    await asyncio.wait_for(transport.arrived.wait(), 10)
    await asyncio.sleep(0.1)  # every call has had its chance to reach the API
    assert transport.held == 3
    transport.release.set()
    answers = await asyncio.wait_for(asyncio.gather(*calls), 10)
    await client.aclose()
    assert [a["path"] for a in answers] == [f"/v1/workspaces/{n}" for n in range(10)]
    assert transport.most_held == 3


async def _chunks() -> AsyncIterator[bytes]:
    yield b"an upload, "
    yield b"streamed"


@pytest.mark.parametrize(
    "call",
    [
        lambda client: client.post("runtimes/events/wait", json={}, timeout=30),
        lambda client: client.put("runtimes/events/wait", content=_chunks()),
    ],
    ids=["long poll", "streamed upload"],
)
async def test_a_long_call_is_not_held_behind_the_limit(call) -> None:
    """Long polls, executes and stops wait upstream by design, and a streamed upload takes as long as
    the browser sends it: they must not queue behind page calls, nor page calls behind them."""
    transport = HeldCalls()
    client = _gated(transport, max_calls_in_flight=1)
    page_call = asyncio.ensure_future(client.get("workspaces"))
    await asyncio.wait_for(transport.arrived.wait(), 10)
    assert await asyncio.wait_for(call(client), 10) == {"path": "/v1/runtimes/events/wait"}
    transport.release.set()
    await page_call
    await client.aclose()


async def test_a_call_that_gets_no_turn_within_its_timeout_says_the_api_did_not_answer() -> None:
    transport = HeldCalls()
    client = _gated(transport, max_calls_in_flight=1, timeout=0.5)
    held = asyncio.ensure_future(client.get("workspaces"))
    await asyncio.wait_for(transport.arrived.wait(), 10)
    with pytest.raises(Unavailable) as caught:
        await asyncio.wait_for(client.get("vault"), 10)
    assert caught.value.code == "request.timeout" and caught.value.transient
    assert transport.most_held == 1  # it never reached the API
    transport.release.set()
    assert (await held)["path"] == "/v1/workspaces"  # the gate is whole again: the holder went through
    await client.aclose()


# --- identical reads in flight ----------------------------------------------------------------


async def test_identical_reads_in_flight_share_one_call_and_each_gets_its_own_answer() -> None:
    transport = HeldCalls()
    client = _gated(transport, max_calls_in_flight=16)
    reads = [asyncio.ensure_future(client.get("workspaces", params={"limit": 25})) for _ in range(10)]
    other = asyncio.ensure_future(client.get("workspaces", params={"limit": 50}))  # not the same read
    await asyncio.wait_for(transport.arrived.wait(), 10)
    await asyncio.sleep(0.1)
    transport.release.set()
    answers = await asyncio.wait_for(asyncio.gather(*reads), 10)
    assert (await other)["path"] == "/v1/workspaces"
    await client.aclose()
    assert sorted(transport.calls) == ["GET /v1/workspaces?limit=25", "GET /v1/workspaces?limit=50"]
    assert all(answer == {"path": "/v1/workspaces"} for answer in answers)
    answers[0]["path"] = "changed by one page"
    assert answers[1]["path"] == "/v1/workspaces"  # parsed for each caller: nothing shared


async def test_a_read_asked_for_after_a_write_never_joins_one_from_before_it() -> None:
    transport = HeldCalls()
    client = _gated(transport, max_calls_in_flight=16)
    before = asyncio.ensure_future(client.get("workspaces"))
    await asyncio.wait_for(transport.arrived.wait(), 10)
    await client.post("runtimes/events/wait", json={}, timeout=30)  # a write, answered at once
    after = asyncio.ensure_future(client.get("workspaces"))
    await asyncio.sleep(0.1)
    assert transport.held == 2  # its own call: the page after a form shows what the form did
    client.fence()  # what the updates relay does when an update arrives
    latest = asyncio.ensure_future(client.get("workspaces"))
    await asyncio.sleep(0.1)
    assert transport.held == 3
    transport.release.set()
    await asyncio.wait_for(asyncio.gather(before, after, latest), 10)
    await client.aclose()


async def test_a_caller_that_leaves_does_not_cancel_the_shared_read() -> None:
    transport = HeldCalls()
    client = _gated(transport, max_calls_in_flight=16)
    leaving = asyncio.ensure_future(client.get("workspaces"))
    staying = asyncio.ensure_future(client.get("workspaces"))
    await asyncio.wait_for(transport.arrived.wait(), 10)
    leaving.cancel()  # its browser went away
    transport.release.set()
    assert await asyncio.wait_for(staying, 10) == {"path": "/v1/workspaces"}
    await client.aclose()
    assert transport.calls == ["GET /v1/workspaces?"]


async def test_a_failed_shared_read_fails_for_every_caller() -> None:
    calls = []

    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        await asyncio.sleep(0.2)
        return httpx.Response(404, json={"error": {"code": "workspace.not_found", "message": "Gone."}})

    client = _mocked(handler)
    results = await asyncio.gather(*(client.get("workspaces/x") for _ in range(3)), return_exceptions=True)
    await client.aclose()
    assert calls == ["/v1/workspaces/x"]
    assert all(isinstance(result, NotFound) for result in results)


async def test_this_engine_is_known_to_honour_the_key_so_a_lost_create_is_sent_again(
    engine: EngineProcess,
) -> None:
    """The engine's own OpenAPI document declares Idempotency-Key on its creates: a create whose
    answer is lost (the first one reaches the engine and is made) is sent again and made once."""
    lost = []

    def lose_the_first_answer(request: httpx.Request) -> httpx.Response | None:
        if lost:
            return None
        lost.append(request)
        with httpx.Client() as real:  # the engine makes it; the console never hears
            real.post(str(request.url), content=request.content, headers=dict(request.headers))
        raise httpx.ReadTimeout("timed out", request=request)

    name = f"once {uuid.uuid4().hex[:8]}"
    transport = Faults({"POST /v1/workspaces": lose_the_first_answer})
    client = BctrlClient(f"{engine.url}/v1", engine.keys["admin"], transport=transport, backoff=0)
    try:
        made = await client.create("workspaces", {"name": name})
        listed = await client.get("workspaces", params={"q": name})
    finally:
        await client.aclose()
    assert [w["id"] for w in listed["workspaces"]] == [made["id"]]
    assert transport.calls.count("POST /v1/workspaces?") == 2
