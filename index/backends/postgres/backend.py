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
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, ParamSpec, TypeVar

import numpy as np
import psycopg
from numpy.typing import NDArray
from psycopg.types.json import Jsonb

from index.backends.postgres.connection import (
    INDEX_PARAMETER,
    as_library_error,
    password_of,
    redacted,
    translated_errors,
    without_index_parameter,
)
from index.backends.postgres.schema import LIBRARY_KEY_SQL, OUR_TABLES, open_schema
from index.backends.postgres.text import field_nuls, lexeme, restore, tsquery, without_nul
from index.errors import ArticleNotFound, LibraryBusy, LibraryError, ReadOnlyLibrary
from index.filtering import Where
from index.lexical import stems
from index.models import Article, ArticleSummary
from index.types import BackendStats, CandidateSentence, NewArticle, Scope

__all__ = ["PostgresBackend"]

logger = logging.getLogger(__name__)

Parameters = ParamSpec("Parameters")
Result = TypeVar("Result")
Connection = psycopg.Connection[tuple[Any, ...]]

WRITE_WAIT_SECONDS = 30.0
# A scope with at most this many chunks is searched exactly (an index scan on article_id, then every distance),
# which is both exact and faster than walking the HNSW graph past everything the filter drops.
EXACT_SCOPE_CHUNKS = 20_000
# HNSW returns at most ef_search rows; past pgvector's ceiling the search is exact.
_MOST_EF_SEARCH = 1000
_ARTICLE_FIELDS = ("id", "text", "source", "title", "url", "date", "content_hash", "added_at", "author", "site")
_NUL_FIELDS = ("text", "source", "title", "url", "date", "author", "site")


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
    searched exactly rather than through the index.
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
        stored = 0
        with self._connection() as connection, connection.transaction():
            for item in articles:
                if item.replaces is not None:
                    _delete(connection, [item.replaces])
                stored += _insert(connection, item)
        return stored

    @_translated
    def delete(self, article_ids: Sequence[str]) -> None:
        with self._connection() as connection, connection.transaction():
            _delete(connection, list(article_ids))

    def persist(self) -> None:
        """Nothing is derived outside the database."""

    # Searching

    @_translated
    def dense(self, query: NDArray[np.float32], k: int, *, scope: Scope | None = None) -> list[tuple[int, float]]:
        if k <= 0 or (scope is not None and not scope.article_ids):
            return []
        vector = np.ascontiguousarray(query, dtype=np.float32)
        half = f"halfvec({self._settings.dimension})"
        where, parameters = ("WHERE article_id = ANY(%s)", [list(scope.article_ids)]) if scope is not None else ("", [])
        # A few more than k in half precision, so that the float32 cosines pick the true k at the border.
        candidates = int(k) + max(16, int(k) // 4)
        with self._connection() as connection, connection.transaction():
            exact = self._settings.ann != "hnsw" or candidates > _MOST_EF_SEARCH
            if scope is not None and not exact:
                row = connection.execute(f"SELECT count(*) FROM chunks {where}", parameters).fetchone()
                exact = row is not None and int(row[0]) <= self._exact_scope_chunks
            if exact:
                connection.execute("SET LOCAL enable_indexscan = off")
            else:
                connection.execute(f"SET LOCAL hnsw.ef_search = {max(40, candidates)}")
                # pgvector 0.8: keep walking the graph until k rows pass the filter.
                connection.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            rows = connection.execute(
                f"SELECT id, vector FROM chunks {where} ORDER BY vector::{half} <=> %s::vector::{half} LIMIT %s",
                [*parameters, vector, candidates],
                binary=True,
            ).fetchall()
        # The order came from half precision (and, relaxed, may be a little off); the cosines are float32's.
        hits = [(int(row[0]), float(np.dot(_array(row[1]), vector))) for row in rows]
        return sorted(hits, key=lambda hit: (-hit[1], hit[0]))[:k]

    @_translated
    def lexical(self, terms: Sequence[str], k: int, *, scope: Scope | None = None) -> list[tuple[int, float]]:
        """BM25 as FTS5's bm25() computes it: k1 = 1.2, b = 0.75, idf = log((N - n + 0.5) / (n + 0.5)) floored at
        1e-6, N the chunks, n those holding the term, lengths in tokens; each term given counts (as FTS5's
        phrases do)."""
        terms = [term for term in terms if term]
        if not terms or k <= 0 or (scope is not None and not scope.article_ids):
            return []
        within = " AND c.article_id = ANY(%(scope)s)" if scope is not None else ""
        with self._connection() as connection:
            rows = connection.execute(
                "WITH total AS (SELECT chunks::float8 AS rows, tokens::float8 / greatest(chunks, 1) AS average"
                " FROM totals),"
                " query AS (SELECT q.term, greatest(ln((total.rows - coalesce(t.chunks, 0) + 0.5)"
                " / (coalesce(t.chunks, 0) + 0.5)), 1e-6) AS idf"
                " FROM unnest(%(terms)s::text[]) AS q(term) CROSS JOIN total LEFT JOIN terms t ON t.term = q.term)"
                " SELECT c.id, sum(query.idf * f.frequency * 2.2"
                " / (f.frequency + 1.2 * (0.25 + 0.75 * c.length / total.average))) AS score"
                " FROM chunks c CROSS JOIN total CROSS JOIN query"
                " CROSS JOIN LATERAL (SELECT (c.frequencies ->> query.term)::float8 AS frequency) f"
                f" WHERE c.terms @@ %(match)s::tsquery AND f.frequency IS NOT NULL{within}"
                " GROUP BY c.id ORDER BY score DESC, c.id LIMIT %(k)s",
                {
                    "terms": terms,
                    "match": tsquery(terms),
                    "k": int(k),
                    "scope": list(scope.article_ids) if scope else [],
                },
            ).fetchall()
        return [(int(row[0]), float(row[1])) for row in rows]

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
        return {int(row[0]): _array(row[1]) for row in rows}

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
                vector=_array(row[8]),
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
                f"SELECT {', '.join(_ARTICLE_FIELDS)}, nuls FROM articles WHERE id = %s", (article_id,)
            ).fetchone()
        if row is None:
            raise ArticleNotFound(f"no article has id {article_id!r}; `quotebot sources` lists the ids")
        nuls = row[-1]
        fields = {
            name: value if value is None else restore(value, field_nuls(nuls, name))
            for name, value in zip(_ARTICLE_FIELDS, row[:-1], strict=True)
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
    def band_matches(self, bands: Sequence[int]) -> list[str]:
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT article_id, count(*) AS shared FROM article_bands WHERE value = ANY(%s)"
                " GROUP BY article_id ORDER BY shared DESC, article_id LIMIT 20",
                ([int(band) for band in bands],),
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


def _array(value: Any) -> NDArray[np.float32]:
    """A float32 array of a pgvector value (a Vector or HalfVector, or already an array)."""
    if hasattr(value, "to_numpy"):
        value = value.to_numpy()
    return np.asarray(value, dtype=np.float32)


def _insert(connection: Connection, item: NewArticle) -> int:
    """Insert one article with its chunks, sentences, bands and lexical statistics; the number of chunks."""
    from pgvector import HalfVector

    article = item.article
    values: dict[str, str | None] = {}
    nuls: dict[str, list[int]] = {}
    for name in _ARTICLE_FIELDS:
        value = getattr(article, name)
        if isinstance(value, str) and name in _NUL_FIELDS:
            value, positions = without_nul(value)
            if positions:
                nuls[name] = positions
        values[name] = value
    connection.execute(
        f"INSERT INTO articles ({', '.join(_ARTICLE_FIELDS)}, characters, nuls)"
        f" VALUES ({', '.join(['%s'] * len(_ARTICLE_FIELDS))}, %s, %s)",
        [*values.values(), len(article.text), Jsonb(nuls) if nuls else None],
    )
    if not item.chunks:
        return 0
    ids = [
        int(row[0])
        for row in connection.execute(
            "SELECT nextval('chunk_ids') FROM generate_series(1, %s)", (len(item.chunks),)
        ).fetchall()
    ]
    chunk_rows = []
    sentence_rows = []
    holding: Counter[str] = Counter()
    tokens = 0
    position = 0
    with connection.cursor() as cursor:
        for number, (chunk_id, chunk) in enumerate(zip(ids, item.chunks, strict=True)):
            chunk_stems = stems(chunk.text)
            counts = Counter(chunk_stems)
            holding.update(counts.keys())
            tokens += len(chunk_stems)
            lexemes = sorted({lexeme(stem) for stem in counts})
            vector = np.ascontiguousarray(chunk.vector, dtype=np.float32)
            lexical = (lexemes, Jsonb(counts), len(chunk_stems))
            chunk_rows.append((chunk_id, article.id, number, chunk.start, chunk.stop, vector, *lexical))
            for start, stop, sentence_vector in chunk.sentences:
                sentence_rows.append((chunk_id, article.id, position, start, stop, HalfVector(sentence_vector)))
                position += 1
        cursor.executemany(
            "INSERT INTO chunks (id, article_id, position, start, stop, vector, terms, frequencies, length)"
            " VALUES (%s, %s, %s, %s, %s, %s, array_to_tsvector(%s::text[]), %s, %s)",
            chunk_rows,
        )
        cursor.executemany(
            "INSERT INTO sentences (chunk_id, article_id, position, start, stop, vector)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            sentence_rows,
        )
        cursor.executemany(
            "INSERT INTO article_bands (value, article_id) VALUES (%s, %s)",
            [(int(band), article.id) for band in item.bands],
        )
    terms = sorted(holding)
    connection.execute(
        "INSERT INTO terms (term, chunks) SELECT * FROM unnest(%s::text[], %s::integer[])"
        " ON CONFLICT (term) DO UPDATE SET chunks = terms.chunks + excluded.chunks",
        (terms, [holding[term] for term in terms]),
    )
    connection.execute("UPDATE totals SET chunks = chunks + %s, tokens = tokens + %s", (len(item.chunks), tokens))
    return len(item.chunks)


def _delete(connection: Connection, article_ids: list[str]) -> None:
    """Remove articles, their chunks' share of the lexical statistics first (the rows cascade)."""
    if not article_ids:
        return
    emptied = connection.execute(
        "WITH gone AS (SELECT key AS term, count(*)::integer AS chunks"
        " FROM chunks, jsonb_object_keys(frequencies) AS key WHERE article_id = ANY(%s) GROUP BY key)"
        " UPDATE terms SET chunks = terms.chunks - gone.chunks FROM gone WHERE terms.term = gone.term"
        " RETURNING terms.term, terms.chunks",
        (article_ids,),
    ).fetchall()
    connection.execute("DELETE FROM terms WHERE term = ANY(%s)", ([row[0] for row in emptied if row[1] <= 0],))
    connection.execute(
        "UPDATE totals SET chunks = totals.chunks - gone.chunks, tokens = totals.tokens - gone.tokens"
        " FROM (SELECT count(*) AS chunks, coalesce(sum(length), 0) AS tokens FROM chunks"
        " WHERE article_id = ANY(%s)) AS gone",
        (article_ids,),
    )
    connection.execute("DELETE FROM articles WHERE id = ANY(%s)", (article_ids,))
