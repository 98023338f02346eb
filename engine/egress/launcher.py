"""How runtimes start Chromium, and how isolated they are (the engine's isolation mode).

A runtime is untrusted (docs/engine-api-decisions.md, "Runtimes are untrusted"). Isolated, its
Chromium and everything it starts run:
- in a network namespace of the runtime's own where the only thing listening, and the only
  thing reachable, is the runtime's egress proxy (engine/egress/netns.py);
- in a filesystem made for it: /usr, a few files of /etc, its own profile, downloads and
  extension directories, a private /tmp; nothing of the engine's or the console's files, the
  repository or other runtimes (engine/egress/jail.py, the launcher this module writes);
- as a uid of its own from ENGINE_BROWSER_UID .. + ENGINE_BROWSER_UID_COUNT (leased host-wide,
  so two runtimes, even of two engines on one host, never share one), with Chromium's sandbox on;
- under the engine's managed Chromium policy (refused URL schemes, blocked extension
  permissions), bound over /etc/chromium inside that view.

Isolation needs root (or CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID, CAP_CHOWN) and, for Chromium's
own sandbox, user namespaces. The runtime manager tries it at start with a real browser; where
it cannot be had the engine is `unisolated`: it says why, and refuses to launch runtimes unless
ENGINE_ALLOW_UNISOLATED=true (then Chromium runs as the engine's user, its traffic still sent to
the proxy but nothing stopping a page or extension from going around it, and every launch is
logged as a warning).
"""

import fcntl
import json
import logging
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from engine.egress import jail, netns
from engine.egress.policy import SCHEMES_BLOCKED

logger = logging.getLogger("engine.egress")

HOST_POLICY_ROOT = Path("/etc/chromium")
POLICY_FILE_NAME = "bctrl-engine.json"
ISOLATED, UNISOLATED = "isolated", "unisolated"
# Extension permissions that reach around the egress proxy, the file view or the engine's
# control of the browser. Refused at upload (engine/extensions/permissions.py) and blocked by
# the managed policy for anything loaded anyway.
BLOCKED_PERMISSIONS = (
    "debugger",
    "management",
    "nativeMessaging",
    "privacy",
    "proxy",
    "webRequestBlocking",
)
# Where uid leases are kept: one lock file per uid, held (flock) by the engine that runs a browser
# as it. A lock dies with its process, so an engine killed outright leaves no uid taken.
LEASE_DIR = Path("/run/bctrl/browser-uids")


def managed_policy() -> dict[str, object]:
    """The enterprise policy every runtime's Chromium runs under."""
    return {
        "URLBlocklist": [f"{scheme}:*" for scheme in SCHEMES_BLOCKED],
        # WebRTC may only use the proxy (no direct UDP to an address the proxy would refuse).
        "WebRtcIPHandling": "disable_non_proxied_udp",
        # No DNS prefetch or preconnect of its own: every connection is a request through the proxy.
        "NetworkPredictionOptions": 2,
        # An extension asking for one of these does not load. (`runtime_blocked_hosts` cannot name
        # file://: Chromium drops the whole "*" entry over it, blocked permissions included.
        # file:// shows an extension only the runtime's own view of the files: jail.py.)
        "ExtensionSettings": {"*": {"blocked_permissions": list(BLOCKED_PERMISSIONS)}},
    }


@dataclass(frozen=True)
class Isolation:
    """The engine's isolation mode, as /healthz, GET /v1/limits and the console show it."""

    mode: str  # isolated | unisolated | pending (before the start-up check)
    allowed: bool  # runtimes may launch: isolated, or ENGINE_ALLOW_UNISOLATED=true
    sandbox: bool = False  # Chromium's own sandbox is on
    reason: str = ""  # why the engine is not isolated

    def payload(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "runtimesAllowed": self.allowed,
            "chromiumSandbox": self.sandbox,
            "reason": self.reason or None,
        }


