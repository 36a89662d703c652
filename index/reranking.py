"""Optional rerankers: a sentence-transformers CrossEncoder that reorders the best candidate sentences.

quotebot needs none: its logistic scorer runs on features it already has. A user with a stronger public
cross-encoder installed (or saved in a folder) can name it in `Scoring.reranker`; it is loaded with
``local_files_only=True``, so nothing is ever fetched from a hub at run time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

__all__ = ["CrossEncoderReranker", "Reranker", "load_reranker"]


class Reranker(Protocol):
    """Scores (question, sentence) pairs; higher is more likely to answer."""

    def scores(self, question: str, sentences: Sequence[str]) -> list[float]: ...


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder from a local path or an already-downloaded model name."""

    def __init__(self, name: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import CrossEncoder

        self.name = name
        self._model: Any = CrossEncoder(name, local_files_only=True)
        # A CrossEncoder is not promised to be safe in several threads at once.
        self._lock = threading.Lock()

    def scores(self, question: str, sentences: Sequence[str]) -> list[float]:
        if not sentences:
            return []
        with self._lock:
            predicted = self._model.predict([(question, sentence) for sentence in sentences], show_progress_bar=False)
        return [float(value) for value in predicted]


@lru_cache(maxsize=4)
def load_reranker(name: str) -> Reranker:
    """The reranker `name`, loaded once per process."""
    return CrossEncoderReranker(name)
