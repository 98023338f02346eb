"""Storage over real HTTP: objects by path, folders, raw bytes in and out, limits."""

import hashlib
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.engine_process import EngineProcess, eventually

pytestmark = pytest.mark.database  # run again on PostgreSQL (bin/test)

MB = 1024 * 1024


@pytest.fixture
def namespace() -> str:
    return f"ns-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def small_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    """An engine whose storage limit is 1000 bytes, to hit it without moving 100 MB."""
    process = EngineProcess(
        tmp_path_factory.mktemp("small-storage"),
        extra_env={"ENGINE_STORAGE_MAX_BYTES": "1000", "ENGINE_WARM_POOL_SIZE": "0"},
    ).start()
    yield process
    process.stop()


def test_it_writes_and_reads_back_an_object(api: httpx.Client, namespace: str) -> None:
    body = b"id,name\n1,Ada\n"
    created = api.put(
        f"/storage/{namespace}/objects/reports/2026/a.csv", content=body, headers={"Content-Type": "text/csv"}
    )
    assert created.status_code == 201
    obj = created.json()
    assert obj["path"] == "reports/2026/a.csv" and obj["sizeBytes"] == len(body)
    assert obj["sha256"] == hashlib.sha256(body).hexdigest() and obj["contentType"] == "text/csv"
    assert obj["source"] == "upload" and obj["runtimeId"] is None
    assert api.get(f"/storage/{namespace}/objects/reports/2026/a.csv").json() == obj
    content = api.get(f"/storage/{namespace}/content/reports/2026/a.csv")
    assert content.content == body
    assert content.headers["content-type"] == "text/csv"
    assert content.headers["content-disposition"] == 'attachment; filename="a.csv"'


def test_it_replaces_an_object_with_200(api: httpx.Client, namespace: str) -> None:
    assert api.put(f"/storage/{namespace}/objects/x.txt", content=b"one").status_code == 201
    again = api.put(f"/storage/{namespace}/objects/x.txt", content=b"two!")
    assert again.status_code == 200 and again.json()["sizeBytes"] == 4
    assert api.get(f"/storage/{namespace}/content/x.txt").content == b"two!"


def test_it_lists_one_folder_level(api: httpx.Client, namespace: str) -> None:
    for path in ("top.txt", "reports/a.csv", "reports/2026/b.csv", "images/c.png"):
        api.put(f"/storage/{namespace}/objects/{path}", content=b"x")
    root = api.get(f"/storage/{namespace}/objects").json()
    assert [o["path"] for o in root["objects"]] == ["top.txt"]
    assert root["folders"] == ["images/", "reports/"]
    reports = api.get(f"/storage/{namespace}/objects", params={"prefix": "reports/"}).json()
    assert [o["path"] for o in reports["objects"]] == ["reports/a.csv"]
    assert reports["folders"] == ["reports/2026/"]
    everything = api.get(f"/storage/{namespace}/objects", params={"recursive": "true"}).json()
    assert len(everything["objects"]) == 4


def test_it_pages_objects_with_a_cursor(api: httpx.Client, namespace: str) -> None:
    for i in range(5):
        api.put(f"/storage/{namespace}/objects/f{i}.txt", content=b"x")
    seen, cursor = [], None
    while True:
        page = api.get(
            f"/storage/{namespace}/objects", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += [o["path"] for o in page["objects"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [f"f{i}.txt" for i in range(5)]


def test_it_counts_namespaces(api: httpx.Client, namespace: str) -> None:
    api.put(f"/storage/{namespace}/objects/a", content=b"12345")
    api.put(f"/storage/{namespace}/objects/b", content=b"123")
    listed = {n["name"]: n for n in api.get("/storage").json()["namespaces"]}
    assert listed[namespace] == {"name": namespace, "objectCount": 2, "sizeBytes": 8}


def test_it_filters_by_source_and_runtime(api: httpx.Client, namespace: str) -> None:
    runtime_id = str(uuid.uuid4())
    api.put(
        f"/storage/{namespace}/objects/a", content=b"x", params={"source": "export", "runtimeId": runtime_id}
    )
    api.put(f"/storage/{namespace}/objects/b", content=b"x")
    by_source = api.get(f"/storage/{namespace}/objects", params={"source": "export"}).json()
    by_runtime = api.get(f"/storage/{namespace}/objects", params={"runtimeId": runtime_id}).json()
    assert [o["path"] for o in by_source["objects"]] == ["a"] == [o["path"] for o in by_runtime["objects"]]


def test_it_deletes_an_object_and_its_blob(api: httpx.Client, engine: EngineProcess, namespace: str) -> None:
    api.put(f"/storage/{namespace}/objects/gone.bin", content=b"unique-bytes-" + namespace.encode())
    blobs_before = set((engine.var_dir / "storage" / "blobs").iterdir())
    assert api.delete(f"/storage/{namespace}/objects/gone.bin").status_code == 204
    assert api.get(f"/storage/{namespace}/objects/gone.bin").status_code == 404
    assert len(blobs_before - set((engine.var_dir / "storage" / "blobs").iterdir())) == 1


@pytest.mark.parametrize(
    "path",
    ["a/%2E%2E/b", "a//b", "%2Fabs", "a/%2E/b", "x" * 1025],
)
def test_it_refuses_bad_paths(api: httpx.Client, namespace: str, path: str) -> None:
    response = api.put(f"/storage/{namespace}/objects/{path}", content=b"x")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "storage.invalid_path"


def test_it_refuses_a_bad_namespace(api: httpx.Client) -> None:
    response = api.put("/storage/.hidden/objects/a", content=b"x")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "storage.invalid_namespace"


def test_it_answers_404_for_a_missing_object(api: httpx.Client, namespace: str) -> None:
    response = api.get(f"/storage/{namespace}/content/nothing.txt")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "storage.not_found"


def _blobs(engine: EngineProcess) -> set[str]:
    directory = Path(engine.var_dir / "storage" / "blobs")
    return {p.name for p in directory.iterdir()} if directory.is_dir() else set()


def test_an_upload_past_the_limit_leaves_no_partial_blob(small_engine: EngineProcess) -> None:
    before = _blobs(small_engine)
    with small_engine.client() as client:
        response = client.put("/storage/small/objects/big.bin", content=b"x" * 1001)
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "storage.too_large"
        # A chunked upload (no Content-Length) is cut off while streaming to disk.
        streamed = client.put("/storage/small/objects/big.bin", content=iter([b"x" * 600, b"x" * 600]))
        assert streamed.status_code == 413
        assert streamed.json()["error"]["code"] == "storage.too_large"
        assert client.get("/storage/small/objects/big.bin").status_code == 404
        # Nothing of either stays on disk (the cut one is removed as the refusal goes out).
        assert eventually(lambda: _blobs(small_engine) == before)
        assert client.put("/storage/small/objects/ok.bin", content=b"x" * 1000).status_code == 201
    assert len(_blobs(small_engine) - before) == 1


def test_a_client_that_leaves_mid_upload_leaves_no_partial_blob(
    engine: EngineProcess, namespace: str
) -> None:
    before = _blobs(engine)
    with socket.create_connection(("127.0.0.1", engine.port)) as sock:
        sock.sendall(
            f"PUT /v1/storage/{namespace}/objects/cut.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {engine.keys['operator']}\r\nContent-Length: {4 * MB}\r\n\r\n".encode()
            + b"x" * (2 * MB)
        )
        # The first bytes are on disk already (streamed to the blob dir, not spooled elsewhere).
        assert eventually(lambda: _incoming_size(engine) >= MB)
    assert eventually(lambda: _blobs(engine) == before)
    with engine.client() as client:
        assert client.get(f"/storage/{namespace}/objects/cut.bin").status_code == 404


def _incoming_size(engine: EngineProcess) -> int:
    directory = Path(engine.var_dir / "storage" / "blobs")
    return sum(p.stat().st_size for p in directory.glob(".incoming-*"))


def test_an_upload_is_written_to_its_blob_while_it_arrives(engine: EngineProcess, namespace: str) -> None:
    first_part_stored = threading.Event()

    def body() -> Iterator[bytes]:
        yield b"a" * (2 * MB)
        # The engine writes what it got before the rest is even sent: no spooling of the body.
        if eventually(lambda: _incoming_size(engine) >= MB, timeout=20):
            first_part_stored.set()
        yield b"b" * MB

    with engine.client("operator") as client:
        response = client.put(f"/storage/{namespace}/objects/streamed.bin", content=body())
    assert response.status_code == 201, response.text
    assert first_part_stored.is_set()
    assert response.json()["sha256"] == hashlib.sha256(b"a" * (2 * MB) + b"b" * MB).hexdigest()


def test_a_range_request_returns_the_right_bytes(api: httpx.Client, namespace: str) -> None:
    body = bytes(range(256)) * 40  # 10,240 bytes, every offset distinct within 256
    assert api.put(f"/storage/{namespace}/objects/r.bin", content=body).status_code == 201
    url = f"/storage/{namespace}/content/r.bin"
    whole = api.get(url)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    for header, start, end in (
        ("bytes=100-199", 100, 199),
        ("bytes=10000-", 10000, 10239),
        ("bytes=-40", 10200, 10239),
        ("bytes=10200-99999", 10200, 10239),
    ):
        part = api.get(url, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.content == body[start : end + 1], header
        assert part.headers["content-range"] == f"bytes {start}-{end}/{len(body)}"
        assert part.headers["content-length"] == str(end - start + 1)
    past = api.get(url, headers={"Range": "bytes=20000-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(body)}"
    assert past.json()["error"]["code"] == "storage.range_not_satisfiable"
    # If-Range with another version's ETag: the whole object, not a slice of the wrong one.
    stale = api.get(url, headers={"Range": "bytes=0-9", "If-Range": '"not-this-one"'})
    assert stale.status_code == 200 and stale.content == body


def test_it_answers_not_modified_for_its_etag(api: httpx.Client, namespace: str) -> None:
    api.put(f"/storage/{namespace}/objects/e.txt", content=b"first")
    first = api.get(f"/storage/{namespace}/content/e.txt")
    etag = first.headers["etag"]
    assert etag == f'"{hashlib.sha256(b"first").hexdigest()}"'
    unchanged = api.get(f"/storage/{namespace}/content/e.txt", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged.headers["etag"] == etag
    api.put(f"/storage/{namespace}/objects/e.txt", content=b"second")
    changed = api.get(f"/storage/{namespace}/content/e.txt", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.content == b"second"


def test_a_read_key_cannot_write(engine: EngineProcess, namespace: str) -> None:
    with engine.client("read") as client:
        response = client.put(f"/storage/{namespace}/objects/a", content=b"x")
    assert response.status_code == 403
