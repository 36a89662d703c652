"""The library folder: SQLite is the source of truth for articles, sentences, chunks, vectors and FTS5.

Layout of a library folder::

    quotebot.json       manifest: format, version, embedder, dimension (read by people and by us)
    library.sqlite3     articles, chunks, sentences, their vectors, FTS5 over chunk text (WAL mode)
    vectors.faiss       derived FAISS index, stamped with the generation it was built from
    write.lock          held by the one process that writes

Each write is one transaction that also bumps the generation, so a crash leaves each article in its old or
its new state, and a stale FAISS index is noticed and rebuilt. Every other file is written to a `.tmp`
sibling, fsynced, renamed over the old one and its folder fsynced, so a power cut leaves the old file or the
new one, never a short one; a `.tmp` left by a crash is removed the next time a writer opens the library.
A folder this process may not write to is opened read-only and still answers.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, ValidationError

from index import lexical
from index.errors import (
    ArticleNotFound,
    CorruptLibrary,
    DiskFull,
    EmbedderMismatch,
    LibraryBusy,
    NotALibrary,
    ReadOnlyLibrary,
)
from index.models import Article, ArticleSummary
from index.types import CandidateSentence, NewChunk

__all__ = ["Manifest", "Store", "write_durably"]

logger = logging.getLogger(__name__)

MANIFEST_NAME = "quotebot.json"
DATABASE_NAME = "library.sqlite3"
LOCK_NAME = "write.lock"
FORMAT = "quotebot-library"
FORMAT_VERSION = 1
WRITE_WAIT_SECONDS = 30.0
_OWN_FILES = {
    DATABASE_NAME,
    DATABASE_NAME + "-wal",
    DATABASE_NAME + "-shm",
    DATABASE_NAME + "-journal",
    LOCK_NAME,
    MANIFEST_NAME + ".tmp",
    "vectors.faiss",
    "vectors.faiss.tmp",
    "vectors.delta.npz",
    "vectors.delta.npz.tmp",
    "vectors.json",
    "vectors.json.tmp",
}
_TEMPORARY_FILES = sorted(name for name in _OWN_FILES if name.endswith(".tmp"))
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
_READ_ONLY = {errno.EACCES, errno.EPERM, errno.EROFS}

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    url TEXT,
    date TEXT,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    added_at TEXT NOT NULL,
    author TEXT,
    site TEXT
);
CREATE INDEX IF NOT EXISTS articles_by_hash ON articles(content_hash);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    start INTEGER NOT NULL,
    stop INTEGER NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_article ON chunks(article_id);
CREATE TABLE IF NOT EXISTS sentences (
    id INTEGER PRIMARY KEY,
    chunk_id INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
    article_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    start INTEGER NOT NULL,
    stop INTEGER NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sentences_by_chunk ON sentences(chunk_id);
CREATE INDEX IF NOT EXISTS sentences_by_article ON sentences(article_id, position);
-- MinHash bands of each article's words (index/duplicates.py), to find a near-duplicate among them at add time.
CREATE TABLE IF NOT EXISTS article_bands (value INTEGER NOT NULL, article_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS article_bands_by_value ON article_bands(value);
CREATE INDEX IF NOT EXISTS article_bands_by_article ON article_bands(article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_text USING fts5(text, tokenize = '{lexical.FTS5_TOKENIZER}');
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_terms USING fts5vocab(chunk_text, 'row');
"""


