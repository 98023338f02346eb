"""How much memory the console takes to pass a 120 MB upload on to the API.

Starts an engine (storage limit raised to 256 MB) and a console (daphne), signs in, uploads a
120 MB file through the console's storage upload form, and reads the console process's peak
resident memory (VmHWM, reset just before the upload) against its resident memory just before.
Prints the growth and its ratio to the file's size, the baseline of this run: 1.0 means the
console held the whole file in memory once.

Measured on this branch: 14.0 before (Twisted parsed every multipart body into memory under
daphne, and the view read the file whole), 1.07 after (dashboard/asgi.py turns Twisted's parsing
off, the view streams the file from Django's temporary file to the API). What remains is daphne
itself: it reads the request body from Twisted's temporary file into the application's queue all
at once before Django reads it; an ASGI server with backpressure would bring the ratio near 0.

    .venv/bin/python bench/console_upload_memory.py [size in MB, default 120]
"""

import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.console_pages import signed_in  # noqa: E402  (the same "bench" user, signed in the same way)
from tests.support.console_process import ConsoleProcess  # noqa: E402
from tests.support.engine_process import EngineProcess  # noqa: E402

MB = 1024 * 1024
NAMESPACE = "bench-uploads"


def memory(pid: int, field: str) -> int:
    """A VmRSS/VmHWM line of /proc/<pid>/status, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} for {pid}")


def reset_peak(pid: int) -> None:
    # Writing 5 to clear_refs resets the peak resident set size (VmHWM) to the current one.
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def upload(client: httpx.Client, console: ConsoleProcess, path: Path) -> httpx.Response:
    client.get(f"/storage/{NAMESPACE}/")
    with path.open("rb") as handle:
        return client.post(
            f"/storage/{NAMESPACE}/upload/",
            data={"folder": "", "name": path.name, "csrfmiddlewaretoken": client.cookies["csrftoken"]},
            files={"file": (path.name, handle, "application/octet-stream")},
            headers={"Referer": f"{console.url}/storage/{NAMESPACE}/"},
        )


def main() -> None:
    size = int(sys.argv[1]) * MB if len(sys.argv) > 1 else 120 * MB
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        engine = EngineProcess(work / "engine", {"ENGINE_STORAGE_MAX_BYTES": str(256 * MB)}).start()
        console = ConsoleProcess(work / "console", f"{engine.url}/v1", engine.keys["operator"])
        try:
            console.start()
            console.create_user("bench", "operator", "bench correct horse 1")
            assert console.process is not None
            pid = console.process.pid
            big = work / "big.bin"
            with big.open("wb") as handle:
                for _ in range(size // MB):
                    handle.write(b"\xa5" * MB)
            client = signed_in(console)
            small = work / "small.bin"
            small.write_bytes(b"warm up")
            assert upload(client, console, small).status_code in (200, 302)  # warm every code path
            before = memory(pid, "VmRSS")
            reset_peak(pid)
            response = upload(client, console, big)
            peak = memory(pid, "VmHWM")
            client.close()
            assert response.status_code in (200, 302), (response.status_code, response.text[:2000])
            with engine.client("admin") as api:
                stored = api.get(f"/storage/{NAMESPACE}/objects/big.bin").json()
            assert stored["sizeBytes"] == size, stored
        finally:
            console.stop()
            engine.stop()
    growth = peak - before
    print(
        f"upload of {size / MB:.0f} MB through the console (stored upstream: {stored['sizeBytes'] / MB:.0f} MB)"
    )
    print(f"  console resident before   {before / MB:8.1f} MB")
    print(f"  console peak during       {peak / MB:8.1f} MB")
    print(f"  growth                    {growth / MB:8.1f} MB")
    print(
        f"  growth / file size        {growth / size:8.2f}   (1.00 = the whole file held once; daphne's own floor)"
    )


if __name__ == "__main__":
    main()
