"""Chromium's own guard: a managed URL policy, applied in a mount namespace of the browser's own.

A scheme check in the steps stops `page.goto("file:///...")`, but a runtime reaches URLs in other
ways: a reload or history entry, a popup, a redirect, an extension calling `chrome.tabs.update`.
Chromium refuses all of those itself when its enterprise policy `URLBlocklist` names the scheme
(tried with real Chromium: `file:`, `chrome:`, `view-source:`, `devtools:`, `data:` documents and
`filesystem:` all end in `net::ERR_BLOCKED_BY_ADMINISTRATOR`). CDP offers nothing equivalent:
Fetch interception sees `file:` but not `chrome:`, `devtools:` or `data:`.

Chromium reads that policy only from `/etc/chromium/policies/managed/`, a path fixed at build
time. Writing it there would change every Chromium on the host, so each runtime's Chromium is
started by a small launcher that enters a private mount namespace (`unshare --mount`), binds the
engine's own copy of `/etc/chromium` (the host's files plus our policy) over it, hides the
engine's secrets, database and storage blobs from the browser, and only then starts Chromium.
Nothing of it is visible outside that browser's namespace.

Where mount namespaces are not allowed (an unprivileged engine without user namespaces, a default
Docker container), the launcher is not used: the image can install the same policy file
system-wide (see the Dockerfile), and otherwise the engine logs a warning at start and relies on
the step check plus the session's watcher, which sends a page that lands on a refused scheme
back to about:blank.

An engine running as root also drops the browser to ENGINE_BROWSER_UID (`setpriv`) and lets
Chromium turn its sandbox on (as root it cannot). Whether that works here (user namespaces for
the sandbox) is tried once at start with a real browser (the runtime manager launches one through
Playwright); if it does not, runtimes run as before (the engine's user, --no-sandbox) and the log
says why.
"""

import json
import logging
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from engine.egress.policy import SCHEMES_BLOCKED

logger = logging.getLogger("engine.egress")

HOST_POLICY_ROOT = Path("/etc/chromium")
POLICY_FILE_NAME = "bctrl-engine.json"


def managed_policy() -> dict[str, object]:
    """The enterprise policy every runtime's Chromium runs under."""
    return {
        "URLBlocklist": [f"{scheme}:*" for scheme in SCHEMES_BLOCKED],
        # WebRTC may only use the proxy (no direct UDP to an address the proxy would refuse).
        "WebRtcIPHandling": "disable_non_proxied_udp",
        # No DNS prefetch or preconnect of its own: every connection is a request through the proxy.
        "NetworkPredictionOptions": 2,
    }


@dataclass(frozen=True)
class Launcher:
    """How runtimes start Chromium: `executable` and what guards it (`mode`, for the log and tests).

    `uid` is set when the browser runs as that unprivileged user with Chromium's sandbox on: its
    directories must then be its own (`own`), and Playwright must not add --no-sandbox.
    """

    executable: str
    mode: str  # namespace | system | none
    uid: int | None = None

    def own(self, *directories: Path) -> None:
        """Give the browser's user its directories (a profile's whole tree included)."""
        if self.uid is None:
            return
        for directory in directories:
            directory.mkdir(parents=True, exist_ok=True)
            os.chown(directory, self.uid, self.uid)
            for parent, dirs, files in os.walk(directory):
                for name in dirs + files:
                    os.chown(os.path.join(parent, name), self.uid, self.uid, follow_symlinks=False)


def system_policy_installed() -> bool:
    installed = HOST_POLICY_ROOT / "policies" / "managed" / POLICY_FILE_NAME
    try:
        return json.loads(installed.read_text()) == managed_policy()
    except (OSError, ValueError):
        return False


