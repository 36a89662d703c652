"""Hybrid retrieval of chunks: dense and lexical (BM25), fused by reciprocal rank, over any backend.

Reciprocal-rank fusion needs no calibration between the two scores, and on questions written while reading
a text BM25 and dense retrieval miss different chunks, so the union finds more than either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from index.backends.base import Backend
from index.types import ChunkHit, Scope

__all__ = ["ChunkHit", "Retrieval", "Scope", "retrieve"]

Retrieval = Literal["hybrid", "dense", "lexical"]
FUSION_CONSTANT = 60


def retrieve(
    backend: Backend,
    query: NDArray[np.float32],
    terms: Sequence[str],
    *,
    depth: int = 40,
    keep: int = 12,
    method: Retrieval = "hybrid",
    scope: Scope | None = None,
) -> list[ChunkHit]:
    """The best `keep` chunks for a question, best first; with `scope`, only among its chunks."""
    dense = backend.dense(query, depth, scope=scope) if method != "lexical" else []
    lexical = backend.lexical(terms, depth, scope=scope) if method != "dense" else []
    fused: dict[int, float] = {}
    for ranking in (dense, lexical):
        for rank, (chunk_id, _) in enumerate(ranking):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (FUSION_CONSTANT + rank + 1)
    best = sorted(fused, key=fused.__getitem__, reverse=True)[:keep]
    dense_scores = dict(dense)
    missing = [chunk_id for chunk_id in best if chunk_id not in dense_scores]
    if missing:
        for chunk_id, vector in backend.chunk_vectors(missing).items():
            dense_scores[chunk_id] = float(vector @ query)
    lexical_scores = dict(lexical)
    return [
        ChunkHit(chunk_id, dense_scores.get(chunk_id, 0.0), lexical_scores.get(chunk_id, 0.0), fused[chunk_id])
        for chunk_id in best
    ]
