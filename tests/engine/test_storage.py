"""Storage over real HTTP: objects by path, folders, raw bytes in and out, limits."""

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.engine_process import EngineProcess


@pytest.fixture
def namespace() -> str:
    return f"ns-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def small_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    """An engine whose storage limit is 1000 bytes, to hit it without moving 100 MB."""
    process = EngineProcess(
        tmp_path_factory.mktemp("small-storage"), extra_env={"ENGINE_STORAGE_MAX_BYTES": "1000"}
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


def test_it_refuses_an_object_over_the_limit(small_engine: EngineProcess) -> None:
    with small_engine.client() as client:
        response = client.put("/storage/small/objects/big.bin", content=b"x" * 1001)
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "storage.too_large"
        # A chunked upload (no Content-Length) is cut off while streaming to disk.
        streamed = client.put("/storage/small/objects/big.bin", content=iter([b"x" * 600, b"x" * 600]))
        assert streamed.status_code == 413
        assert client.put("/storage/small/objects/ok.bin", content=b"x" * 1000).status_code == 201
        assert client.get("/storage/small/objects/big.bin").status_code == 404
    leftovers = [
        p for p in Path(small_engine.var_dir / "storage" / "blobs").iterdir() if p.name.startswith(".")
    ]
    assert leftovers == []


def test_a_read_key_cannot_write(engine: EngineProcess, namespace: str) -> None:
    with engine.client("read") as client:
        response = client.put(f"/storage/{namespace}/objects/a", content=b"x")
    assert response.status_code == 403