class Manifest(BaseModel):
    """The library's `quotebot.json`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str = FORMAT
    version: int = FORMAT_VERSION
    embedder: str
    dimension: int
    created_at: str


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


class Store:
    """SQLite access for one library folder; one connection per thread, one writer process at a time."""

    def __init__(
        self, folder: Path, *, embedder: str, dimension: int, write_wait_seconds: float = WRITE_WAIT_SECONDS
    ) -> None:
        self.folder = folder
        # How long `writing()` waits for another writer before it says the library is busy.
        self.write_wait_seconds = write_wait_seconds
        existing = _open_folder(folder, embedder=embedder, dimension=dimension)
        self.created = existing is None
        self.manifest = existing or Manifest(embedder=embedder, dimension=dimension, created_at=now())
        # A library on a read-only mount, or one another user owns, still answers: SQLite opens it read-only.
        self.read_only = existing is not None and not (
            os.access(folder, os.W_OK) and os.access(folder / DATABASE_NAME, os.W_OK)
        )
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._writer: int | None = None
        connection = self.connection()
        if self.read_only:
            return
        try:
            with connection:
                connection.executescript(_SCHEMA)
                _add_detail_columns(connection)
                connection.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0')")
        except sqlite3.DatabaseError as error:
            self.close()
            raise _space_or_permission(error, self.database_path) or _corrupt(error, self.database_path) from error
        if self.created:
            _write_manifest(folder, self.manifest)
        with self.try_writing() as locked:
            if locked:
                for name in _TEMPORARY_FILES:
                    (folder / name).unlink(missing_ok=True)
                # Vector index bases written ahead of a save (index.vectors) by processes that did not get to it.
                for path in folder.glob("vectors.faiss.next-*"):
                    path.unlink(missing_ok=True)

    @property
    def database_path(self) -> Path:
        return self.folder / DATABASE_NAME

    def connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            try:
                # Each thread gets its own connection; check_same_thread=False only lets close() end them all.
                connection = sqlite3.connect(
                    self._address(), timeout=WRITE_WAIT_SECONDS, isolation_level=None, check_same_thread=False, uri=True
                )
            except sqlite3.DatabaseError as error:
                raise _space_or_permission(error, self.database_path) or _corrupt(error, self.database_path) from error
            _register_functions(connection)
            try:
                if not self.read_only:
                    connection.execute("PRAGMA journal_mode = WAL")
                    connection.execute("PRAGMA synchronous = NORMAL")
                connection.execute("PRAGMA foreign_keys = ON")
            except sqlite3.DatabaseError as error:
                connection.close()
                raise _space_or_permission(error, self.database_path) or _corrupt(error, self.database_path) from error
            self._local.connection = connection
            with self._connections_lock:
                self._connections.append(connection)
        return connection

    def _address(self) -> str:
        """The database's URI: read-write, or read-only (immutable when no writer has left a WAL behind)."""
        address = self.database_path.absolute().as_uri()
        if not self.read_only:
            return address
        # Without a WAL there is nothing to recover, and SQLite cannot create the -shm a WAL reader needs.
        wal = self.folder / (DATABASE_NAME + "-wal")
        return address + ("?mode=ro" if wal.exists() else "?mode=ro&immutable=1")

    def close(self) -> None:
        with self._connections_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the library's write lock (this process and others) for a run of transactions."""
        from filelock import FileLock, Timeout

        with self._write_lock:
            if self.read_only:
                raise ReadOnlyLibrary(
                    f"{str(self.folder)!r} is read-only for this process; ask its owner, or copy it to a folder "
                    "you may write to, to change it"
                )
            lock = FileLock(self.folder / LOCK_NAME)
            try:
                lock.acquire(timeout=self.write_wait_seconds)
            except Timeout as error:
                raise LibraryBusy(
                    f"another quotebot process has been writing to {str(self.folder)!r} for over "
                    f"{self.write_wait_seconds:.0f} s; wait for it to finish and try again"
                ) from error
            except OSError as error:
                mapped = _file_error(error, self.folder / LOCK_NAME)
                if mapped is None:
                    raise
                raise mapped from error
            self._writer = threading.get_ident()
            try:
                yield
            finally:
                self._writer = None
                lock.release()

    @contextlib.contextmanager
    def try_writing(self) -> Iterator[bool]:
        """Hold the write lock if nobody else does, without waiting: yields whether it is held."""
        from filelock import FileLock, Timeout

        if self._writer == threading.get_ident():
            yield True  # inside this thread's own `writing()`
            return
        if self.read_only or not self._write_lock.acquire(blocking=False):
            yield False
            return
        try:
            lock = FileLock(self.folder / LOCK_NAME)
            try:
                lock.acquire(timeout=0)
            except (Timeout, OSError):
                yield False
                return
            self._writer = threading.get_ident()
            try:
                yield True
            finally:
                self._writer = None
                lock.release()
        finally:
            self._write_lock.release()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write that bumps the generation; call inside `writing()`."""
        connection = self.connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
            connection.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
            connection.execute("COMMIT")
        except BaseException as error:
            # SQLite has already rolled back after SQLITE_FULL; a second ROLLBACK would hide why.
            if connection.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
            mapped = _space_or_permission(error, self.database_path) if isinstance(error, sqlite3.Error) else None
            if mapped is None:
                raise
            raise mapped from error

    def generation(self) -> int:
        row = self.connection().execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0])

    def find(self, *, source: str, content_hash: str) -> tuple[str | None, str | None, str | None]:
        """(id of an article with this exact text, preferring this source's; its source; id of the article from
        this source)."""
        connection = self.connection()
        same_text = connection.execute(
            "SELECT id, source FROM articles WHERE content_hash = ? ORDER BY source = ? DESC LIMIT 1",
            (content_hash, source),
        ).fetchone()
        same_source = connection.execute("SELECT id FROM articles WHERE source = ?", (source,)).fetchone()
        return (
            same_text[0] if same_text else None,
            same_text[1] if same_text else None,
            same_source[0] if same_source else None,
        )

    def insert_article(self, connection: sqlite3.Connection, article: Article, chunks: Sequence[NewChunk]) -> list[int]:
        connection.execute(
            "INSERT INTO articles(id, source, title, url, date, text, content_hash, added_at, author, site)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                article.id,
                article.source,
                article.title,
                article.url,
                article.date,
                article.text,
                article.content_hash,
                article.added_at,
                article.author,
                article.site,
            ),
        )
        chunk_ids = []
        sentence_position = 0
        for position, chunk in enumerate(chunks):
            cursor = connection.execute(
                "INSERT INTO chunks(article_id, position, start, stop, vector) VALUES (?,?,?,?,?)",
                (article.id, position, chunk.start, chunk.stop, _blob(chunk.vector)),
            )
            chunk_id = cursor.lastrowid
            assert chunk_id is not None
            chunk_ids.append(chunk_id)
            connection.execute("INSERT INTO chunk_text(rowid, text) VALUES (?, ?)", (chunk_id, chunk.text))
            rows = []
            for start, stop, vector in chunk.sentences:
                rows.append((chunk_id, article.id, sentence_position, start, stop, _blob(vector.astype(np.float16))))
                sentence_position += 1
            connection.executemany(
                "INSERT INTO sentences(chunk_id, article_id, position, start, stop, vector) VALUES (?,?,?,?,?,?)",
                rows,
            )
        return chunk_ids

    def delete_article(self, connection: sqlite3.Connection, article_id: str) -> list[int]:
        chunk_ids = [row[0] for row in connection.execute("SELECT id FROM chunks WHERE article_id = ?", (article_id,))]
        connection.executemany("DELETE FROM chunk_text WHERE rowid = ?", [(chunk_id,) for chunk_id in chunk_ids])
        connection.execute("DELETE FROM sentences WHERE article_id = ?", (article_id,))
        connection.execute("DELETE FROM chunks WHERE article_id = ?", (article_id,))
        connection.execute("DELETE FROM article_bands WHERE article_id = ?", (article_id,))
        connection.execute("DELETE FROM articles WHERE id = ?", (article_id,))
        return chunk_ids

    def insert_bands(self, connection: sqlite3.Connection, article_id: str, bands: Sequence[int]) -> None:
        connection.executemany(
            "INSERT INTO article_bands(value, article_id) VALUES (?, ?)", [(band, article_id) for band in bands]
        )

    def band_matches(self, bands: Sequence[int], *, least: int = 1) -> list[str]:
        """Ids of up to 20 articles that share at least `least` MinHash bands with `bands`, most shared first."""
        marks = ",".join("?" * len(bands))
        rows = self.connection().execute(
            f"SELECT article_id, count(*) AS shared FROM article_bands WHERE value IN ({marks})"
            " GROUP BY article_id HAVING count(*) >= ? ORDER BY shared DESC LIMIT 20",
            [*bands, int(least)],
        )
        return [row[0] for row in rows]

    def article(self, article_id: str) -> Article:
        row = (
            self.connection()
            .execute(
                f"SELECT id, text, source, title, url, date, content_hash, added_at, {self._details()} FROM articles"
                " WHERE id = ?",
                (article_id,),
            )
            .fetchone()
        )
        if row is None:
            raise ArticleNotFound(f"no article has id {article_id!r}; `quotebot sources` lists the ids")
        keys = ("id", "text", "source", "title", "url", "date", "content_hash", "added_at", "author", "site")
        return Article(**dict(zip(keys, row, strict=True)))

    def article_slice(self, article_id: str, start: int, stop: int) -> tuple[str, str, str | None, str]:
        """(title, source, url, text[start:stop]) of an article."""
        row = (
            self.connection()
            .execute(
                f"SELECT title, source, url, {_slice_sql('text', ':start', ':stop')} FROM articles WHERE id = :id",
                {"start": start, "stop": stop, "id": article_id},
            )
            .fetchone()
        )
        if row is None:
            raise ArticleNotFound(f"no article has id {article_id!r}; `quotebot sources` lists the ids")
        return row[0], row[1], row[2], row[3]

    def article_details(self, article_id: str) -> tuple[str | None, str | None]:
        """(date, author) of an article, for a quote's citation."""
        row = (
            self.connection()
            .execute(f"SELECT date, {self._details()} FROM articles WHERE id = ?", (article_id,))
            .fetchone()
        )
        return (row[0], row[1]) if row else (None, None)

    def _details(self) -> str:
        """The author and site columns, or NULLs in a read-only library made before they existed."""
        columns = {row[1] for row in self.connection().execute("PRAGMA table_info(articles)")}
        return "author, site" if "author" in columns else "NULL, NULL"

    def sources_under(self, prefix: str) -> dict[str, tuple[str, str]]:
        """{source: (article id, content hash)} of the articles whose source starts with `prefix`."""
        # Compared as UTF-8 bytes: substr() on text stops at a NUL, which a file name may hold.
        encoded = prefix.encode("utf-8")
        rows = self.connection().execute(
            "SELECT source, id, content_hash FROM articles WHERE substr(CAST(source AS BLOB), 1, ?) = ?",
            (len(encoded), encoded),
        )
        return {row[0]: (row[1], row[2]) for row in rows}

    def article_ids(self) -> set[str]:
        return {row[0] for row in self.connection().execute("SELECT id FROM articles")}

    def ids_starting_with(self, prefix: str, *, limit: int) -> list[str]:
        """Up to `limit` article ids that start with `prefix`, in order (a range on the primary key)."""
        # SQLite compares text as UTF-8 bytes, and no character sorts after U+10FFFF: the range is every id
        # that starts with the prefix, found through the index rather than by scanning.
        rows = self.connection().execute(
            "SELECT id FROM articles WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
            (prefix, prefix + "\U0010ffff", limit),
        )
        return [row[0] for row in rows]

    def summaries(self) -> list[ArticleSummary]:
        rows = self.connection().execute(
            f"SELECT a.id, a.title, a.source, a.url, a.date, {_LENGTH_SQL},"
            " (SELECT count(*) FROM chunks c WHERE c.article_id = a.id),"
            f" {self._details().split(',')[0]}"
            " FROM articles a ORDER BY a.added_at, a.title"
        )
        return [
            ArticleSummary(
                id=row[0],
                title=row[1],
                source=row[2],
                url=row[3],
                date=row[4],
                characters=row[5],
                chunks=row[6],
                author=row[7],
            )
            for row in rows
        ]

    def counts(self) -> tuple[int, int, int]:
        connection = self.connection()
        return tuple(
            connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("articles", "chunks", "sentences")
        )

    def all_chunk_vectors(self) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Every chunk id and vector, streamed into arrays sized up front (no second copy at 1M chunks)."""
        connection = self.connection()
        connection.execute("BEGIN")
        try:
            # One read transaction, so the count and the rows agree even while another process writes.
            count = connection.execute("SELECT count(*) FROM chunks").fetchone()[0]
            ids = np.empty(count, dtype=np.int64)
            vectors = np.empty((count, self.manifest.dimension), dtype=np.float32)
            for row, (chunk_id, blob) in enumerate(connection.execute("SELECT id, vector FROM chunks ORDER BY id")):
                ids[row] = chunk_id
                vectors[row] = np.frombuffer(blob, dtype=np.float32)
        finally:
            connection.execute("COMMIT")
        return ids, vectors

    def chunk_vectors(self, chunk_ids: Sequence[int]) -> dict[int, NDArray[np.float32]]:
        marks = ",".join("?" * len(chunk_ids))
        rows = self.connection().execute(f"SELECT id, vector FROM chunks WHERE id IN ({marks})", list(chunk_ids))
        return {row[0]: np.frombuffer(row[1], dtype=np.float32) for row in rows}

    def lexical(self, terms: Sequence[str], *, limit: int) -> list[tuple[int, float]]:
        """Chunks by FTS5 BM25 for any of `terms`; scores are positive, higher is better."""
        if not terms:
            return []
        query = " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
        rows = self.connection().execute(
            "SELECT rowid, -bm25(chunk_text) FROM chunk_text WHERE chunk_text MATCH ?"
            " ORDER BY bm25(chunk_text) LIMIT ?",
            (query, limit),
        )
        return [(row[0], float(row[1])) for row in rows]

    def lexical_within(
        self, terms: Sequence[str], article_ids: Sequence[str], *, limit: int
    ) -> list[tuple[int, float]]:
        """`lexical`, restricted to the chunks of `article_ids` by a join (so `limit` of them come back)."""
        if not terms or not article_ids:
            return []
        query = " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
        rows = self.connection().execute(
            "SELECT rowid, -bm25(chunk_text) FROM chunk_text WHERE chunk_text MATCH ?"
            " AND rowid IN (SELECT c.id FROM chunks c WHERE c.article_id IN (SELECT value FROM json_each(?)))"
            " ORDER BY bm25(chunk_text) LIMIT ?",
            (query, json.dumps(list(article_ids)), limit),
        )
        return [(row[0], float(row[1])) for row in rows]

    def article_fields(self) -> list[tuple[str, str, str, str | None]]:
        """(id, source, title, date) of every article: what a filter (`Where`) is matched against."""
        return [
            (row[0], row[1], row[2], row[3])
            for row in self.connection().execute("SELECT id, source, title, date FROM articles")
        ]

    def chunk_ids_of(self, article_ids: Sequence[str]) -> list[int]:
        rows = self.connection().execute(
            "SELECT id FROM chunks WHERE article_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(article_ids)),),
        )
        return [row[0] for row in rows]

    def document_frequencies(self, stems: Iterable[str]) -> tuple[dict[str, int], int]:
        """How many chunks hold each stemmed term, and the number of chunks."""
        stems = list(set(stems))
        connection = self.connection()
        # count(*) on an FTS5 table reads every row (25 ms at 100,000 chunks); chunks has one row per FTS5 row.
        total = connection.execute("SELECT count(*) FROM chunks").fetchone()[0]
        if not stems:
            return {}, total
        marks = ",".join("?" * len(stems))
        rows = connection.execute(f"SELECT term, doc FROM chunk_terms WHERE term IN ({marks})", stems)
        return {row[0]: int(row[1]) for row in rows}, int(total)

    def sentences_of_chunks(self, chunk_ids: Sequence[int]) -> list[CandidateSentence]:
        marks = ",".join("?" * len(chunk_ids))
        rows = self.connection().execute(
            "SELECT s.id, s.chunk_id, s.article_id, s.position, s.start, s.stop,"
            f" {_slice_sql('a.text', 's.start', 's.stop')}, s.vector"
            f" FROM sentences s JOIN articles a ON a.id = s.article_id WHERE s.chunk_id IN ({marks})",
            list(chunk_ids),
        )
        return [
            CandidateSentence(
                id=row[0],
                chunk_id=row[1],
                article_id=row[2],
                position=row[3],
                start=row[4],
                stop=row[5],
                text=row[6],
                vector=np.frombuffer(row[7], dtype=np.float16).astype(np.float32),
            )
            for row in rows
        ]

    def neighbours(self, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], tuple[int, int, str]]:
        """(start, stop, text) of the sentences at each (article id, position) that exists."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        clauses = " OR ".join("(s.article_id = ? AND s.position = ?)" for _ in wanted)
        rows = self.connection().execute(
            f"SELECT s.article_id, s.position, s.start, s.stop, {_slice_sql('a.text', 's.start', 's.stop')}"
            f" FROM sentences s JOIN articles a ON a.id = s.article_id WHERE {clauses}",
            [value for key in wanted for value in key],
        )
        return {(row[0], row[1]): (row[2], row[3], row[4]) for row in rows}

    def sentence_spans(self, article_id: str) -> list[tuple[int, int]]:
        rows = self.connection().execute(
            "SELECT start, stop FROM sentences WHERE article_id = ? ORDER BY position", (article_id,)
        )
        return [(row[0], row[1]) for row in rows]

    def article_headers(self, article_ids: Iterable[str]) -> dict[str, tuple[str, str, str | None]]:
        """(title, source, url) of each article."""
        ids = list(set(article_ids))
        marks = ",".join("?" * len(ids))
        rows = self.connection().execute(f"SELECT id, title, source, url FROM articles WHERE id IN ({marks})", ids)
        return {row[0]: (row[1], row[2], row[3]) for row in rows}

    def database_bytes(self) -> int:
        return sum(
            path.stat().st_size
            for path in (self.database_path, self.folder / (DATABASE_NAME + "-wal"))
            if path.exists()
        )


