"""The runtime launcher: Chromium (or anything) started in a runtime's own network and file view.

The engine writes this file, with a `#!` line naming its Python, as the executable that runtimes
start instead of Chromium (engine/egress/launcher.py). Run as root with Chromium's argv, it reads
the runtime's view from the environment variable BCTRL_JAIL (JSON, removed before Chromium
starts) and, in this process:

1. enters the runtime's network namespace (`netns`, a path to a namespace file, checked against
   `netnsInode`), where the only listening socket is the runtime's egress proxy on 127.0.0.1;
2. enters mount and IPC namespaces of its own and builds a root from nothing: a tmpfs holding
   read-only binds of /usr (Chromium, its libraries, fonts), a few named files of /etc, the
   engine's Chromium policy at /etc/chromium, a private /tmp and /dev/shm, a minimal /dev, a /proc
   that shows only the browser's own processes, and the runtime's own directories (`writable`,
   at the same absolute paths the engine uses, so every path Playwright or the engine passes
   still means the same thing; `readable` likewise, read-only);
3. makes that root its root (pivot_root, so Chromium's sandbox may still make its namespaces);
4. becomes `uid` (no groups, no new privileges) and executes `executable` with the argv given.

Every inherited file descriptor is passed on untouched (fds 3 and 4 of --remote-debugging-pipe).
Nothing here outlives the browser: the namespaces and mounts die with its last process.
Standard library only, and nothing is imported after the root changes.
"""

import ctypes
import json
import os
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS = 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
ENVIRONMENT = "BCTRL_JAIL"
# What of the host's /etc a browser needs (fonts, the dynamic linker's cache, Debian's Chromium
# wrapper flags, certificates, time zone); everything else of /etc stays out of its sight.
ETC = (
    "alternatives",
    "ca-certificates",
    "chromium.d",
    "fonts",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "ssl",
)
PRIVATE_TMP = "/tmp"  # noqa: S108 (a tmpfs of the browser's own, made here)
DEVICES = ("null", "zero", "full", "random", "urandom")
# The fontconfig cache, read-only: without it every launch would rebuild it (slowly) in $HOME.
SHARED = ("/var/cache/fontconfig",)

libc = ctypes.CDLL(None, use_errno=True)


class JailError(Exception):
    pass


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise JailError(f"{what}: {os.strerror(errno)}")


def mount(source: str | None, target: str, kind: str | None, flags: int, data: str | None = None) -> None:
    _check(
        libc.mount(
            None if source is None else source.encode(),
            target.encode(),
            None if kind is None else kind.encode(),
            flags,
            None if data is None else data.encode(),
        ),
        f"mount {source or kind} on {target}",
    )


def bind(source: str, target: str, flags: int) -> None:
    """`source` at `target` (a directory or file made for it), then remounted with `flags`."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "a"):
            pass
    mount(source, target, None, MS_BIND | MS_REC)
    mount(None, target, None, MS_REMOUNT | MS_BIND | flags)


def enter_network(path: str, inode: int) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        if os.fstat(fd).st_ino != inode:
            raise JailError(f"{path} is not the runtime's network namespace any more")
        _check(libc.setns(fd, CLONE_NEWNET), "enter the runtime's network namespace")
    finally:
        os.close(fd)


def build_root(view: dict, root: str) -> None:
    """Make `root` (an empty directory) the browser's whole filesystem."""
    mount("bctrl-root", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m")
    for name in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):
        if os.path.islink(f"/{name}"):  # merged /usr: /bin -> usr/bin and so on
            os.symlink(os.readlink(f"/{name}"), f"{root}/{name}")
    bind("/usr", f"{root}/usr", MS_RDONLY | MS_NOSUID | MS_NODEV)
    executable = os.path.dirname(os.path.realpath(view["executable"]))
    if not executable.startswith("/usr/"):  # a Chromium installed elsewhere (/opt, a cache dir)
        bind(executable, root + executable, MS_RDONLY | MS_NOSUID | MS_NODEV)
    for path in SHARED:
        if os.path.isdir(path):
            bind(path, root + path, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _etc(view, root)
    _dev(root)
    os.makedirs(f"{root}/proc")
    # hidepid=2 (invisible): the browser's user sees its own processes only (not the engine's, not others').
    mount("proc", f"{root}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
    os.makedirs(root + PRIVATE_TMP)
    mount("bctrl-tmp", root + PRIVATE_TMP, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    for path in view.get("writable", []):
        bind(path, root + path, MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for path in view.get("readable", []):
        bind(path, root + path, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _etc(view: dict, root: str) -> None:
    os.makedirs(f"{root}/etc")
    for name in ETC:
        host = f"/etc/{name}"
        if os.path.islink(host):
            os.symlink(os.readlink(host), f"{root}{host}")
        elif os.path.exists(host):
            bind(host, root + host, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    uid = view["uid"]
    with open(f"{root}/etc/passwd", "w") as passwd:
        passwd.write(
            f"root:x:0:0::/nonexistent:/usr/sbin/nologin\nbrowser:x:{uid}:{uid}::{view['home']}:/usr/sbin/nologin\n"
        )
    with open(f"{root}/etc/group", "w") as group:
        group.write(f"root:x:0:\nbrowser:x:{uid}:\n")
    if view.get("policy"):
        bind(view["policy"], f"{root}/etc/chromium", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _dev(root: str) -> None:
    dev = f"{root}/dev"
    os.makedirs(dev)
    mount("bctrl-dev", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k")
    for name in DEVICES:
        bind(f"/dev/{name}", f"{dev}/{name}", MS_NOSUID | MS_NOEXEC)
    os.makedirs(f"{dev}/shm")
    mount("bctrl-shm", f"{dev}/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    os.symlink("/proc/self/fd", f"{dev}/fd")
    for number, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{number}", f"{dev}/{name}")


def pivot(root: str) -> None:
    number = SYS_PIVOT_ROOT.get(os.uname().machine)
    if number is None:
        raise JailError(f"pivot_root: unknown on {os.uname().machine}")
    os.chdir(root)
    # pivot_root(".", "."): the old root ends up under the new one, and is detached at once.
    _check(libc.syscall(number, b".", b"."), "pivot_root")
    _check(libc.umount2(b".", MNT_DETACH), "detach the host's root")
    os.chdir("/")


def become(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def enter(view: dict) -> None:
    """Everything but the exec: after this the process sees only the runtime's view, as its uid."""
    if view.get("netns"):
        enter_network(view["netns"], int(view["netnsInode"]))
    _check(libc.unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare mount and IPC namespaces")
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here shows anywhere else
    build_root(view, view["root"])
    pivot(view["root"])
    become(int(view["uid"]))
    os.chdir(view["home"])


def main() -> None:
    raw = os.environ.pop(ENVIRONMENT, None)
    if raw is None:
        sys.exit(f"{sys.argv[0]}: {ENVIRONMENT} is not set; this launcher is started by the engine.")
    view = json.loads(raw)
    try:
        enter(view)
    except (JailError, OSError) as exc:
        sys.exit(f"bctrl runtime launcher: {exc}")
    environment = {**os.environ, "HOME": view["home"], "TMPDIR": PRIVATE_TMP}
    os.execve(view["executable"], [view["executable"], *sys.argv[1:]], environment)  # noqa: S606


if __name__ == "__main__":
    main()
