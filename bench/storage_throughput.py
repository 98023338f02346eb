"""Storage throughput of the engine against a plain file copy on the same disk.

Starts its own engine (tests.support.engine_process.EngineProcess) in a temporary var dir,
uploads a 50 MB object over HTTP (PUT, raw body) and downloads it back (streamed GET), and
compares each with copying the same 50 MB file on the disk the engine writes to. Prints MB/s
and the ratio to the baseline; the best of a few rounds, so a neighbour's burst does not
decide the figure.

    .venv/bin/python bench/storage_throughput.py [--mb 50] [--rounds 3]
"""

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.engine_process import EngineProcess


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
            copies: list[float] = []
            reads: list[float] = []
            uploads: list[float] = []
            downloads: list[float] = []
            with engine.client(timeout=300) as client:
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

                    uploads.append(timed(upload))
                    downloads.append(timed(download))
                    client.delete(f"/storage/bench/objects/round-{round_}.bin")
        finally:
            engine.stop()

    def rate(seconds: float) -> float:
        return size / seconds / (1024 * 1024)

    best = {
        name: min(values)
        for name, values in {"copy": copies, "read": reads, "upload": uploads, "download": downloads}.items()
    }
    print(f"object: {options.mb} MB, rounds: {options.rounds} (best shown; median in brackets)")
    print(
        f"baseline file copy+fsync: {rate(best['copy']):8.1f} MB/s  [{rate(statistics.median(copies)):.1f}]"
    )
    print(f"baseline file read:       {rate(best['read']):8.1f} MB/s  [{rate(statistics.median(reads)):.1f}]")
    print(
        f"engine upload (PUT):      {rate(best['upload']):8.1f} MB/s  [{rate(statistics.median(uploads)):.1f}]"
        f"  engine/baseline: {best['copy'] / best['upload']:.2f}x of copy"
    )
    print(
        f"engine download (GET):    {rate(best['download']):8.1f} MB/s  [{rate(statistics.median(downloads)):.1f}]"
        f"  engine/baseline: {best['read'] / best['download']:.2f}x of read"
    )


if __name__ == "__main__":
    main()
