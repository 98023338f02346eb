"""Runtimes are isolated, tried as an attacker would with real Chromium (engine/egress/launcher.py).

The attacks of issue 18: an extension that sets the browser's proxy to "direct" and then reads
loopback services, the engine's own port and local files (the console's database among them),
and one runtime reading another's profile. Here a browser started by the engine's own launcher
in a live runtime's network namespace with its proxy turned off (`--no-proxy-server`, what an
extension's direct mode amounts to) must reach nothing but that runtime's proxy, and a probe run
inside a live runtime's namespaces as its uid must find none of the files it is not given.
"""

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings as console_settings
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from engine.egress import launcher
from engine.egress.netns import NetNamespace
from engine.runtimes import chromium
from tests.support.engine_process import (
    ROOT,
    EngineProcess,
    browser_pid,
    chromium_pids_under,
    eventually,
    one_uid,
)
from tests.support.loops import in_own_thread
from tests.support.site import TestSite as Site


@pytest.fixture(scope="module")
def loopback_site() -> Iterator[Site]:
    """A service on another 127.0.0.1 port, which the engine's runtimes may not reach."""
    served = Site().start()
    yield served
    served.stop()


def launch(api: httpx.Client, workspace_id: str, alias: str, **launch_body: object) -> dict:
    body: dict[str, object] = {"alias": alias}
    if launch_body:
        body["launch"] = launch_body
    response = api.post(f"/workspaces/{workspace_id}/runtimes", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def uid_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:")))


def test_the_engine_says_its_runtimes_are_isolated(engine: EngineProcess, api: httpx.Client) -> None:
    health = httpx.get(f"{engine.url}/healthz").json()
    assert health["isolation"] == {
        "mode": "isolated",
        "runtimesAllowed": True,
        "chromiumSandbox": True,
        "reason": None,
    }
    assert api.get("/limits").json()["isolation"] == health["isolation"]
    ready = httpx.get(f"{engine.url}/readyz")
    assert ready.status_code == 200 and ready.json()["runtimes"] == "isolated", ready.text


def test_a_browser_with_its_proxy_turned_off_reaches_nothing_but_the_proxy(
    engine: EngineProcess, api: httpx.Client, workspace: dict, loopback_site: Site, tmp_path: Path
) -> None:
    runtime = launch(api, workspace["id"], "victim")
    browser = browser_pid(engine.var_dir / "runtimes" / runtime["id"])
    argv = Path(f"/proc/{browser}/cmdline").read_bytes().decode().split("\0")
    proxy_port = next(a for a in argv if a.startswith("--proxy-server=")).rsplit(":", 1)[1]
    # The engine's own launcher, into that runtime's network namespace, as a uid of the range.
    lease = launcher.Uids(61287, 1000).lease()
    descriptor = os.open(f"/proc/{browser}/ns/net", os.O_RDONLY)
    try:
        namespace = NetNamespace(descriptor, os.fstat(descriptor).st_ino)
        user_data = tmp_path / "attacker"
        launcher.own(lease.uid, tmp_path, user_data)
        jailed = launcher.Launcher(
            str(engine.var_dir / "browser" / "chromium"),
            chromium.executable(),
            isolated=True,
            sandbox=True,
            root=engine.var_dir / "browser" / "root",
        )
        environment = {"PATH": os.environ["PATH"]} | jailed.environment(
            namespace, lease.uid, tmp_path, [tmp_path], []
        )

        def attack() -> dict[str, bool]:
            # a thread of its own: the session's sync Playwright holds the main thread's loop
            with sync_playwright() as playwright:
                context = playwright.chromium.launch_persistent_context(
                    str(user_data),
                    executable_path=jailed.executable,
                    args=[a for a in chromium.FLAGS if a != "--no-sandbox"] + ["--no-proxy-server"],
                    chromium_sandbox=True,
                    env=environment,
                    headless=True,
                )
                page = context.pages[0]
                for target in (f"{loopback_site.url}/index.html", f"http://127.0.0.1:{engine.port}/healthz"):
                    with pytest.raises(PlaywrightError, match="ERR_CONNECTION_REFUSED"):
                        page.goto(target, timeout=10_000)
                # Only the runtime's proxy answers in there.
                probe = context.new_page()
                answered = {
                    port: probe.evaluate(
                        f"fetch('http://127.0.0.1:{port}/', {{mode: 'no-cors'}}).then(() => true, () => false)"
                    )
                    for port in (proxy_port, loopback_site.server.server_address[1], engine.port)
                }
                context.close()
            return answered

        answered = in_own_thread(attack)
    finally:
        os.close(descriptor)
        lease.release()
    assert loopback_site.requests == []
    assert list(answered.values()) == [True, False, False], answered


def test_a_runtime_sees_only_its_own_files(engine: EngineProcess, api: httpx.Client, workspace: dict) -> None:
    profiles = [api.post("/browser-profiles", json={"name": f"iso-{n}"}).json()["id"] for n in (1, 2)]
    mine = engine.var_dir / "profiles" / profiles[0] / "user-data"
    theirs = engine.var_dir / "profiles" / profiles[1] / "user-data"
    launch(api, workspace["id"], "mine", mode="profile", profileId=profiles[0])
    launch(api, workspace["id"], "theirs", mode="profile", profileId=profiles[1])
    browser, other = browser_pid(mine), browser_pid(theirs)
    uid = uid_of(browser)
    assert uid != uid_of(other) and {uid, uid_of(other)} <= set(range(61287, 61287 + 1000))
    secret_paths = [
        engine.var_dir / "engine.sqlite3",
        engine.var_dir.parent / "secrets" / "engine_vault_key",  # ENGINE_LOCAL_SECRETS_DIR
        Path(console_settings.VAR_DIR) / "console.sqlite3",  # the console's database (its default place)
        Path(console_settings.VAR_DIR) / "secrets",
        ROOT / "manage.py",  # the repository
        theirs,  # another runtime's profile
        Path(f"/proc/{other}/environ"),  # another runtime's browser
        Path(f"/proc/{engine.process.pid}/environ"),  # type: ignore[union-attr]
    ]
    console_database = Path(console_settings.VAR_DIR) / "console.sqlite3"
    if not console_database.exists():  # tests use an in-memory database: stand for a real console's file
        console_database.touch(mode=0o600)
    assert all(p.exists() for p in secret_paths), [p for p in secret_paths if not p.exists()]
    probe = "".join(f"cat {p} >/dev/null 2>&1 || ls {p} >/dev/null 2>&1 && echo {p};" for p in secret_paths)
    seen = subprocess.run(
        [
            *("nsenter", f"--target={browser}", "--mount", "--net", f"--setuid={uid}", f"--setgid={uid}"),
            *("sh", "-c", f"ls {mine} >/dev/null && echo OWN; {probe} ls {engine.var_dir}"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    lines = seen.stdout.split()
    assert lines[0] == "OWN", seen  # the probe runs where the browser runs, and sees its profile
    # Nothing readable of the list, nothing of the engine's var dir but the way to its own dirs.
    assert set(lines[1:]) <= {"profiles", "runtimes"}, seen
    # Nothing of the runtime's view is mounted where the engine (or anyone else) sees it.
    assert "bctrl-root" not in Path("/proc/self/mountinfo").read_text()


def test_an_engine_that_cannot_isolate_refuses_runtimes_unless_allowed(
    tmp_path_factory: pytest.TempPathFactory, site: Site
) -> None:
    """The engine as root without capabilities (a container's default): no namespaces to be had."""
    without_capabilities = ("setpriv", "--bounding-set=-all", "--inh-caps=-all", "--ambient-caps=-all")
    refusing = EngineProcess(tmp_path_factory.mktemp("refusing"), prefix=without_capabilities).start()
    try:
        isolation = httpx.get(f"{refusing.url}/healthz").json()["isolation"]
        # Still ready (the image's HEALTHCHECK): everything but launching serves; readyz says so.
        ready = httpx.get(f"{refusing.url}/readyz")
        with refusing.client("operator") as api:
            workspace_id = api.post("/workspaces", json={"name": "no isolation"}).json()["id"]
            refused = api.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": "r"})
            listed = api.get(f"/workspaces/{workspace_id}/runtimes").json()
    finally:
        refusing.stop()
    assert isolation["mode"] == "unisolated" and isolation["runtimesAllowed"] is False
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"ready": True, "checks": {"database": "ok"}, "runtimes": "refused"}
    assert "network namespaces cannot be made" in isolation["reason"]
    assert refused.status_code == 503, refused.text
    error = refused.json()["error"]
    assert (
        error["code"] == "runtime.isolation_unavailable"
        and "ENGINE_ALLOW_UNISOLATED=true" in error["message"]
    )
    assert listed["runtimes"] == []  # nothing half-made
    assert "cannot isolate runtimes" in refusing.log()

    allowing = EngineProcess(
        tmp_path_factory.mktemp("allowing"),
        {"ENGINE_ALLOW_UNISOLATED": "true", "ENGINE_WARM_POOL_SIZE": "0"},
        allow=site.host_port,
        prefix=without_capabilities,
    ).start()
    try:
        with allowing.client("operator") as api:
            limits = api.get("/limits").json()["isolation"]
            ready = httpx.get(f"{allowing.url}/readyz").json()
            workspace_id = api.post("/workspaces", json={"name": "unisolated"}).json()["id"]
            launched = api.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": "one"})
            assert launched.status_code == 200, launched.text
    finally:
        allowing.stop()
    assert (limits["mode"], limits["runtimesAllowed"]) == ("unisolated", True)
    assert ready == {"ready": True, "checks": {"database": "ok"}, "runtimes": "unisolated"}
    assert allowing.log().count("starts UNISOLATED") == 1  # a warning at every launch


def test_a_file_put_into_an_input_is_read_by_the_page(api: httpx.Client, workspace: dict, site: Site) -> None:
    """The engine writes the file into the runtime's view; the browser, as its own uid, reads it."""
    namespace = f"workspace-{workspace['id']}"
    stored = api.put(f"/storage/{namespace}/objects/inputs/note.txt", content=b"hello from storage")
    assert stored.status_code == 201, stored.text
    launch(api, workspace["id"], "filer")
    add_input = "(() => { const i = document.createElement('input'); i.type = 'file'; i.id = 'f'; document.body.append(i); })()"
    steps = [
        {"call": "page.goto", "args": [f"{site.url}/index.html"]},
        {"call": "page.evaluate", "args": [add_input]},
        {"call": "page.setInputFiles", "args": ["#f", "inputs/note.txt"]},
        {"call": "page.evaluate", "args": ["document.getElementById('f').files[0].text()"]},
    ]
    result = api.post(
        f"/workspaces/{workspace['id']}/execute", json={"runtime": "filer", "steps": steps}
    ).json()
    assert result["status"] == "succeeded", result
    assert result["steps"][-1]["result"] == "hello from storage"


def leased_uids(engine: EngineProcess) -> set[int]:
    """The browser uids the engine holds a lease on (an open lock file each)."""
    held = set()
    for fd in Path(f"/proc/{engine.process.pid}/fd").iterdir():  # type: ignore[union-attr]
        with contextlib.suppress(OSError):
            target = Path(os.readlink(fd))
            if target.parent == launcher.LEASE_DIR:
                held.add(int(target.name))
    return held


def test_a_browser_uid_is_leased_while_its_browser_runs_and_only_then(
    engine: EngineProcess, api: httpx.Client, workspace: dict
) -> None:
    """The engine starts Chromium itself (engine/cdp/): its uid must still go back when it ends,
    stopped or crashed, and the start-up probe's must have gone back already."""
    stopped, crashed = (launch(api, workspace["id"], alias) for alias in ("stopped", "crashed"))
    pids = [browser_pid(engine.var_dir / "runtimes" / r["id"]) for r in (stopped, crashed)]
    uids = [uid_of(pid) for pid in pids]
    assert set(uids) <= leased_uids(engine)
    assert api.post(f"/workspaces/{workspace['id']}/runtimes/stopped/stop").status_code == 200
    os.kill(pids[1], signal.SIGKILL)
    assert eventually(lambda: not set(uids) & leased_uids(engine)), leased_uids(engine)
    status = lambda: api.get(f"/workspaces/{workspace['id']}/runtimes/crashed").json()["status"]  # noqa: E731
    assert eventually(lambda: status() == "failed"), status()
    # Every uid still leased is one a browser of this engine runs as: none left by the probe.
    running = set()
    for pid in chromium_pids_under(engine.var_dir):
        with contextlib.suppress(OSError):
            running.add(uid_of(pid))
    assert leased_uids(engine) <= running, (leased_uids(engine), running)


def test_a_launch_past_the_last_browser_uid_is_refused_as_capacity_until_one_goes_back(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """An engine with one browser uid (outside the suite's range, so no other engine holds it):
    its runtime leases it, the next launch is a capacity refusal naming the setting (not a
    Chromium that did not start), and a launch works again once that runtime's uid goes back."""
    uid = one_uid()
    engine = EngineProcess(
        tmp_path_factory.mktemp("one-uid"),
        {"ENGINE_BROWSER_UID": str(uid), "ENGINE_BROWSER_UID_COUNT": "1", "ENGINE_WARM_POOL_SIZE": "0"},
    ).start()
    try:
        with engine.client("operator") as api:
            workspace_id = api.post("/workspaces", json={"name": "one uid"}).json()["id"]
            first = launch(api, workspace_id, "first")
            assert uid_of(browser_pid(engine.var_dir / "runtimes" / first["id"])) == uid
            refused = api.post(f"/workspaces/{workspace_id}/runtimes", json={"alias": "second"})
            ended = api.get(f"/workspaces/{workspace_id}/runtimes/second").json()
            assert api.post(f"/workspaces/{workspace_id}/runtimes/first/stop").status_code == 200
            second = launch(api, workspace_id, "second")
            assert uid_of(browser_pid(engine.var_dir / "runtimes" / second["id"])) == uid
    finally:
        engine.stop()
    assert refused.status_code == 503, refused.text
    body = refused.json()
    assert body["requestId"] == refused.headers["X-Request-Id"]
    assert body["error"]["code"] == "runtime.capacity_exhausted"
    assert "ENGINE_BROWSER_UID_COUNT" in body["error"]["message"]
    assert "CHROMIUM_PATH" not in body["error"]["message"]
    assert body["error"]["details"] == {"limit": "ENGINE_BROWSER_UID_COUNT", "browserUidCount": 1}
    assert ended["status"] == "failed" and ended["failure"]["code"] == "runtime.capacity_exhausted", ended
