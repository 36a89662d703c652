"""Quote selection: score the sentences of the retrieved chunks, pick the best, or abstain.

A sentence's score is a weighted sum of a few features that each say something different: how close its
meaning is to the question (dense, sentence and chunk), and how much of the question's rare words it holds
(idf-weighted coverage, BM25). The weights and the abstention threshold live in `Scoring`, so a learned
or calibrated set can replace the defaults without touching this code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from index import lexical
from index.search import ChunkHit
from index.store import CandidateSentence

__all__ = ["ScoredSentence", "Scoring", "rank_sentences"]


class Scoring(BaseModel):
    """Weights of the sentence features and the score below which we answer "not found"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dense_sentence: float = 0.45
    dense_chunk: float = 0.15
    coverage: float = 0.40
    bm25: float = 0.0
    chunk_rank: float = 0.0
    threshold: float = 0.40


@dataclass(frozen=True, slots=True)
class ScoredSentence:
    sentence: CandidateSentence
    score: float
    features: dict[str, float]


def rank_sentences(
    query: NDArray[np.float32],
    terms: Sequence[str],
    candidates: Sequence[CandidateSentence],
    hits: Sequence[ChunkHit],
    idfs: dict[str, float],
    scoring: Scoring,
) -> list[ScoredSentence]:
    """Candidates scored and sorted best first."""
    if not candidates:
        return []
    chunk_dense = {hit.chunk_id: hit.dense for hit in hits}
    chunk_rank = {hit.chunk_id: rank for rank, hit in enumerate(hits)}
    sentence_stems = [lexical.stems(candidate.text) for candidate in candidates]
    average_length = sum(map(len, sentence_stems)) / len(sentence_stems)
    vectors = np.stack([candidate.vector for candidate in candidates])
    dense = vectors @ query
    idf_total = sum(idfs.get(term, 0.0) for term in terms) or 1.0
    scored = []
    for index, candidate in enumerate(candidates):
        features = {
            "dense_sentence": float(dense[index]),
            "dense_chunk": chunk_dense.get(candidate.chunk_id, 0.0),
            "coverage": lexical.coverage(terms, sentence_stems[index], idfs),
            "bm25": lexical.bm25(terms, sentence_stems[index], idfs, average_length=average_length) / idf_total,
            "chunk_rank": 1.0 / (1.0 + chunk_rank.get(candidate.chunk_id, len(hits))),
        }
        score = sum(getattr(scoring, name) * value for name, value in features.items())
        scored.append(ScoredSentence(candidate, score, features))
    scored.sort(key=lambda item: item.score, reverse=True)
    return scored