# SQLite's substr() and length() stop at the first NUL of a text value, so a slice past a NUL would come out
# empty or short. Text holding a NUL (found with instr() on its bytes, which NUL does not stop) is sliced in
# Python instead; every other text keeps the fast path that never copies a whole article out of SQLite.
_HAS_NUL = "instr(CAST({column} AS BLOB), x'00') > 0"
_LENGTH_SQL = f"CASE WHEN {_HAS_NUL.format(column='a.text')} THEN exact_length(a.text) ELSE length(a.text) END"


def _slice_sql(column: str, start: str, stop: str) -> str:
    """SQL for `column[start:stop]` (code points, half-open), exact whatever the text holds."""
    return (
        f"CASE WHEN {_HAS_NUL.format(column=column)} THEN exact_slice({column}, {start}, {stop})"
        f" ELSE substr({column}, {start} + 1, {stop} - {start}) END"
    )


def _exact_slice(text: str, start: int, stop: int) -> str:
    return text[start:stop]


def _exact_length(text: str) -> int:
    return len(text)


def _register_functions(connection: sqlite3.Connection) -> None:
    # Python's sqlite3 passes a text value with its full byte length, NULs included, and returns one likewise.
    connection.create_function("exact_slice", 3, _exact_slice, deterministic=True)
    connection.create_function("exact_length", 1, _exact_length, deterministic=True)