def prepare(
    chromium: str, workdir: Path, hidden: list[Path], browser_uid: int
) -> tuple[Launcher, Launcher | None]:
    """Build the launcher under `workdir` and check that it works here; fall back when it does not.

    `hidden` are paths the browser must not see (the engine's secrets, database, storage blobs):
    inside the namespace, directories are covered by an empty read-only tmpfs and files by
    /dev/null, when they exist at launch. Also returns the same launcher dropping to
    `browser_uid` when the engine runs as root: the runtime manager tries it with a real browser
    (`Launcher.uid`) and keeps it only if Chromium starts with its sandbox there.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    launcher = _policy_launcher(chromium, workdir, hidden)
    if browser_uid <= 0 or os.geteuid() != 0 or shutil.which("setpriv") is None:
        return launcher, None
    closed = next((d for d in (workdir, *workdir.parents) if not d.stat().st_mode & 0o001), None)
    if closed is not None:
        logger.warning(
            "Runtimes run as the engine's user with --no-sandbox: the browser's own user (ENGINE_BROWSER_UID=%s) "
            "cannot reach ENGINE_VAR_DIR, because %s is closed to other users (chmod o+x it to let it).",
            browser_uid,
            closed,
        )
        return launcher, None
    script = workdir / "chromium-sandboxed"
    inner = launcher.executable if launcher.executable != chromium else None
    script.write_text(_drop_script(inner, chromium, browser_uid))
    script.chmod(0o755)
    return launcher, Launcher(str(script), launcher.mode, browser_uid)


def _policy_launcher(chromium: str, workdir: Path, hidden: list[Path]) -> Launcher:
    if system_policy_installed():
        return Launcher(chromium, "system")
    unshare = shutil.which("unshare")
    if unshare is None or not HOST_POLICY_ROOT.is_dir():
        return _without(chromium, "unshare or /etc/chromium is missing")
    etc = workdir / "etc-chromium"
    if etc.exists():
        shutil.rmtree(etc)
    shutil.copytree(HOST_POLICY_ROOT, etc, symlinks=True)
    managed = etc / "policies" / "managed"
    managed.mkdir(parents=True, exist_ok=True)
    (managed / POLICY_FILE_NAME).write_text(json.dumps(managed_policy(), indent=2))
    script = workdir / "chromium"
    script.write_text(_script(unshare, etc, chromium, hidden))
    script.chmod(0o755)
    probe = subprocess.run(
        [str(script), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "BCTRL_PROBE": "1"},
    )
    if probe.returncode != 0:
        return _without(chromium, (probe.stderr.strip().splitlines() or ["it exited with an error"])[-1])
    return Launcher(str(script), "namespace")


def _drop_script(inner: str | None, chromium: str, uid: int) -> str:
    """Chromium as `uid` (after the namespace launcher, when there is one, has done its mounts)."""
    drop = f"setpriv --reuid={uid} --regid={uid} --clear-groups --no-new-privs --"
    if inner is None:
        return f'#!/bin/sh\nexec {drop} {shlex.quote(chromium)} "$@"\n'
    # The namespace launcher runs "$@" after its mounts: hand it the drop as the command.
    return f'#!/bin/sh\nexec {shlex.quote(inner)} --bctrl-drop {uid} "$@"\n'


def _script(unshare: str, etc: Path, chromium: str, hidden: list[Path]) -> str:
    # A file may vanish between the test and the mount (SQLite's -journal comes and goes): only a
    # failure to hide what is still there stops the launch.
    hide = "\n".join(
        f"  if [ -d {q} ]; then mount -t tmpfs -o ro,size=4k,mode=0500 bctrl-hidden {q}; "
        f"elif [ -e {q} ]; then mount --bind /dev/null {q} || [ ! -e {q} ]; fi"
        for q in (shlex.quote(str(path)) for path in hidden)
    )
    inner = (
        "set -e\n"
        f"  mount --bind {shlex.quote(str(etc))} {shlex.quote(str(HOST_POLICY_ROOT))}\n"
        f"{hide}\n"
        '  if [ -n "$BCTRL_PROBE" ]; then exit 0; fi\n'
        '  if [ "$2" = --bctrl-drop ]; then chromium=$1; uid=$3; shift 3\n'
        '    exec setpriv --reuid="$uid" --regid="$uid" --clear-groups --no-new-privs -- "$chromium" "$@"\n'
        "  fi\n"
        '  exec "$@"\n'
    )
    return (
        "#!/bin/sh\n"
        "# Written by the engine at start (engine/egress/launcher.py): Chromium in a mount namespace\n"
        "# of its own, under the engine's URL policy, without sight of the engine's secrets.\n"
        f"exec {shlex.quote(unshare)} --mount --propagation private sh -c {shlex.quote(inner)} "
        f'chromium {shlex.quote(chromium)} "$@"\n'
    )


def _without(chromium: str, reason: str) -> Launcher:
    logger.warning(
        "Chromium's URL policy cannot be applied in a namespace here (%s). Runtimes still refuse "
        "other schemes in steps and leave pages that land on one, but for Chromium's own guard run "
        "the engine as root, allow user namespaces, or install %s as %s.",
        reason,
        POLICY_FILE_NAME,
        HOST_POLICY_ROOT / "policies" / "managed" / POLICY_FILE_NAME,
    )
    return Launcher(chromium, "none")
