"""Writing one article of the PostgreSQL backend (its rows and its share of the BM25 statistics), and removing
articles with theirs; the caller holds the transaction."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from index.backends.postgres.text import lexeme, without_nul
from index.lexical import stems
from index.types import NewArticle

__all__ = ["ARTICLE_FIELDS", "Connection", "delete_articles", "insert_article"]

Connection = psycopg.Connection[tuple[Any, ...]]
ARTICLE_FIELDS = ("id", "text", "source", "title", "url", "date", "content_hash", "added_at", "author", "site")
_NUL_FIELDS = ("text", "source", "title", "url", "date", "author", "site")


def insert_article(connection: Connection, item: NewArticle) -> int:
    """Insert one article with its chunks, sentences, bands and lexical statistics; the number of chunks."""
    from pgvector import HalfVector

    article = item.article
    values: dict[str, str | None] = {}
    nuls: dict[str, list[int]] = {}
    for name in ARTICLE_FIELDS:
        value = getattr(article, name)
        if isinstance(value, str) and name in _NUL_FIELDS:
            value, positions = without_nul(value)
            if positions:
                nuls[name] = positions
        values[name] = value
    connection.execute(
        f"INSERT INTO articles ({', '.join(ARTICLE_FIELDS)}, characters, nuls)"
        f" VALUES ({', '.join(['%s'] * len(ARTICLE_FIELDS))}, %s, %s)",
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


def delete_articles(connection: Connection, article_ids: list[str]) -> None:
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
