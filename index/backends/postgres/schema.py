"""The PostgreSQL library's schema, its migrations, and the check that a database holds our library.

A `schema_version` table records which migrations ran; migration 1 creates everything. A library records the
embedder and dimension that built it (table `library`), as the folder manifest does, and refuses any other.
Opening runs under a transaction-level advisory lock, so two processes opening a new database at once make
one library, not two half ones.
"""

from __future__ import annotations

import datetime

import psycopg
from psycopg import sql

from index.errors import EmbedderMismatch, LibraryNotFound, NotALibrary, ReadOnlyLibrary

__all__ = ["LATEST_VERSION", "OUR_TABLES", "LibrarySettings", "open_schema"]

LATEST_VERSION = 1
OUR_TABLES = ("library", "articles", "chunks", "sentences", "article_bands", "terms", "totals")

# Keyed on the database and schema, so libraries in other databases of one server never wait on each other.
LIBRARY_KEY_SQL = "hashtextextended('quotebot:' || current_database() || ':' || current_schema(), 0)"
_OPENING_KEY_SQL = "hashtextextended('quotebot-open:' || current_database() || ':' || current_schema(), 0)"

_MIGRATION_1 = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE library (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE articles (
    id text PRIMARY KEY,
    source text NOT NULL UNIQUE,
    title text NOT NULL,
    url text,
    date text,
    text text NOT NULL,
    content_hash text NOT NULL,
    added_at text NOT NULL,
    author text,
    site text,
    characters integer NOT NULL,
    -- Postgres text cannot hold NUL: {field: [positions]} of the NULs a field held, put back on every read.
    nuls jsonb
);
CREATE INDEX articles_by_hash ON articles (content_hash);
CREATE INDEX articles_by_id_prefix ON articles (id text_pattern_ops);
CREATE SEQUENCE chunk_ids;
CREATE TABLE chunks (
    id bigint PRIMARY KEY,
    article_id text NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    position integer NOT NULL,
    start integer NOT NULL,
    stop integer NOT NULL,
    vector vector({dimension}) NOT NULL,
    -- The chunk's stems (index.lexical.stems): distinct ones for retrieval, counts and length for BM25.
    terms tsvector NOT NULL,
    frequencies jsonb NOT NULL,
    length integer NOT NULL
);
CREATE INDEX chunks_by_article ON chunks (article_id);
CREATE INDEX chunks_by_terms ON chunks USING gin (terms);
CREATE TABLE sentences (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chunk_id bigint NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
    article_id text NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    position integer NOT NULL,
    start integer NOT NULL,
    stop integer NOT NULL,
    vector halfvec({dimension}) NOT NULL
);
CREATE INDEX sentences_by_chunk ON sentences (chunk_id);
CREATE INDEX sentences_by_article ON sentences (article_id, position);
CREATE TABLE article_bands (value bigint NOT NULL, article_id text NOT NULL REFERENCES articles (id) ON DELETE CASCADE);
CREATE INDEX article_bands_by_value ON article_bands (value);
CREATE INDEX article_bands_by_article ON article_bands (article_id);
-- How many chunks hold each stem, and the chunk and token totals: BM25's statistics, kept in each write.
CREATE TABLE terms (term text PRIMARY KEY, chunks integer NOT NULL);
CREATE TABLE totals (single boolean PRIMARY KEY DEFAULT true CHECK (single), chunks bigint NOT NULL,
                     tokens bigint NOT NULL);
INSERT INTO totals (chunks, tokens) VALUES (0, 0);
"""

# The vectors are searched in half precision (halfvec keeps recall@10 at 0.998 on random unit vectors, see
# README), through an index on the cast, so the table keeps the float32 vectors that `chunk_vectors` returns.
_HNSW = "CREATE INDEX chunks_by_vector ON chunks USING hnsw ((vector::halfvec({dimension})) halfvec_cosine_ops)"


class LibrarySettings:
    """What the library records about itself."""

    def __init__(self, *, created: bool, embedder: str, dimension: int, ann: str, read_only: bool) -> None:
        self.created = created
        self.embedder = embedder
        self.dimension = dimension
        self.ann = ann
        self.read_only = read_only


def open_schema(
    connection: psycopg.Connection[tuple[object, ...]],
    *,
    location: str,
    embedder: str,
    dimension: int,
    ann_index: bool,
) -> LibrarySettings:
    """Make the library in this database when new, migrate an older one, and check its embedder."""
    read_only = bool(_value(connection, "SELECT pg_is_in_recovery()"))
    with connection.transaction():
        if not read_only:
            connection.execute(f"SELECT pg_advisory_xact_lock({_OPENING_KEY_SQL})")
        version = _version(connection, location=location, read_only=read_only)
        created = version == 0
        if version > LATEST_VERSION:
            raise NotALibrary(
                f"{location!r} holds a quotebot library of schema version {version}; this quotebot reads up to "
                f"version {LATEST_VERSION}: upgrade quotebot, or choose another database"
            )
        if version < LATEST_VERSION:
            if read_only:
                raise ReadOnlyLibrary(
                    f"{location!r} is a read-only server (a replica) and holds no quotebot library of version "
                    f"{LATEST_VERSION}; open the primary server's URL once to create or upgrade it"
                )
            _migrate(connection, version, dimension=dimension, embedder=embedder, ann_index=ann_index)
        recorded = {str(row[0]): str(row[1]) for row in connection.execute("SELECT key, value FROM library")}
    stored_embedder, stored_dimension = str(recorded["embedder"]), int(str(recorded["dimension"]))
    if stored_embedder != embedder or stored_dimension != dimension:
        raise EmbedderMismatch(
            f"{location!r} was built with embedder {stored_embedder!r} ({stored_dimension} dimensions), not "
            f"{embedder!r} ({dimension}); open it with the same embedder or build a new library in another "
            "database"
        )
    return LibrarySettings(
        created=created, embedder=embedder, dimension=dimension, ann=str(recorded["ann"]), read_only=read_only
    )


def _value(connection: psycopg.Connection[tuple[object, ...]], query: str) -> object:
    row = connection.execute(query).fetchone()
    return row[0] if row else None


def _version(connection: psycopg.Connection[tuple[object, ...]], *, location: str, read_only: bool) -> int:
    """The schema version (0 for a database without our library); refuses a database whose tables clash."""
    present = {
        str(row[0])
        for row in connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
    }
    if "schema_version" in present:
        row = connection.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(str(row[0])) if row and row[0] is not None else 0
    clashing = sorted(present & set(OUR_TABLES))
    if clashing:
        raise NotALibrary(
            f"{location!r} holds tables of something else ({', '.join(clashing)}) and no quotebot library; "
            "choose a new database, or a schema of its own with ?options=-csearch_path%3DNAME (nothing was changed)"
        )
    if read_only:
        raise LibraryNotFound(
            f"{location!r} is a read-only server (a replica) without a quotebot library; open the primary "
            "server's URL once to create it"
        )
    connection.execute("CREATE TABLE schema_version (version integer NOT NULL, applied_at text NOT NULL)")
    return 0


def _migrate(
    connection: psycopg.Connection[tuple[object, ...]], version: int, *, dimension: int, embedder: str, ann_index: bool
) -> None:
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    if version < 1:
        # The dimension is an int, checked by the caller: the only value formatted into the SQL.
        connection.execute(sql.SQL(_MIGRATION_1.replace("{dimension}", str(int(dimension)))))
        if ann_index:
            connection.execute(sql.SQL(_HNSW.replace("{dimension}", str(int(dimension)))))
        connection.execute(
            "INSERT INTO library (key, value) VALUES ('embedder', %s), ('dimension', %s), ('created_at', %s),"
            " ('ann', %s)",
            (embedder, str(dimension), now, "hnsw" if ann_index else "exact"),
        )
        connection.execute("INSERT INTO schema_version (version, applied_at) VALUES (1, %s)", (now,))
