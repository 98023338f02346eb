"""Storage throughput of the engine against plain baselines, in the same run.

Starts its own engine (tests.support.engine_process.EngineProcess) in a temporary var dir,
uploads a 50 MB object over HTTP (PUT, raw body) and downloads it back (streamed GET):
  upload   against copying the same 50 MB file on the same disk with fsync (goal ≥ 0.7x), and
           against the same bytes PUT to the bare ASGI app below, which writes and fsyncs them
           (what the server software itself allows: HTTP parsing is most of an upload's cost);
  download against the same bytes streamed from the same disk by a bare ASGI app (a dozen
           lines, below) on the same server software, uvicorn (goal ≥ 0.5x), and against a
           plain file read (for scale).
Prints MB/s and the ratios; the best of a few rounds, so a neighbour's burst does not decide
the figure.

    .venv/bin/python bench/storage_throughput.py [--mb 50] [--rounds 3]
"""

import argparse
import asyncio
import hashlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.engine_process import EngineProcess

CHUNK = 1024 * 1024


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The baseline server. GET: the file named by BARE_FILE, streamed in 1 MB reads. PUT: the
    body written to a file beside it as it arrives, then fsync'd. Nothing else."""
    if scope["type"] != "http":
        return
    path = Path(os.environ["BARE_FILE"])
    if scope["method"] == "PUT":
        with path.with_name("bare-upload.bin").open("wb") as target:
            while True:
                message = await receive()
                await asyncio.to_thread(target.write, message.get("body", b""))
                if not message.get("more_body"):
                    break
            await asyncio.to_thread(os.fsync, target.fileno())
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(path.stat().st_size).encode())],
        }
    )
    with path.open("rb") as handle:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def start_bare(file: Path) -> tuple[subprocess.Popen[bytes], str]:
    """uvicorn serving bare_app on a socket bound here (as the engine's is), like the engine's uvicorn."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(Path(__file__).parent),
            "--fd",
            str(listener.fileno()),
            "--log-level",
            "warning",
            "storage_throughput:bare_app",
        ],
        env={**os.environ, "BARE_FILE": str(file)},
        pass_fds=(listener.fileno(),),
    )
    listener.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1).raise_for_status()
            return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the bare ASGI baseline did not start")


def timed(action: "object") -> float:
    started = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    size = options.mb * 1024 * 1024
    data = os.urandom(size)
    digest = hashlib.sha256(data).hexdigest()

    with tempfile.TemporaryDirectory(
        prefix="bench-storage-", dir=Path("var").resolve() if Path("var").is_dir() else None
    ) as tmp:
        var_dir = Path(tmp) / "engine"
        engine = EngineProcess(var_dir, extra_env={"ENGINE_RATE_LIMIT_PER_MINUTE": "0"}).start()
        try:
            source = Path(tmp) / "source.bin"
            source.write_bytes(data)
            bare, bare_url = start_bare(source)
            copies: list[float] = []
            reads: list[float] = []
            bares: list[float] = []
            bare_puts: list[float] = []
            uploads: list[float] = []
            downloads: list[float] = []
            with engine.client(timeout=300) as client, httpx.Client(timeout=300) as plain:
                for round_ in range(options.rounds):
                    target = Path(tmp) / f"copy-{round_}.bin"

                    def copy(target: Path = target) -> None:
                        shutil.copyfile(source, target)
                        with target.open("rb+") as handle:
                            os.fsync(handle.fileno())  # the engine fsyncs its blobs; so does the baseline

                    copies.append(timed(copy))
                    reads.append(timed(lambda: target.read_bytes()))  # noqa: B023
                    target.unlink()

                    def upload() -> None:
                        response = client.put(
                            f"/storage/bench/objects/round-{round_}.bin",  # noqa: B023
                            content=data,
                            headers={"Content-Type": "application/octet-stream"},
                        )
                        assert response.status_code in (200, 201), response.text
                        assert response.json()["sha256"] == digest

                    def download() -> None:
                        hasher = hashlib.sha256()
                        with client.stream("GET", f"/storage/bench/content/round-{round_}.bin") as response:  # noqa: B023
                            assert response.status_code == 200
                            for chunk in response.iter_bytes(1024 * 1024):
                                hasher.update(chunk)
                        assert hasher.hexdigest() == digest

                    def bare_download() -> None:
                        hasher = hashlib.sha256()
                        with plain.stream("GET", bare_url) as response:
                            assert response.status_code == 200
                            for chunk in response.iter_bytes(1024 * 1024):
                                hasher.update(chunk)
                        assert hasher.hexdigest() == digest

                    def bare_upload() -> None:
                        response = plain.put(bare_url, content=data)
                        assert response.status_code == 201

                    uploads.append(timed(upload))
                    downloads.append(timed(download))
                    bares.append(timed(bare_download))
                    bare_puts.append(timed(bare_upload))
                    client.delete(f"/storage/bench/objects/round-{round_}.bin")
            bare.terminate()
            bare.wait(10)
        finally:
            engine.stop()

    def rate(seconds: float) -> float:
        return size / seconds / (1024 * 1024)

    best = {
        name: min(values)
        for name, values in {
            "copy": copies,
            "read": reads,
            "bare": bares,
            "bare_put": bare_puts,
            "upload": uploads,
            "download": downloads,
        }.items()
    }
    print(f"object: {options.mb} MB, rounds: {options.rounds} (best shown; median in brackets)")
    print(
        f"baseline file copy+fsync: {rate(best['copy']):8.1f} MB/s  [{rate(statistics.median(copies)):.1f}]"
    )
    print(f"baseline file read:       {rate(best['read']):8.1f} MB/s  [{rate(statistics.median(reads)):.1f}]")
    print(f"baseline bare ASGI GET:   {rate(best['bare']):8.1f} MB/s  [{rate(statistics.median(bares)):.1f}]")
    print(
        f"baseline bare ASGI PUT:   {rate(best['bare_put']):8.1f} MB/s  [{rate(statistics.median(bare_puts)):.1f}]"
        f"  {best['copy'] / best['bare_put']:.2f}x of copy+fsync"
    )
    print(
        f"engine upload (PUT):      {rate(best['upload']):8.1f} MB/s  [{rate(statistics.median(uploads)):.1f}]"
        f"  {best['copy'] / best['upload']:.2f}x of copy+fsync (goal ≥ 0.7),"
        f" {best['bare_put'] / best['upload']:.2f}x of the bare ASGI PUT"
    )
    print(
        f"engine download (GET):    {rate(best['download']):8.1f} MB/s  [{rate(statistics.median(downloads)):.1f}]"
        f"  {best['bare'] / best['download']:.2f}x of the bare ASGI app (goal ≥ 0.5),"
        f" {best['read'] / best['download']:.2f}x of a file read"
    )


if __name__ == "__main__":
    main()
