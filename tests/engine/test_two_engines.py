"""Two engine processes on one PostgreSQL database (a handover, or a second one started by
mistake): the update log and Idempotency-Keys stay right across them.

What it protects: 200 creates at once, each Idempotency-Key sent to both processes, make one
workspace per key and one answer per key (the same on both), and every update has a sequence of
its own that a stream reader on either process sees once, in order, none skipped.
"""

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet

from tests.support.engine_process import EngineProcess
from tests.support.loops import run_in_own_loop
from tests.support.postgres_server import PostgresServer
from tests.support.updates import newest_update

KEYS = 100  # each sent to both engines: 200 creates
APPEND_LOCK = 0x62637472_6C5F7570  # engine/updates.py's advisory lock: "appending to the update log"


@pytest.fixture(scope="module")
def database_url(postgres: PostgresServer) -> str:
    return postgres.create_database("two_engines")


@pytest.fixture(scope="module")
def engines(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[EngineProcess]]:
    env = {
        "ENGINE_DATABASE_URL": database_url,
        # one deployment: the same keys (answers kept for Idempotency-Keys are sealed with the vault key)
        "ENGINE_VAULT_KEY": Fernet.generate_key().decode(),
        "ENGINE_SECRET_KEY": uuid.uuid4().hex,
        "ENGINE_WARM_POOL_SIZE": "0",
        # 100 creates at once on a key neither process has checked yet: each is a key lookup, which
        # admission counts against this limit (32 by default) until the key is remembered
        "ENGINE_MAX_UNAUTHENTICATED_IN_FLIGHT": "200",
    }
    first = EngineProcess(tmp_path_factory.mktemp("first"), env).start()
    second = EngineProcess(tmp_path_factory.mktemp("second"), env)
    second.keys = first.keys  # one database: one set of API keys
    second.start()
    yield [first, second]
    second.stop()
    first.stop()


async def _read_stream(
    engine: EngineProcess, after: int, seen: list[int], opened: threading.Event | None = None
) -> None:
    """Every update id the engine's stream sends, into `seen`, until cancelled."""
    headers = {"Authorization": f"Bearer {engine.keys['read']}"}
    async with (
        httpx.AsyncClient(base_url=f"{engine.url}/v1", headers=headers, timeout=60) as client,
        client.stream("GET", "/updates/stream", params={"after": after}) as response,
    ):
        if opened is not None:
            opened.set()
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                seen.append(int(line[4:]))


async def _scenario(
    engines: list[EngineProcess], start: int, prefix: str
) -> tuple[list[list[httpx.Response]], list[list[int]]]:
    """Both streams open; then each key's create sent to both engines, all 200 at once."""
    seen: list[list[int]] = [[], []]
    readers = [asyncio.create_task(_read_stream(e, start, s)) for e, s in zip(engines, seen, strict=True)]
    clients = [
        httpx.AsyncClient(
            base_url=f"{e.url}/v1", headers={"Authorization": f"Bearer {e.keys['admin']}"}, timeout=120
        )
        for e in engines
    ]
    try:
        await asyncio.sleep(0.5)  # the streams are open

        async def create(client: httpx.AsyncClient, n: int) -> httpx.Response:
            return await client.post(
                "/workspaces", json={"name": f"{prefix} {n}"}, headers={"Idempotency-Key": f"{prefix}-{n}"}
            )

        answers = await asyncio.gather(*(create(c, n) for n in range(KEYS) for c in clients))
        newest = (await clients[0].get("/updates", params={"after": start, "limit": 500})).json()["updates"][
            -1
        ]
        async with asyncio.timeout(30):  # each stream catches up (woken by either engine's writes)
            while not all(s and s[-1] >= newest["id"] for s in seen):
                await asyncio.sleep(0.1)
    finally:
        for reader in readers:
            reader.cancel()
        for client in clients:
            await client.aclose()
    return [list(answers[i : i + 2]) for i in range(0, len(answers), 2)], seen


def test_it_makes_one_workspace_per_key_and_numbers_every_update_once(engines: list[EngineProcess]) -> None:
    prefix = f"twice-{uuid.uuid4().hex[:8]}"
    with engines[0].client() as api:
        start = newest_update(api)
    answers, seen = run_in_own_loop(_scenario(engines, start, prefix))

    for first, second in answers:  # one answer per key, whichever engine gave it
        assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
        assert first.json() == second.json()
    with engines[1].client() as api:
        updates = api.get("/updates", params={"after": start, "limit": 500}).json()["updates"]
        workspaces = api.get("/workspaces", params={"limit": 500}).json()["workspaces"]
    assert len([w for w in workspaces if w["name"].startswith(prefix)]) == KEYS  # one per key
    created = [u for u in updates if u["type"] == "workspace.created"]
    assert len(created) == KEYS
    ids = [u["id"] for u in updates]
    assert ids == sorted(set(ids))  # a sequence number each
    for stream in seen:  # each stream: every update once, in order, none skipped
        assert stream == ids


def test_an_update_that_commits_late_is_not_skipped_by_a_reader(
    engines: list[EngineProcess], database_url: str
) -> None:
    """A writer that has drawn its id but not committed yet (here: this test, holding the log's
    lock the way an engine does) makes every other append wait, so no reader can see a later id
    first and move past the earlier one for good."""
    with engines[0].client() as api:
        start = newest_update(api)
    seen: list[int] = []
    opened = threading.Event()
    reader = threading.Thread(target=lambda: asyncio.run(_read_until(engines[0], start, seen, opened)))
    reader.start()
    assert opened.wait(30)  # reading, and caught up: it sees appends as they commit
    created: list[httpx.Response] = []
    with engines[1].client() as api:
        writer = threading.Thread(
            target=lambda: created.append(api.post("/workspaces", json={"name": "late"}))
        )
        with psycopg.connect(database_url) as database, database.transaction():
            database.execute("SELECT pg_advisory_xact_lock(%s)", [APPEND_LOCK])
            held = database.execute(
                "INSERT INTO engine_update (type, workspace_id, data, created_at) "
                "VALUES ('test.held', NULL, '{}', now()) RETURNING id"
            ).fetchone()
            assert held is not None
            writer.start()
            writer.join(1.0)  # room for an append that does not wait to commit ahead of ours
            database.execute("SELECT pg_notify('bctrl_updates', '')")
        writer.join(60)
    reader.join(60)
    assert created and created[0].status_code == 201, created
    assert len(seen) == 2 and seen[0] == held[0] and seen[1] > held[0], (seen, held)


async def _read_until(engine: EngineProcess, after: int, seen: list[int], opened: threading.Event) -> None:
    """Read the stream until two updates came (or a minute passed)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(60):
            task = asyncio.create_task(_read_stream(engine, after, seen, opened))
            while len(seen) < 2:
                await asyncio.sleep(0.05)
            task.cancel()
