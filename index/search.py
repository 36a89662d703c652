"""Hybrid retrieval of chunks: dense (FAISS) and lexical (FTS5 BM25), fused by reciprocal rank.

Reciprocal-rank fusion needs no calibration between the two scores, and on questions written while reading
a text BM25 and dense retrieval miss different chunks, so the union finds more than either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from index.store import Store
from index.vectors import VectorIndex

__all__ = ["ChunkHit", "Retrieval", "Scope", "retrieve"]

Retrieval = Literal["hybrid", "dense", "lexical"]
FUSION_CONSTANT = 60


@dataclass(frozen=True, slots=True)
class ChunkHit:
    """A retrieved chunk: its cosine to the question, its BM25 (0 when FTS5 did not return it), fused rank."""

    chunk_id: int
    dense: float
    lexical: float
    fused: float


@dataclass(frozen=True, slots=True)
class Scope:
    """The articles a search is restricted to (a filter, or a follow-up's previous article) and their chunks."""

    article_ids: list[str]
    chunk_ids: NDArray[np.int64]


def retrieve(
    store: Store,
    vectors: VectorIndex,
    query: NDArray[np.float32],
    terms: Sequence[str],
    *,
    depth: int = 40,
    keep: int = 12,
    method: Retrieval = "hybrid",
    scope: Scope | None = None,
) -> list[ChunkHit]:
    """The best `keep` chunks for a question, best first; with `scope`, only among its chunks."""
    if scope is None:
        dense = vectors.search(query, depth) if method != "lexical" else []
        lexical = store.lexical(terms, limit=depth) if method != "dense" else []
    else:
        dense = vectors.search_within(query, depth, scope.chunk_ids) if method != "lexical" else []
        lexical = store.lexical_within(terms, scope.article_ids, limit=depth) if method != "dense" else []
    fused: dict[int, float] = {}
    for ranking in (dense, lexical):
        for rank, (chunk_id, _) in enumerate(ranking):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (FUSION_CONSTANT + rank + 1)
    best = sorted(fused, key=fused.__getitem__, reverse=True)[:keep]
    dense_scores = dict(dense)
    missing = [chunk_id for chunk_id in best if chunk_id not in dense_scores]
    if missing:
        for chunk_id, vector in store.chunk_vectors(missing).items():
            dense_scores[chunk_id] = float(vector @ query)
    lexical_scores = dict(lexical)
    return [
        ChunkHit(chunk_id, dense_scores.get(chunk_id, 0.0), lexical_scores.get(chunk_id, 0.0), fused[chunk_id])
        for chunk_id in best
    ]