@dataclass(frozen=True)
class Launcher:
    """How runtimes start Chromium: `executable` (the isolating launcher, or Chromium itself)."""

    executable: str
    chromium: str
    isolated: bool
    sandbox: bool  # Chromium's sandbox on: drop --no-sandbox, Playwright's chromium_sandbox=True
    root: Path | None = None  # an empty directory the launcher mounts each browser's root on
    policy: Path | None = None  # the engine's copy of /etc/chromium, with the managed policy

    def environment(
        self,
        namespace: netns.NetNamespace | None,
        uid: int,
        home: Path,
        writable: list[Path],
        readable: list[Path],
    ) -> dict[str, str]:
        """What a launch adds to the environment: HOME, and for the launcher the runtime's view
        (BCTRL_JAIL). The launcher takes Chromium's argv and passes every inherited fd on, so
        this works for Playwright's launch and for a process the engine spawns itself."""
        if not self.isolated:
            return {"HOME": str(home)}
        view = {
            "executable": self.chromium,
            "root": str(self.root),
            "policy": str(self.policy) if self.policy else None,
            "uid": uid,
            "home": str(home),
            "writable": [str(p) for p in writable],
            "readable": [str(p) for p in readable],
            "netns": namespace.path if namespace else None,
            "netnsInode": namespace.inode if namespace else None,
        }
        return {"HOME": str(home), jail.ENVIRONMENT: json.dumps(view)}


@dataclass
class Lease:
    """A uid a browser runs as, held until `release` (or the engine's exit)."""

    uid: int
    fd: int = field(repr=False)

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing the file releases the lock
            self.fd = -1


class NoFreeUid(Exception):
    """Every uid of the range is leased (by this engine's browsers or another engine's on the host)."""

    def __init__(self, base: int, count: int) -> None:
        super().__init__(f"every browser uid ({base}..{base + count - 1}) is in use")
        self.base, self.count = base, count


class Uids:
    """The range of uids runtimes run as, leased one per browser."""

    def __init__(self, base: int, count: int, directory: Path = LEASE_DIR) -> None:
        self.base, self.count, self.directory = base, max(count, 0), directory
        self._next = 0

    def lease(self) -> Lease:
        for step in range(self.count):
            uid = self.base + (self._next + step) % self.count
            fd = os.open(self.directory / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._next = (self._next + step + 1) % self.count
            return Lease(uid, fd)
        raise NoFreeUid(self.base, self.count)


def own(uid: int, *directories: Path) -> None:
    """Give a browser's user its directories (a profile's whole tree included)."""
    for directory in directories:
        directory.mkdir(parents=True, exist_ok=True)
        os.chown(directory, uid, uid)
        for parent, dirs, files in os.walk(directory):
            for name in dirs + files:
                os.chown(os.path.join(parent, name), uid, uid, follow_symlinks=False)


def why_not_isolated(browser_uid: int, uid_count: int) -> str | None:
    """What stops isolation before any browser is tried (None: worth trying)."""
    if not sys.platform.startswith("linux"):
        return "runtimes are isolated with Linux namespaces, and this is not Linux"
    if os.geteuid() != 0:
        return (
            f"the engine runs as uid {os.geteuid()}, not root: making each runtime's namespaces "
            "and switching to its own uid need root (or CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID, CAP_CHOWN)"
        )
    if browser_uid <= 0 or uid_count <= 0:
        return "ENGINE_BROWSER_UID and ENGINE_BROWSER_UID_COUNT must name a range of uids above 0"
    if os.uname().machine not in jail.SYS_PIVOT_ROOT:
        return f"the launcher does not know pivot_root on {os.uname().machine}"
    problem = netns.available()
    if problem is not None:
        return f"network namespaces cannot be made here ({problem})"
    try:
        LEASE_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        return f"{LEASE_DIR} cannot be made ({exc})"
    return None


def isolating(chromium: str, workdir: Path) -> Launcher:
    """Write the launcher and the policy copy under `workdir`; the launcher, sandbox on."""
    workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    etc = workdir / "etc-chromium"
    if etc.exists():
        shutil.rmtree(etc)
    if HOST_POLICY_ROOT.is_dir():
        shutil.copytree(HOST_POLICY_ROOT, etc, symlinks=True)
    managed = etc / "policies" / "managed"
    managed.mkdir(parents=True, exist_ok=True)
    (managed / POLICY_FILE_NAME).write_text(json.dumps(managed_policy(), indent=2))
    for path in (etc, *etc.rglob("*")):  # the browser's user reads it, whatever the umask
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    root = workdir / "root"
    root.mkdir(exist_ok=True)
    script = workdir / "chromium"
    temporary = script.with_name(".chromium.new")
    # `#!python -IS`: isolated from the environment and site-packages; stdlib only.
    temporary.write_text(f"#!{sys.executable} -IS\n" + Path(jail.__file__).read_text())
    temporary.chmod(0o700)
    os.replace(temporary, script)
    return Launcher(str(script), chromium, isolated=True, sandbox=True, root=root, policy=etc)


def unisolated(chromium: str) -> Launcher:
    """Chromium as the engine's own user; its sandbox only where that user is not root."""
    return Launcher(chromium, chromium, isolated=False, sandbox=os.geteuid() != 0)
