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


BENIGN = {
    "name": "Page marker",
    "version": "1.0",
    "manifest_version": 3,
    "permissions": ["storage", "tabs"],
    "background": {"service_worker": "bg.js"},
    "content_scripts": [{"matches": ["http://127.0.0.1/*"], "js": ["mark.js"], "run_at": "document_end"}],
}
# The content script asks the service worker, which reads the tab (tabs) and keeps it (storage).
BENIGN_FILES = {
    "bg.js": """chrome.runtime.onMessage.addListener((message, sender, reply) => {
        chrome.tabs.get(sender.tab.id, tab => chrome.storage.local.set({seen: tab.url},
            () => chrome.storage.local.get('seen', kept => reply(new URL(kept.seen).pathname))));
        return true;
    });""",
    "mark.js": """chrome.runtime.sendMessage('hello', path => {
        document.getElementById('marker').textContent = 'marked by extension at ' + path;
    });""",
}


def run_until(api: httpx.Client, workspace_id: str, runtime: str, steps: list[dict]) -> dict:
    deadline = time.monotonic() + 30
    while True:  # an extension's first content-script injection can lag the browser's start
        result = api.post(
            f"/workspaces/{workspace_id}/execute", json={"runtime": runtime, "steps": steps}
        ).json()
        if result["status"] == "succeeded" or time.monotonic() > deadline:
            return dict(result)


def test_a_benign_extension_works(api: httpx.Client, workspace: dict, site: Site) -> None:
    """Content scripts, storage and tabs: what extensions usually need keeps working."""
    files = {"manifest.json": json.dumps(BENIGN), **BENIGN_FILES}
    extension_id = upload(api, make_zip(files)).json()["id"]
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
    result = run_until(api, workspace["id"], "with-ext", steps)
    assert result["steps"][-1]["result"] == "marked by extension at /ext-target.html", result


def _dnr(action: dict) -> dict[str, str]:
    manifest = {
        **MANIFEST,
        "permissions": ["declarativeNetRequest"],
        "declarative_net_request": {"rule_resources": [{"id": "r", "enabled": True, "path": "rules.json"}]},
    }
    rule = {"id": 7, "priority": 1, "action": action, "condition": {"urlFilter": "|http"}}
    return {"manifest.json": json.dumps(manifest), "rules.json": json.dumps([rule])}


def _redirect(to: dict) -> dict[str, str]:
    return _dnr({"type": "redirect", "redirect": to})


HOSTILE = [
    *(({**MANIFEST, "permissions": [p]}, p) for p in ("proxy", "debugger", "privacy", "nativeMessaging")),
    *(
        ({**MANIFEST, "manifest_version": 2, "permissions": [p]}, p)
        for p in ("management", "webRequestBlocking")
    ),
    ({**MANIFEST, "optional_permissions": ["proxy"]}, "proxy"),
    ({**MANIFEST, "host_permissions": ["file:///*"]}, "file:///*"),
    ({**MANIFEST, "manifest_version": 2, "permissions": ["tabs", "file://*/*"]}, "file://*/*"),
    ({**MANIFEST, "content_scripts": [{"matches": ["file:///etc/*"], "js": ["a.js"]}]}, "file:///etc/*"),
]
HOSTILE_RULES = [
    _redirect({"url": "http://127.0.0.1:8787/v1/"}),
    _redirect({"url": "http://0x7f000001/"}),
    _redirect({"url": "http://api.localhost/"}),
    _redirect({"url": "https://10.1.2.3/"}),
    _redirect({"url": "file:///etc/passwd"}),
    _redirect({"regexSubstitution": "http://169.254.169.254/\\1"}),
    _redirect({"transform": {"host": "192.168.0.1"}}),
]


@pytest.mark.parametrize(("manifest", "named"), HOSTILE)
def test_it_refuses_an_extension_that_reaches_around_isolation(
    api: httpx.Client, engine: EngineProcess, manifest: dict, named: str
) -> None:
    before = files_under(engine.var_dir / "extensions") if (engine.var_dir / "extensions").exists() else set()
    response = upload(api, make_zip({"manifest.json": json.dumps(manifest), "a.js": ""}))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "extension.permission_refused" and named in error["message"], error
    assert files_under(engine.var_dir / "extensions") == before  # nothing kept


@pytest.mark.parametrize("files", HOSTILE_RULES)
def test_it_refuses_network_rules_that_redirect_somewhere_private(api: httpx.Client, files: dict) -> None:
    response = upload(api, make_zip(files))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "extension.permission_refused" and "declarativeNetRequest" in error["message"]
    assert "id 7" in error["message"]


def test_it_keeps_network_rules_that_block_or_redirect_to_public_sites(api: httpx.Client) -> None:
    for action in ({"type": "block"}, {"type": "redirect", "redirect": {"url": "https://example.org/"}}):
        assert upload(api, make_zip(_dnr(action))).status_code == 201


def test_chromium_refuses_a_blocked_permission_whatever_is_on_disk(
    api: httpx.Client, engine: EngineProcess, workspace: dict, site: Site
) -> None:
    """An extension asking for `proxy` that is on disk anyway (uploaded before the rule, or put
    there by hand) is not loaded: the managed policy blocks the permission in Chromium itself."""
    benign = upload(api, make_zip({"manifest.json": json.dumps(BENIGN), **BENIGN_FILES})).json()["id"]
    hostile_manifest = {
        **MANIFEST,
        "name": "Hostile",
        "content_scripts": [
            {"matches": ["http://127.0.0.1/*"], "js": ["title.js"], "run_at": "document_end"}
        ],
    }
    hostile_files = {"manifest.json": json.dumps(hostile_manifest), "title.js": "document.title = 'HOSTILE';"}
    hostile = upload(api, make_zip(hostile_files)).json()["id"]
    on_disk = engine.var_dir / "extensions" / hostile / "unpacked" / "manifest.json"
    on_disk.write_text(json.dumps({**hostile_manifest, "permissions": ["proxy", "storage"]}))
    config = {"extensionIds": [benign, hostile]}
    launched = api.post(
        f"/workspaces/{workspace['id']}/runtimes",
        json={"alias": "blocked", "launch": {"mode": "ephemeral", "config": config}},
    )
    assert launched.status_code == 200, launched.text
    steps = [
        {"call": "page.goto", "args": [f"{site.url}/ext-target.html"]},
        {"call": "page.waitForSelector", "args": ["#marker:text('marked by extension')"]},
        {"call": "page.title"},
    ]
    # Once the benign extension has acted on the page, the hostile one would have too.
    result = run_until(api, workspace["id"], "blocked", steps)
    assert result["status"] == "succeeded", result
    assert result["steps"][-1]["result"] == "Extension target", result
