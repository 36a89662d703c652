"""Articles ready for a `Backend` (what the library hands `store`), made deterministically from text.

Sentences are the spans of a simple splitter (exact slices of the text), chunks are runs of two sentences, and
every vector is a seeded random unit vector, so a test knows what every stored row must be.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from index.models import Article
from index.types import NewArticle, NewChunk

__all__ = ["DIMENSION", "EMBEDDER", "make_article", "open_for_test", "sentence_spans", "unit_vector"]

DIMENSION = 16
EMBEDDER = "test-embedder"
_SENTENCE = re.compile(r"[^.!?]+[.!?]*\s*", re.DOTALL)


def unit_vector(seed_text: str, dimension: int = DIMENSION) -> NDArray[np.float32]:
    seed = int.from_bytes(hashlib.sha256(seed_text.encode("utf-8", "surrogatepass")).digest()[:8], "big")
    vector = np.random.default_rng(seed).standard_normal(dimension).astype(np.float32)
    return vector / np.linalg.norm(vector)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    return [(match.start(), match.end()) for match in _SENTENCE.finditer(text)]


def make_article(
    text: str,
    *,
    source: str,
    title: str | None = None,
    article_id: str | None = None,
    replaces: str | None = None,
    added: int = 0,
    date: str | None = None,
    author: str | None = None,
    per_chunk: int = 2,
) -> NewArticle:
    """A NewArticle of `text`: chunks of `per_chunk` sentences, vectors seeded by their text and source."""
    spans = sentence_spans(text)
    chunks = []
    for first in range(0, len(spans), per_chunk):
        group = spans[first : first + per_chunk]
        sentences = [(start, stop, unit_vector(f"{source}|{start}|{text[start:stop]}")) for start, stop in group]
        mean = np.mean([vector for _, _, vector in sentences], axis=0).astype(np.float32)
        start, stop = group[0][0], group[-1][1]
        chunks.append(
            NewChunk(
                start=start, stop=stop, vector=mean / np.linalg.norm(mean), text=text[start:stop], sentences=sentences
            )
        )
    stamp = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(seconds=added)
    article = Article(
        id=article_id or hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:12],
        text=text,
        source=source,
        title=title or source,
        date=date,
        author=author,
        content_hash=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
        added_at=stamp.isoformat(timespec="seconds"),
    )
    words = sorted(set(text.lower().split()))[:8]
    bands = [int.from_bytes(hashlib.sha256(word.encode()).digest()[:7], "big") for word in words]
    return NewArticle(article=article, chunks=chunks, bands=bands, replaces=replaces)


def open_for_test(kind: str, location: str | Path, **options: Any) -> Any:
    """The backend `kind` ("postgres" or "local") at `location`, with test options (a short write wait)."""
    if kind == "postgres":
        from index.backends.postgres import PostgresBackend

        return PostgresBackend(str(location), embedder=EMBEDDER, dimension=DIMENSION, **options)
    from index.backends.local import LocalBackend

    return LocalBackend(Path(location), embedder=EMBEDDER, dimension=DIMENSION, **options)
