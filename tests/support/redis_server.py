"""Start a real redis-server on loopback, with nothing saved to disk (the multi-process console's
shared cache and channel layer, in tests and benches)."""

import shutil
import subprocess
import time
from pathlib import Path

import redis

from tests.support.engine_process import free_port

REDIS = shutil.which("redis-server")


class RedisServer:
    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> "RedisServer":
        if REDIS is None:
            raise RuntimeError("redis-server is missing: bin/setup installs it")
        port = free_port()
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                *(REDIS, "--port", str(port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.var_dir)),
            ],
            stdout=subprocess.DEVNULL,
        )
        self.url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
