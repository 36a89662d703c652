"""Embedders: the Embedder protocol, the bundled model on ONNX Runtime or torch, the factory that picks one, and a
hashing embedder for tests. Each implementation depends only on `base`, never on another: no import cycle."""

from __future__ import annotations

from index.devices import cuda_present
from index.embedding.base import DEFAULT_EMBEDDER_NAME, Embedder, bundled_model_path
from index.embedding.factory import ENCODERS, Encoder, default_embedder
from index.embedding.hashing import HashingEmbedder
from index.embedding.onnx import OnnxEmbedder, default_cache_folder, export_onnx
from index.embedding.pytorch import SentenceTransformerEmbedder

__all__ = [
    "DEFAULT_EMBEDDER_NAME",
    "ENCODERS",
    "Embedder",
    "Encoder",
    "HashingEmbedder",
    "OnnxEmbedder",
    "SentenceTransformerEmbedder",
    "bundled_model_path",
    "cuda_present",
    "default_cache_folder",
    "default_embedder",
    "export_onnx",
]
