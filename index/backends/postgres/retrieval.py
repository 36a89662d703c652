"""The two searches of the PostgreSQL backend: nearest chunk vectors (pgvector) and BM25 as FTS5 computes it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg
from numpy.typing import NDArray

from index.backends.postgres.text import tsquery

__all__ = ["EF_SEARCH", "EXACT_SCOPE_CHUNKS", "as_array", "bm25", "nearest"]

# A scope with at most this many chunks is searched exactly (an index scan on article_id, then every distance),
# which is both exact and faster than walking the HNSW graph past everything the filter drops.
EXACT_SCOPE_CHUNKS = 20_000
# HNSW returns at most ef_search rows; past pgvector's ceiling the search is exact.
_MOST_EF_SEARCH = 1000
# On 5,000 random unit vectors (the hardest case) HNSW over halfvec finds 0.9895 of the exact top 10 at 400,
# 0.77 at 100 and 0.51 at pgvector's default of 40 (benchmarks/postgres_halfvec.py; vector: 0.993, 0.77, 0.51).
EF_SEARCH = 400


def nearest(
    connection: psycopg.Connection[tuple[Any, ...]],
    vector: NDArray[np.float32],
    k: int,
    *,
    article_ids: list[str] | None,
    dimension: int,
    indexed: bool,
    exact_scope_chunks: int,
    ef_search: int = EF_SEARCH,
) -> list[tuple[int, float]]:
    """The `k` chunks nearest `vector` (of the articles `article_ids`, when given), best first by float32 cosine."""
    half = f"halfvec({dimension})"
    where, parameters = ("WHERE article_id = ANY(%s)", [article_ids]) if article_ids is not None else ("", [])
    # A few more than k in half precision, so that the float32 cosines pick the true k at the border.
    candidates = int(k) + max(16, int(k) // 4)
    with connection.transaction():
        exact = not indexed or candidates > _MOST_EF_SEARCH
        if article_ids is not None and not exact:
            row = connection.execute(f"SELECT count(*) FROM chunks {where}", parameters).fetchone()
            exact = row is not None and int(row[0]) <= exact_scope_chunks
        if exact:
            connection.execute("SET LOCAL enable_indexscan = off")
        else:
            connection.execute(f"SET LOCAL hnsw.ef_search = {min(max(int(ef_search), candidates), _MOST_EF_SEARCH)}")
            # pgvector 0.8: keep walking the graph until k rows pass the filter.
            connection.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        rows = connection.execute(
            f"SELECT id, vector FROM chunks {where} ORDER BY vector::{half} <=> %s::vector::{half} LIMIT %s",
            [*parameters, vector, candidates],
            binary=True,
        ).fetchall()
    # The order came from half precision (and, relaxed, may be a little off); the cosines are float32's.
    hits = [(int(row[0]), float(np.dot(as_array(row[1]), vector))) for row in rows]
    return sorted(hits, key=lambda hit: (-hit[1], hit[0]))[:k]


def bm25(
    connection: psycopg.Connection[tuple[Any, ...]], terms: Sequence[str], k: int, *, article_ids: list[str] | None
) -> list[tuple[int, float]]:
    """The `k` chunks holding any of `terms`, best first by BM25 as FTS5's bm25() computes it: k1 = 1.2, b = 0.75,
    idf = log((N - n + 0.5) / (n + 0.5)) floored at 1e-6, N the chunks, n those holding the term, lengths in
    tokens; each term given counts (as FTS5's phrases do)."""
    within = " AND c.article_id = ANY(%(scope)s)" if article_ids is not None else ""
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
            "scope": article_ids or [],
        },
    ).fetchall()
    return [(int(row[0]), float(row[1])) for row in rows]


def as_array(value: Any) -> NDArray[np.float32]:
    """A float32 array of a pgvector value (a Vector or HalfVector, or already an array)."""
    if hasattr(value, "to_numpy"):
        value = value.to_numpy()
    return np.asarray(value, dtype=np.float32)
