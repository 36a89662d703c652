"""Which embedder runs the bundled model: ONNX Runtime int8 on a CPU, sentence-transformers on torch elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from index.devices import resolve_device
from index.embedding.base import Embedder
from index.embedding.onnx import OnnxEmbedder, Preparing
from index.embedding.pytorch import SentenceTransformerEmbedder

__all__ = ["ENCODERS", "Encoder", "default_embedder"]

Encoder = Literal["auto", "torch"]
ENCODERS: tuple[Encoder, ...] = ("auto", "torch")


def default_embedder(
    device: str | None = None,
    *,
    encoder: Encoder = "auto",
    model_cache: Path | None = None,
    preparing: Preparing | None = None,
) -> Embedder:
    """The bundled model on the best engine for `device` (None or "auto": a GPU torch can use, if any, else the
    CPU). A device this machine lacks raises DeviceUnavailable now, before anything is loaded.

    On a GPU: sentence-transformers (torch) on it. On the CPU: ONNX Runtime int8, about twice the torch
    throughput at under one point of answer quality (README.md, Performance); `encoder="torch"` keeps torch.
    The ONNX export is written to `model_cache` (None: the user cache folder), and `preparing(step, done,
    total)` hears about it, the first time the model is used on this machine.
    """
    resolved = resolve_device(device or "auto")
    if resolved != "cpu" or encoder == "torch":
        return SentenceTransformerEmbedder(device=resolved)
    return OnnxEmbedder(cache_folder=model_cache.expanduser() if model_cache else None, preparing=preparing)