def write_durably(path: Path, write: Callable[[Path], object]) -> None:
    """Write `path` through `write(temporary)`: fsync the file, rename it over `path`, fsync the folder.

    A failure leaves the old file and no `.tmp`; no space left raises DiskFull, a read-only folder
    ReadOnlyLibrary.
    """
    temporary = path.with_name(path.name + ".tmp")
    try:
        write(temporary)
        descriptor = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        temporary.replace(path)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        mapped = _file_error(error, path) if isinstance(error, OSError) else None
        if mapped is None:
            raise
        raise mapped from error


def _file_error(error: OSError, path: Path) -> DiskFull | ReadOnlyLibrary | None:
    if error.errno in _NO_SPACE:
        return _disk_full(path.parent)
    if error.errno in _READ_ONLY:
        return ReadOnlyLibrary(
            f"{str(path)!r} cannot be written ({error.strerror}); make the library folder writable, or copy it "
            "to a folder you may write to"
        )
    return None


def _disk_full(folder: Path) -> DiskFull:
    return DiskFull(f"no space left on the library's disk ({str(folder)!r}); free some space, then try again")


def _space_or_permission(error: sqlite3.Error, path: Path) -> DiskFull | ReadOnlyLibrary | None:
    """SQLite's error as ours when the disk is full or the database read-only."""
    code = getattr(error, "sqlite_errorcode", 0) & 0xFF
    if code == sqlite3.SQLITE_FULL:
        return _disk_full(path.parent)
    if code == sqlite3.SQLITE_READONLY:
        return ReadOnlyLibrary(
            f"{str(path)!r} is read-only ({error}); make the library folder writable, or copy it to a folder "
            "you may write to"
        )
    return None


