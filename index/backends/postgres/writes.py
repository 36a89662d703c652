"""Writing one article of the PostgreSQL backend (its rows and its share of the BM25 statistics), and removing
articles with theirs; the caller holds the transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from index.backends.postgres.text import lexeme, without_nul
from index.lexical import stems
from index.types import NewArticle

__all__ = ["ARTICLE_FIELDS", "Connection", "delete_articles", "insert_articles"]

Connection = psycopg.Connection[tuple[Any, ...]]
ARTICLE_FIELDS = ("id", "text", "source", "title", "url", "date", "content_hash", "added_at", "author", "site")
_NUL_FIELDS = ("text", "source", "title", "url", "date", "author", "site")


def insert_articles(connection: Connection, items: Sequence[NewArticle]) -> int:
    """Insert articles with their chunks, sentences, bands and lexical statistics; the number of chunks.

    A handful of statements for the whole batch, not a handful per article: each statement is a round trip to
    the server, and per article they cost more than the rows themselves."""
    from pgvector import HalfVector

    article_rows = []
    for item in items:
        values: list[str | None] = []
        nuls: dict[str, list[int]] = {}
        for name in ARTICLE_FIELDS:
            value = getattr(item.article, name)
            if isinstance(value, str) and name in _NUL_FIELDS:
                value, positions = without_nul(value)
                if positions:
                    nuls[name] = positions
            values.append(value)
        article_rows.append((*values, len(item.article.text), Jsonb(nuls) if nuls else None))
    chunk_count = sum(len(item.chunks) for item in items)
    ids = iter(
        int(row[0])
        for row in connection.execute(
            "SELECT nextval('chunk_ids') FROM generate_series(1, %s)", (chunk_count,)
        ).fetchall()
    )
    chunk_rows = []
    sentence_rows = []
    band_rows: list[tuple[int, str]] = []
    holding: Counter[str] = Counter()
    tokens = 0
    for item in items:
        article_id = item.article.id
        position = 0
        for number, chunk in enumerate(item.chunks):
            chunk_id = next(ids)
            chunk_stems = stems(chunk.text)
            counts = Counter(chunk_stems)
            holding.update(counts.keys())
            tokens += len(chunk_stems)
            lexemes = sorted({lexeme(stem) for stem in counts})
            vector = np.ascontiguousarray(chunk.vector, dtype=np.float32)
            lexical = (lexemes, Jsonb(counts), len(chunk_stems))
            chunk_rows.append((chunk_id, article_id, number, chunk.start, chunk.stop, vector, *lexical))
            for start, stop, sentence_vector in chunk.sentences:
                sentence_rows.append((chunk_id, article_id, position, start, stop, HalfVector(sentence_vector)))
                position += 1
        band_rows.extend((int(band), article_id) for band in item.bands)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO articles ({', '.join(ARTICLE_FIELDS)}, characters, nuls)"
            f" VALUES ({', '.join(['%s'] * (len(ARTICLE_FIELDS) + 2))})",
            article_rows,
        )
        if chunk_rows:
            cursor.executemany(
                "INSERT INTO chunks (id, article_id, position, start, stop, vector, terms, frequencies, length)"
                " VALUES (%s, %s, %s, %s, %s, %s, array_to_tsvector(%s::text[]), %s, %s)",
                chunk_rows,
            )
        if sentence_rows:
            cursor.executemany(
                "INSERT INTO sentences (chunk_id, article_id, position, start, stop, vector)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                sentence_rows,
            )
        if band_rows:
            cursor.executemany("INSERT INTO article_bands (value, article_id) VALUES (%s, %s)", band_rows)
    if chunk_count:
        terms = sorted(holding)
        connection.execute(
            "INSERT INTO terms (term, chunks) SELECT * FROM unnest(%s::text[], %s::integer[])"
            " ON CONFLICT (term) DO UPDATE SET chunks = terms.chunks + excluded.chunks",
            (terms, [holding[term] for term in terms]),
        )
        connection.execute("UPDATE totals SET chunks = chunks + %s, tokens = tokens + %s", (chunk_count, tokens))
    return chunk_count


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
