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

__all__ = ["ChunkHit", "Retrieval", "retrieve"]

Retrieval = Literal["hybrid", "dense", "lexical"]
FUSION_CONSTANT = 60


@dataclass(frozen=True, slots=True)
class ChunkHit:
    """A retrieved chunk: its cosine to the question, its BM25 (0 when FTS5 did not return it), fused rank."""

    chunk_id: int
    dense: float
    lexical: float
    fused: float


def retrieve(
    store: Store,
    vectors: VectorIndex,
    query: NDArray[np.float32],
    terms: Sequence[str],
    *,
    depth: int = 40,
    keep: int = 12,
    method: Retrieval = "hybrid",
) -> list[ChunkHit]:
    """The best `keep` chunks for a question, best first."""
    dense = vectors.search(query, depth) if method != "lexical" else []
    lexical = store.lexical(terms, limit=depth) if method != "dense" else []
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
