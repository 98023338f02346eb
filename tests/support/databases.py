"""Which database the processes a test run starts use: SQLite (the default), or PostgreSQL in the
PostgreSQL run (`pytest --ds tests.postgres_settings -m database`, which bin/test runs after the
whole suite on SQLite).

In that run tests/postgres_settings.py starts a PostgreSQL server before Django connects, points
the console's test database at it and calls `use_postgres`; from then on every engine and console
process the suite starts gets a database of its own on that server, named after its var dir so a
restart on the same var dir finds its data again.
"""

import hashlib
from pathlib import Path

from tests.support.postgres_server import PostgresServer

_postgres: PostgresServer | None = None


def use_postgres(server: PostgresServer) -> None:
    global _postgres
    _postgres = server


def _on_postgres(kind: str, var_dir: Path) -> str:
    assert _postgres is not None
    return _postgres.database(f"{kind}_{hashlib.sha256(str(var_dir).encode()).hexdigest()[:16]}")


def engine_database_url(var_dir: Path) -> str | None:
    """An engine's ENGINE_DATABASE_URL in this run (None: its default, SQLite in its var dir)."""
    return _on_postgres("engine", var_dir) if _postgres else None


def console_database_url(var_dir: Path) -> str:
    """A console process's DATABASE_URL in this run: its own, never the tests' one."""
    return _on_postgres("console", var_dir) if _postgres else f"sqlite:///{var_dir / 'console.sqlite3'}"
