"""The plain records that pass between the library, its backends, retrieval and the first-stage scorer.

They live here, apart from any backend, so that `answer.py` and `search.py` need no storage module and a new
backend needs only this module and `index.backends.base`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from index.models import Article

__all__ = ["BackendStats", "CandidateSentence", "ChunkHit", "NewArticle", "NewChunk", "Scope"]


@dataclass(frozen=True, slots=True)
class CandidateSentence:
    """A stored sentence with its text (a slice of its article) and vector, for scoring."""

    id: int
    chunk_id: int
    article_id: str
    position: int
    start: int
    stop: int
    text: str
    vector: NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class NewChunk:
    """A chunk to store: its span in the article, its vector, its text, and its sentences (start, stop, vector)."""

    start: int
    stop: int
    vector: NDArray[np.float32]
    text: str
    sentences: list[tuple[int, int, NDArray[np.float32]]]


@dataclass(frozen=True, slots=True)
class NewArticle:
    """An article to store with everything derived from it; `replaces` is the id of the older version it
    replaces (the same source's article), removed in the same transaction."""

    article: Article
    chunks: Sequence[NewChunk]
    bands: Sequence[int]
    replaces: str | None = None


@dataclass(frozen=True, slots=True)
class ChunkHit:
    """A retrieved chunk: its cosine to the question, its BM25 (0 when the lexical side did not return it), its
    fused reciprocal-rank score."""

    chunk_id: int
    dense: float
    lexical: float
    fused: float


@dataclass(frozen=True, slots=True)
class Scope:
    """The articles a search is restricted to (a filter, or a follow-up's previous article)."""

    article_ids: Sequence[str]


@dataclass(frozen=True, slots=True)
class BackendStats:
    """What a backend holds and what it costs on disk (or in its database)."""

    articles: int
    chunks: int
    sentences: int
    index_type: str
    vectors: int
    database_bytes: int
    index_bytes: int
