"""The embedding package: its public names, its modules' independence, and the two runtimes of the bundled model."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import index.embedding as embedding
from index.embedding import HashingEmbedder, OnnxEmbedder, SentenceTransformerEmbedder, default_cache_folder

PACKAGE = Path(embedding.__file__).parent
# What index/embedding.py exported before it became a package; every caller's import of them still works.
FORMER_NAMES = {
    "DEFAULT_EMBEDDER_NAME",
    "Embedder",
    "HashingEmbedder",
    "SentenceTransformerEmbedder",
    "bundled_model_path",
    "cuda_present",
    "default_embedder",
}


def test_the_package_exports_exactly_its_public_names_and_the_former_ones() -> None:
    public = {name for name in vars(embedding) if not name.startswith("_")} - {"annotations"}
    modules = {name for name, value in vars(embedding).items() if type(value).__name__ == "module"}
    assert set(embedding.__all__) == public - modules
    assert set(embedding.__all__) >= FORMER_NAMES


@pytest.mark.parametrize("name", ["onnx", "pytorch", "hashing", "base"])
def test_each_implementation_depends_only_on_base(name: str) -> None:
    tree = ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module is not None
    } | {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    engine = {module for module in imported if module.split(".")[0] == "index"}
    assert engine <= {"index.embedding.base"}, f"index/embedding/{name}.py imports {sorted(engine)}"


def test_the_hashing_embedder_is_deterministic_and_normalised() -> None:
    first = HashingEmbedder(16).encode(["Hungary approved it", "", "Hungary approved it"])
    assert first.shape == (3, 16) and first.dtype == np.float32
    assert np.array_equal(first[0], first[2]) and not first[1].any()
    assert np.linalg.norm(first[0]) == pytest.approx(1.0)


@pytest.mark.slow
def test_onnx_and_torch_give_the_same_space(embedder: SentenceTransformerEmbedder) -> None:
    """The int8 ONNX export and the torch model agree to cosine >= 0.98 (README.md, Performance)."""
    texts = [
        "Hungary is the only NATO country that has not yet approved Sweden’s application.",
        "Coffee reached Venice in 1570.",
        "Wer hat das Spiel gewonnen?",
    ]
    onnx = OnnxEmbedder()
    assert onnx.cache_folder == default_cache_folder()
    assert (onnx.name, onnx.dimension) == (embedder.name, embedder.dimension)
    cosines = np.sum(onnx.encode(texts) * embedder.encode(texts), axis=1)
    assert cosines.min() >= 0.98, cosines
    assert onnx.encode([]).shape == (0, 384)
