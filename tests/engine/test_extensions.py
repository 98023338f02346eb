"""Browser extensions over real HTTP: uploads, refusals of hostile archives, a real content script."""

import hashlib
import io
import json
import os
import stat
import struct
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.engine_process import EngineProcess
from tests.support.site import TestSite as Site

MANIFEST = {"name": "Marker", "version": "1.2.3", "manifest_version": 3, "permissions": ["storage"]}


def make_zip(files: dict[str, bytes | str], symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def make_crx3(zip_bytes: bytes) -> bytes:
    header = b"\x12\x00"  # a (meaningless) CrxFileHeader protobuf: the engine does not verify signatures
    return b"Cr24" + struct.pack("<II", 3, len(header)) + header + zip_bytes


def upload(api: httpx.Client, data: bytes, filename: str = "ext.zip", **form: str) -> httpx.Response:
    return api.post("/browser-extensions/upload", files={"file": (filename, data)}, data=form)


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture(scope="module")
def small_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    """An engine accepting extensions up to 64 KB, to test the limits cheaply."""
    process = EngineProcess(
        tmp_path_factory.mktemp("small-ext"), extra_env={"ENGINE_EXTENSION_MAX_BYTES": str(64 * 1024)}
    ).start()
    yield process
    process.stop()


def test_it_uploads_a_zip_and_reads_its_manifest(api: httpx.Client, engine: EngineProcess) -> None:
    data = make_zip({"manifest.json": json.dumps(MANIFEST), "content.js": "// hi"})
    response = upload(api, data)
    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["version"], body["format"], body["manifestVersion"]) == (
        "Marker",
        "1.2.3",
        "zip",
        3,
    )
    assert body["permissions"] == ["storage"] and body["enabled"] is True and body["profileCount"] == 0
    assert body["contentHash"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert body["sizeBytes"] == len(data)
    unpacked = engine.var_dir / "extensions" / body["id"] / "unpacked"
    assert files_under(unpacked) == {"manifest.json", "content.js"}


def test_a_retried_upload_with_one_idempotency_key_makes_one_extension(api: httpx.Client) -> None:
    name = f"Retried {time.time_ns()}"
    data = make_zip({"manifest.json": json.dumps({**MANIFEST, "name": name})})
    key = {"Idempotency-Key": f"upload-{time.time_ns()}"}
    files = {"file": ("ext.zip", data)}
    first = api.post("/browser-extensions/upload", files=files, headers=key)
    again = api.post("/browser-extensions/upload", files=files, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    listed = api.get("/browser-extensions", params={"q": name, "limit": 500}).json()["extensions"]
    assert [e["id"] for e in listed] == [first.json()["id"]]
    other = make_zip({"manifest.json": json.dumps({**MANIFEST, "name": name, "version": "2.0"})})
    conflict = api.post("/browser-extensions/upload", files={"file": ("ext.zip", other)}, headers=key)
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "idempotency.conflict"


def test_it_uploads_a_crx3_and_a_wrapped_folder(api: httpx.Client) -> None:
    crx = upload(api, make_crx3(make_zip({"manifest.json": json.dumps(MANIFEST)})), "ext.crx", name="Named")
    assert crx.status_code == 201
    assert crx.json()["format"] == "crx" and crx.json()["name"] == "Named"
    wrapped = upload(api, make_zip({"marker/manifest.json": json.dumps(MANIFEST), "marker/a.js": ""}))
    assert wrapped.status_code == 201


@pytest.mark.parametrize(
    ("archive", "says"),
    [
        (lambda: make_zip({"manifest.json": json.dumps(MANIFEST), "../evil.txt": "x"}), "outside"),
        (lambda: make_zip({"manifest.json": json.dumps(MANIFEST), "a/../../evil.txt": "x"}), "outside"),
        (lambda: make_zip({"manifest.json": json.dumps(MANIFEST), "/tmp/evil.txt": "x"}), "absolute"),
        (lambda: make_zip({"manifest.json": json.dumps(MANIFEST)}, {"link": "/etc/passwd"}), "symbolic link"),
        (lambda: make_zip({"readme.txt": "no manifest"}), "no manifest.json"),
        (lambda: make_zip({"manifest.json": "{not json"}), "not valid JSON"),
        (lambda: make_zip({"manifest.json": json.dumps({"name": "x"})}), "needs"),
        (lambda: b"just some text, not an archive", "neither a .zip nor a .crx"),
        (lambda: b"Cr24" + struct.pack("<II", 3, 1000) + b"short", "does not contain a zip"),
    ],
)
def test_it_refuses_a_bad_package_and_writes_nothing(
    api: httpx.Client, engine: EngineProcess, archive: object, says: str
) -> None:
    before = files_under(engine.var_dir)
    response = upload(api, archive())  # type: ignore[operator]
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "extension.invalid_package" and says in error["message"]
    # Nothing new anywhere under the var dir: no folder, no escaped file. Aside: the database, and
    # what the session's live browsers (other tests' runtimes, the warm pool) write in their own
    # directories at any moment.
    browsers = ("engine.sqlite3", "runtimes/", "recordings/", "profiles/", "browser/")
    created = {p for p in files_under(engine.var_dir) - before if not p.startswith(browsers)}
    assert created - {"engine.log"} == set()
    assert not (engine.var_dir.parent / "evil.txt").exists()
    assert not Path("/tmp/evil.txt").exists()


def test_it_refuses_a_zip_declaring_a_gigabyte(api: httpx.Client, engine: EngineProcess) -> None:
    """A zip bomb: tiny on the wire, 1 GB once inflated. Refused from its declared sizes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(MANIFEST))
        with archive.open("bomb.bin", "w", force_zip64=True) as bomb:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(1024):
                bomb.write(chunk)
    data = buffer.getvalue()
    assert len(data) < 2 * 1024 * 1024
    before = files_under(engine.var_dir / "extensions") if (engine.var_dir / "extensions").exists() else set()
    response = upload(api, data)
    assert response.status_code == 400
    assert "more than" in response.json()["error"]["message"]
    assert files_under(engine.var_dir / "extensions") == before


def test_it_refuses_an_upload_over_the_limit(small_engine: EngineProcess) -> None:
    with small_engine.client() as client:
        response = upload(
            client, make_zip({"manifest.json": json.dumps(MANIFEST), "pad.bin": os.urandom(70_000)})
        )
    assert response.status_code == 400
    assert "at most 65536 bytes" in response.json()["error"]["message"]


def test_it_renames_disables_and_deletes(api: httpx.Client, engine: EngineProcess) -> None:
    extension_id = upload(api, make_zip({"manifest.json": json.dumps(MANIFEST)})).json()["id"]
    patched = api.patch(f"/browser-extensions/{extension_id}", json={"name": "Renamed", "enabled": False})
    assert patched.status_code == 200
    assert (patched.json()["name"], patched.json()["enabled"]) == ("Renamed", False)
    assert api.delete(f"/browser-extensions/{extension_id}").status_code == 204
    assert api.get(f"/browser-extensions/{extension_id}").status_code == 404
    assert not (engine.var_dir / "extensions" / extension_id).exists()


def test_an_extension_a_profile_uses_cannot_be_deleted(api: httpx.Client) -> None:
    extension_id = upload(api, make_zip({"manifest.json": json.dumps(MANIFEST)})).json()["id"]
    profile = api.post("/browser-profiles", json={"name": "uses ext", "extensionIds": [extension_id]}).json()
    assert api.get(f"/browser-extensions/{extension_id}").json()["profileCount"] == 1
    response = api.delete(f"/browser-extensions/{extension_id}")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "extension.in_use"
    api.delete(f"/browser-profiles/{profile['id']}")
    assert api.delete(f"/browser-extensions/{extension_id}").status_code == 204


def test_a_loaded_content_script_changes_the_page(api: httpx.Client, workspace: dict, site: Site) -> None:
    manifest = {
        "name": "Page marker",
        "version": "1.0",
        "manifest_version": 3,
        "content_scripts": [{"matches": ["http://127.0.0.1/*"], "js": ["mark.js"], "run_at": "document_end"}],
    }
    script = "document.getElementById('marker').textContent = 'marked by extension';"
    extension_id = upload(api, make_zip({"manifest.json": json.dumps(manifest), "mark.js": script})).json()[
        "id"
    ]
    launched = api.post(
        f"/workspaces/{workspace['id']}/runtimes",
        json={
            "alias": "with-ext",
            "launch": {"mode": "ephemeral", "config": {"extensionIds": [extension_id]}},
        },
    )
    assert launched.status_code == 200, launched.text
    steps = [
        {"call": "page.goto", "args": [f"{site.url}/ext-target.html"]},
        {"call": "page.waitForSelector", "args": ["#marker:text('marked by extension')"]},
        {"call": "page.textContent", "args": ["#marker"]},
    ]
    deadline = time.monotonic() + 30
    while True:  # an extension's first content-script injection can lag the browser's start
        result = api.post(
            f"/workspaces/{workspace['id']}/execute", json={"runtime": "with-ext", "steps": steps}
        ).json()
        if result["status"] == "succeeded" or time.monotonic() > deadline:
            break
    assert result["steps"][-1]["result"] == "marked by extension", result
