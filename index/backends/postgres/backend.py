"""`PostgresBackend`: a library in a PostgreSQL database with pgvector, shared by processes on many machines.

Everything lives in the one database, in the same transaction: text, chunks, sentences, vectors, the lexical
statistics, so nothing is derived and nothing goes stale. Writers take a session-level advisory lock; readers
never wait. Vectors are searched by an HNSW index over their halfvec cast (or exactly, where the library was made
without one); the lexical side stores each chunk's stems from `index.lexical` (never a Postgres dictionary) and
scores BM25 exactly as SQLite's FTS5 `bm25()` does, so both backends rank the same chunks the same.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import ParamSpec, TypeVar

import numpy as np
import psycopg
from numpy.typing import NDArray

from index.backends.postgres.connection import (
    INDEX_PARAMETER,
    as_library_error,
    password_of,
    redacted,
    translated_errors,
    without_index_parameter,
)
from index.backends.postgres.retrieval import EF_SEARCH, EXACT_SCOPE_CHUNKS, as_array, bm25, nearest
from index.backends.postgres.schema import LIBRARY_KEY_SQL, OUR_TABLES, open_schema
from index.backends.postgres.text import field_nuls, restore, without_nul
from index.backends.postgres.writes import ARTICLE_FIELDS, Connection, delete_articles, insert_articles
from index.errors import ArticleNotFound, LibraryBusy, LibraryError, ReadOnlyLibrary
from index.filtering import Where
from index.models import Article, ArticleSummary
from index.types import BackendStats, CandidateSentence, NewArticle, Scope

__all__ = ["PostgresBackend"]

logger = logging.getLogger(__name__)

Parameters = ParamSpec("Parameters")
Result = TypeVar("Result")

WRITE_WAIT_SECONDS = 30.0


def _translated(method: Callable[Parameters, Result]) -> Callable[Parameters, Result]:
    """Run a verb with psycopg's errors turned into the engine's."""

    def run(*arguments: Parameters.args, **keywords: Parameters.kwargs) -> Result:
        backend = arguments[0]
        assert isinstance(backend, PostgresBackend)
        with translated_errors(location=backend.location, password=backend._password):
            return method(*arguments, **keywords)

    run.__name__ = method.__name__
    run.__doc__ = method.__doc__
    return run


class PostgresBackend:
    """One library in one PostgreSQL database (its current schema), through a pool of connections.

    A new library gets an HNSW index on its vectors unless `ann_index` is False or the URL says
    `quotebot_index=exact`; an existing one keeps what it was made with. `write_wait_seconds` is how long
    `writing()` waits for another writer before LibraryBusy; a scope of at most `exact_scope_chunks` chunks is
    searched exactly rather than through the index; `ef_search` is HNSW's search breadth (recall against speed).
    """

    def __init__(
        self,
        url: str,
        *,
        embedder: str,
        dimension: int,
        ann_index: bool | None = None,
        write_wait_seconds: float = WRITE_WAIT_SECONDS,
        pool_size: int = 8,
        exact_scope_chunks: int = EXACT_SCOPE_CHUNKS,
        ef_search: int = EF_SEARCH,
    ) -> None:
        from pgvector.psycopg import register_vector
        from psycopg_pool import ConnectionPool

        url, index_kind = without_index_parameter(url)
        self._location = redacted(url)
        self._password = password_of(url)
        if index_kind not in (None, "hnsw", "exact"):
            raise LibraryError(
                f"{INDEX_PARAMETER}={index_kind!r} in {self._location!r} is not an index kind; use hnsw or exact"
            )
        if ann_index is None:
            ann_index = index_kind != "exact"
        self._write_wait = write_wait_seconds
        self._exact_scope_chunks = exact_scope_chunks
        self._ef_search = ef_search
        self._local = threading.local()
        try:
            # One plain connection first: its error (refused, bad password, no such database) is the clearest.
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as connection:
                settings = open_schema(
                    connection,
                    location=self._location,
                    embedder=embedder,
                    dimension=int(dimension),
                    ann_index=ann_index,
                )
        except psycopg.Error as error:
            raise as_library_error(error, location=self._location, password=self._password) from error
        self._settings = settings

        def configure(connection: Connection) -> None:
            register_vector(connection)

        self._pool: ConnectionPool[Connection] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True},
            configure=configure,
            check=ConnectionPool.check_connection,
            open=False,
            timeout=30,
            name="quotebot",
        )
        with translated_errors(location=self._location, password=self._password):
            self._pool.open(wait=True, timeout=30)

    # What the library is

    @property
    def location(self) -> str:
        return self._location

    @property
    def created(self) -> bool:
        return self._settings.created

    @property
    def embedder(self) -> str:
        return self._settings.embedder

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Connection]:
        """This thread's writer connection inside `writing()`, else one from the pool."""
        writer: Connection | None = getattr(self._local, "writer", None)
        if writer is not None:
            yield writer
            return
        with self._pool.connection() as connection:
            yield connection

    # Writing

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the library's advisory lock (a session lock on one pooled connection) for a run of writes."""
        if self._settings.read_only:
            raise ReadOnlyLibrary(
                f"{self._location!r} is a read-only server (a replica); write through the primary server's URL"
            )
        if getattr(self._local, "writer", None) is not None:
            yield  # this thread's own `writing()` already holds it
            return
        with translated_errors(location=self._location, password=self._password):
            connection = self._pool.getconn()
        try:
            with translated_errors(location=self._location, password=self._password):
                self._lock(connection)
            self._local.writer = connection
            try:
                yield
            finally:
                self._local.writer = None
                with contextlib.suppress(psycopg.Error):
                    connection.execute(f"SELECT pg_advisory_unlock({LIBRARY_KEY_SQL})")
        finally:
            self._pool.putconn(connection)

    def _lock(self, connection: Connection) -> None:
        deadline = time.monotonic() + self._write_wait
        while True:
            row = connection.execute(f"SELECT pg_try_advisory_lock({LIBRARY_KEY_SQL})").fetchone()
            if row and row[0]:
                return
            if time.monotonic() >= deadline:
                raise LibraryBusy(
                    f"another quotebot process has been writing to {self._location!r} for over "
                    f"{self._write_wait:.0f} s; wait for it to finish and try again"
                )
            time.sleep(min(0.2, max(self._write_wait / 10, 0.01)))

    @_translated
    def find(self, *, source: str, content_hash: str) -> tuple[str | None, str | None, str | None]:
        stored_source, _ = without_nul(source)
        with self._connection() as connection:
            same_text = connection.execute(
                "SELECT id, source, nuls FROM articles WHERE content_hash = %s ORDER BY source = %s DESC LIMIT 1",
                (content_hash, stored_source),
            ).fetchone()
            same_source = connection.execute("SELECT id FROM articles WHERE source = %s", (stored_source,)).fetchone()
        return (
            same_text[0] if same_text else None,
            restore(same_text[1], field_nuls(same_text[2], "source")) if same_text else None,
            same_source[0] if same_source else None,
        )

    @_translated
    def store(self, articles: Sequence[NewArticle]) -> int:
        with self._connection() as connection, connection.transaction():
            # Each source is stored once per batch, so the versions replaced are never among those inserted.
            delete_articles(connection, [item.replaces for item in articles if item.replaces is not None])
            return insert_articles(connection, articles)

    @_translated
    def delete(self, article_ids: Sequence[str]) -> None:
        with self._connection() as connection, connection.transaction():
            delete_articles(connection, list(article_ids))

    def maintain(self) -> None:
        """Nothing is derived outside the database: the HNSW index is kept by PostgreSQL itself."""

    def persist(self) -> None:
        """Nothing is derived outside the database."""

    # Searching

    @_translated
    def dense(self, query: NDArray[np.float32], k: int, *, scope: Scope | None = None) -> list[tuple[int, float]]:
        if k <= 0 or (scope is not None and not scope.article_ids):
            return []
        with self._connection() as connection:
            return nearest(
                connection,
                np.ascontiguousarray(query, dtype=np.float32),
                k,
                article_ids=None if scope is None else list(scope.article_ids),
                dimension=self._settings.dimension,
                indexed=self._settings.ann == "hnsw",
                exact_scope_chunks=self._exact_scope_chunks,
                ef_search=self._ef_search,
            )

    @_translated
    def lexical(self, terms: Sequence[str], k: int, *, scope: Scope | None = None) -> list[tuple[int, float]]:
        terms = [term for term in terms if term]
        if not terms or k <= 0 or (scope is not None and not scope.article_ids):
            return []
        with self._connection() as connection:
            return bm25(connection, terms, k, article_ids=None if scope is None else list(scope.article_ids))

    @_translated
    def term_statistics(self, terms: Iterable[str]) -> tuple[dict[str, int], int]:
        wanted = sorted(set(terms))
        with self._connection() as connection:
            row = connection.execute(
                "SELECT (SELECT chunks FROM totals),"
                " (SELECT coalesce(jsonb_object_agg(term, chunks), '{}') FROM terms WHERE term = ANY(%s))",
                (wanted,),
            ).fetchone()
        assert row is not None
        return {str(term): int(count) for term, count in row[1].items()}, int(row[0])

    @_translated
    def chunk_vectors(self, chunk_ids: Sequence[int]) -> dict[int, NDArray[np.float32]]:
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT id, vector FROM chunks WHERE id = ANY(%s)", (list(chunk_ids),), binary=True
            ).fetchall()
        return {int(row[0]): as_array(row[1]) for row in rows}

    @_translated
    def sentences_of_chunks(self, chunk_ids: Sequence[int]) -> list[CandidateSentence]:
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT s.id, s.chunk_id, s.article_id, s.position, s.start, s.stop,"
                " substr(a.text, s.start + 1, greatest(s.stop - s.start, 0)), a.nuls -> 'text', s.vector"
                " FROM sentences s JOIN articles a ON a.id = s.article_id WHERE s.chunk_id = ANY(%s) ORDER BY s.id",
                (list(chunk_ids),),
                binary=True,
            ).fetchall()
        return [
            CandidateSentence(
                id=int(row[0]),
                chunk_id=int(row[1]),
                article_id=row[2],
                position=row[3],
                start=row[4],
                stop=row[5],
                text=restore(row[6], row[7], offset=row[4]),
                vector=as_array(row[8]),
            )
            for row in rows
        ]

    @_translated
    def neighbours(self, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], tuple[int, int, str]]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT s.article_id, s.position, s.start, s.stop,"
                " substr(a.text, s.start + 1, greatest(s.stop - s.start, 0)), a.nuls -> 'text'"
                " FROM unnest(%s::text[], %s::integer[]) AS k(article_id, position)"
                " JOIN sentences s ON s.article_id = k.article_id AND s.position = k.position"
                " JOIN articles a ON a.id = s.article_id",
                ([key[0] for key in wanted], [key[1] for key in wanted]),
            ).fetchall()
        return {(row[0], row[1]): (row[2], row[3], restore(row[4], row[5], offset=row[2])) for row in rows}

    @_translated
    def sentence_spans(self, article_id: str) -> list[tuple[int, int]]:
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT start, stop FROM sentences WHERE article_id = %s ORDER BY position", (article_id,)
            ).fetchall()
        return [(row[0], row[1]) for row in rows]

    @_translated
    def matching(self, where: Where) -> list[str]:
        with self._connection() as connection:
            rows = connection.execute("SELECT id, source, title, date, nuls FROM articles").fetchall()
        return where.allowed(
            (
                row[0],
                restore(row[1], field_nuls(row[4], "source")),
                restore(row[2], field_nuls(row[4], "title")),
                None if row[3] is None else restore(row[3], field_nuls(row[4], "date")),
            )
            for row in rows
        )

    # Articles

    @_translated
    def article(self, article_id: str) -> Article:
        with self._connection() as connection:
            row = connection.execute(
                f"SELECT {', '.join(ARTICLE_FIELDS)}, nuls FROM articles WHERE id = %s", (article_id,)
            ).fetchone()
        if row is None:
            raise ArticleNotFound(f"no article has id {article_id!r}; `quotebot sources` lists the ids")
        nuls = row[-1]
        fields = {
            name: value if value is None else restore(value, field_nuls(nuls, name))
            for name, value in zip(ARTICLE_FIELDS, row[:-1], strict=True)
        }
        return Article(**fields)

    @_translated
    def article_slice(self, article_id: str, start: int, stop: int) -> tuple[str, str, str | None, str]:
        start = max(int(start), 0)
        with self._connection() as connection:
            row = connection.execute(
                "SELECT title, source, url, substr(text, %s + 1, greatest(%s - %s, 0)), nuls FROM articles"
                " WHERE id = %s",
                (start, int(stop), start, article_id),
            ).fetchone()
        if row is None:
            raise ArticleNotFound(f"no article has id {article_id!r}; `quotebot sources` lists the ids")
        nuls = row[4]
        return (
            restore(row[0], field_nuls(nuls, "title")),
            restore(row[1], field_nuls(nuls, "source")),
            None if row[2] is None else restore(row[2], field_nuls(nuls, "url")),
            restore(row[3], field_nuls(nuls, "text"), offset=start),
        )

    @_translated
    def article_details(self, article_id: str) -> tuple[str | None, str | None]:
        with self._connection() as connection:
            row = connection.execute("SELECT date, author, nuls FROM articles WHERE id = %s", (article_id,)).fetchone()
        if row is None:
            return None, None
        return (
            None if row[0] is None else restore(row[0], field_nuls(row[2], "date")),
            None if row[1] is None else restore(row[1], field_nuls(row[2], "author")),
        )

    @_translated
    def band_matches(self, bands: Sequence[int], *, least: int = 1) -> list[str]:
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT article_id, count(*) AS shared FROM article_bands WHERE value = ANY(%s)"
                " GROUP BY article_id HAVING count(*) >= %s ORDER BY shared DESC, article_id LIMIT 20",
                ([int(band) for band in bands], int(least)),
            ).fetchall()
        return [row[0] for row in rows]

    @_translated
    def sources_under(self, prefix: str) -> dict[str, tuple[str, str]]:
        stored_prefix, _ = without_nul(prefix)
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT source, id, content_hash, nuls FROM articles WHERE starts_with(source, %s)", (stored_prefix,)
            ).fetchall()
        return {restore(row[0], field_nuls(row[3], "source")): (row[1], row[2]) for row in rows}

    @_translated
    def article_ids(self) -> set[str]:
        with self._connection() as connection:
            return {row[0] for row in connection.execute("SELECT id FROM articles")}

    @_translated
    def ids_starting_with(self, prefix: str, *, limit: int) -> list[str]:
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._connection() as connection:
            rows = connection.execute(
                'SELECT id FROM articles WHERE id LIKE %s ORDER BY id COLLATE "C" LIMIT %s', (pattern, int(limit))
            ).fetchall()
        return [row[0] for row in rows]

    @_translated
    def summaries(self) -> list[ArticleSummary]:
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT a.id, a.title, a.source, a.url, a.date, a.characters,"
                " (SELECT count(*) FROM chunks c WHERE c.article_id = a.id), a.author, a.nuls"
                # SQLite orders text by its bytes; "C" does the same, whatever the database's locale.
                ' FROM articles a ORDER BY a.added_at COLLATE "C", a.title COLLATE "C"'
            ).fetchall()
        summaries = []
        for row in rows:
            nuls = row[8]
            summaries.append(
                ArticleSummary(
                    id=row[0],
                    title=restore(row[1], field_nuls(nuls, "title")),
                    source=restore(row[2], field_nuls(nuls, "source")),
                    url=None if row[3] is None else restore(row[3], field_nuls(nuls, "url")),
                    date=None if row[4] is None else restore(row[4], field_nuls(nuls, "date")),
                    characters=row[5],
                    chunks=row[6],
                    author=None if row[7] is None else restore(row[7], field_nuls(nuls, "author")),
                )
            )
        return summaries

    @_translated
    def stats(self) -> BackendStats:
        with self._connection() as connection:
            row = connection.execute(
                "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM chunks),"
                " (SELECT count(*) FROM sentences), coalesce(pg_relation_size(to_regclass('chunks_by_vector')), 0)"
            ).fetchone()
            sizes = connection.execute(
                "SELECT coalesce(sum(pg_total_relation_size(to_regclass(name))), 0) FROM unnest(%s::text[]) AS name",
                (list(OUR_TABLES),),
            ).fetchone()
        assert row is not None and sizes is not None
        index_type = "hnsw (halfvec)" if self._settings.ann == "hnsw" else "exact (halfvec)"
        return BackendStats(
            articles=int(row[0]),
            chunks=int(row[1]),
            sentences=int(row[2]),
            index_type=index_type,
            vectors=int(row[1]),
            database_bytes=int(sizes[0]),
            index_bytes=int(row[3]),
        )

    def close(self) -> None:
        self._pool.close()
