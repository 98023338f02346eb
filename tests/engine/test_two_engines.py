"""Two engine processes on one PostgreSQL database (a handover, or a second one started by
mistake): the update log and Idempotency-Keys stay right across them.

What it protects: 200 creates at once, each Idempotency-Key sent to both processes, make one
workspace per key and one answer per key (the same on both), and every update has a sequence of
its own that a stream reader on either process sees once, in order, none skipped.
"""

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.support.engine_process import EngineProcess
from tests.support.postgres_server import PostgresServer
from tests.support.updates import newest_update

KEYS = 100  # each sent to both engines: 200 creates


@pytest.fixture(scope="module")
def engines(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[EngineProcess]]:
    env = {
        "ENGINE_DATABASE_URL": postgres.create_database("two_engines"),
        # one deployment: the same keys (answers kept for Idempotency-Keys are sealed with the vault key)
        "ENGINE_VAULT_KEY": Fernet.generate_key().decode(),
        "ENGINE_SECRET_KEY": uuid.uuid4().hex,
        "ENGINE_WARM_POOL_SIZE": "0",
    }
    first = EngineProcess(tmp_path_factory.mktemp("first"), env).start()
    second = EngineProcess(tmp_path_factory.mktemp("second"), env)
    second.keys = first.keys  # one database: one set of API keys
    second.start()
    yield [first, second]
    second.stop()
    first.stop()


async def _read_stream(engine: EngineProcess, after: int, seen: list[int]) -> None:
    """Every update id the engine's stream sends, into `seen`, until cancelled."""
    headers = {"Authorization": f"Bearer {engine.keys['read']}"}
    async with (
        httpx.AsyncClient(base_url=f"{engine.url}/v1", headers=headers, timeout=60) as client,
        client.stream("GET", "/updates/stream", params={"after": after}) as response,
    ):
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
    answers, seen = asyncio.run(_scenario(engines, start, prefix))

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