def _corrupt(error: sqlite3.Error, path: Path) -> CorruptLibrary:
    return CorruptLibrary(
        f"{str(path)!r} is not a readable database ({error}); restore it from a backup "
        "or move the folder away and add your articles again"
    )


def _write_manifest(folder: Path, manifest: Manifest) -> None:
    text = manifest.model_dump_json(indent=2) + "\n"
    write_durably(folder / MANIFEST_NAME, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def _blob(vector: NDArray[np.generic]) -> bytes:
    return np.ascontiguousarray(vector).tobytes()


def _open_folder(folder: Path, *, embedder: str, dimension: int) -> Manifest | None:
    """The folder's manifest, or None for a new library; refuses anything that is not a library of ours."""
    manifest_path = folder / MANIFEST_NAME
    if folder.exists() and not folder.is_dir():
        raise NotALibrary(f"{str(folder)!r} is a file, not a library folder; choose a folder with --library")
    if not manifest_path.exists():
        # A folder holding only our own files is a library whose creation was interrupted.
        if folder.exists() and any(path.name not in _OWN_FILES for path in folder.iterdir()):
            raise NotALibrary(
                f"{str(folder)!r} holds other files and is not a quotebot library; "
                "choose a new or empty folder with --library (nothing there was changed)"
            )
        folder.mkdir(parents=True, exist_ok=True)
        return None
    try:
        manifest = Manifest.model_validate(json.loads(manifest_path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValidationError) as error:
        raise NotALibrary(
            f"{str(manifest_path)!r} is not a quotebot manifest; choose another folder with --library "
            "(nothing there was changed)"
        ) from error
    if manifest.format != FORMAT or manifest.version > FORMAT_VERSION:
        raise NotALibrary(
            f"{str(folder)!r} holds format {manifest.format!r} version {manifest.version}; "
            "this quotebot reads version 1: upgrade quotebot or choose another folder"
        )
    if manifest.embedder != embedder or manifest.dimension != dimension:
        raise EmbedderMismatch(
            f"{str(folder)!r} was built with embedder {manifest.embedder!r}, not {embedder!r}; "
            "open it with the same embedder or build a new library in another folder"
        )
    if not (folder / DATABASE_NAME).exists():
        raise CorruptLibrary(
            f"{str(folder)!r} has a manifest but no {DATABASE_NAME}; restore it from a backup "
            "or move the folder away and add your articles again"
        )
    # SQLite would take an empty file for a new database and quietly answer nothing; a library's never is.
    if (folder / DATABASE_NAME).stat().st_size == 0:
        raise NotALibrary(
            f"{str(folder / DATABASE_NAME)!r} is empty (0 bytes), so {str(folder)!r} is not a library any more; "
            "restore the file from a backup, or move the folder away and add your articles again"
        )
    return manifest


def _add_detail_columns(connection: sqlite3.Connection) -> None:
    """Give a library made before articles had an author and a site those columns (empty for old articles)."""
    columns = {row[1] for row in connection.execute("PRAGMA table_info(articles)")}
    for column in ("author", "site"):
        if column not in columns:
            connection.execute(f"ALTER TABLE articles ADD COLUMN {column} TEXT")
