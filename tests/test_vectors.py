"""VectorIndex: FAISS top-k against brute force, both index types, add/remove/save/load and stale stamps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from index import vectors as vectors_module
from index.vectors import EXACT_LIMIT, VectorIndex, choose_kind, list_count

DIMENSION = 32


def _unit(rows: int, seed: int) -> NDArray[np.float32]:
    generator = np.random.default_rng(seed)
    matrix = generator.standard_normal((rows, DIMENSION)).astype(np.float32)
    normalised: NDArray[np.float32] = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    return normalised


def _clustered(rows: int, seed: int) -> NDArray[np.float32]:
    """Vectors around a few hundred centres, like sentence embeddings of many topics."""
    generator = np.random.default_rng(seed)
    centres = generator.standard_normal((200, DIMENSION)).astype(np.float32)
    matrix = centres[generator.integers(0, 200, rows)] + 0.35 * generator.standard_normal((rows, DIMENSION))
    normalised: NDArray[np.float32] = (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)
    return normalised


def _brute_force(ids: NDArray[np.int64], matrix: NDArray[np.float32], query: NDArray[np.float32], k: int) -> list[int]:
    scores = matrix @ query
    order = np.lexsort((ids, -scores))[:k]
    return [int(ids[position]) for position in order]


@pytest.mark.parametrize("batch", [5, 17])
def test_flat_top_k_equals_brute_force(batch: int) -> None:
    matrix = _unit(301, seed=batch)
    ids = np.arange(1000, 1301, dtype=np.int64)
    index = VectorIndex(DIMENSION)
    for start in range(0, len(ids), batch):
        index.add(ids[start : start + batch], matrix[start : start + batch])
    assert index.kind == "flat"
    for query in _unit(20, seed=99):
        hits = index.search(query, 10)
        assert [chunk for chunk, _ in hits] == _brute_force(ids, matrix, query, 10)
        expected = np.sort(matrix @ query)[::-1][:10]
        assert np.allclose([score for _, score in hits], expected, atol=1e-5)


@pytest.mark.parametrize("batch", [5, 17])
def test_ivf_recall_against_brute_force(batch: int) -> None:
    matrix = _clustered(6000, seed=batch)
    ids = np.arange(6000, dtype=np.int64) * 3 + 7
    index = VectorIndex(DIMENSION, kind="ivf")
    index.rebuild(ids[:3000], matrix[:3000], generation=1)
    for start in range(3000, len(ids), batch):
        index.add(ids[start : start + batch], matrix[start : start + batch])
    assert index.kind == "ivf"
    assert len(index) == 6000
    found = 0
    queries = _clustered(50, seed=1234)
    for query in queries:
        hits = [chunk for chunk, _ in index.search(query, 10)]
        found += len(set(hits) & set(_brute_force(ids, matrix, query, 10)))
    assert found / (10 * len(queries)) >= 0.9


def test_kind_follows_size() -> None:
    assert choose_kind(EXACT_LIMIT) == "flat"
    assert choose_kind(EXACT_LIMIT + 1) == "ivf"
    assert list_count(100_000) == 512
    assert list_count(1_000_000) == 2048


def test_growing_past_the_limit_switches_to_ivf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors_module, "EXACT_LIMIT", 500)
    matrix = _clustered(800, seed=3)
    ids = np.arange(800, dtype=np.int64)
    index = VectorIndex(DIMENSION)
    index.add(ids[:400], matrix[:400])
    assert index.kind == "flat"
    index.add(ids[400:], matrix[400:])
    assert index.kind == "ivf"
    assert "IVF" in index.index_type
    assert len(index) == 800
    stored_ids, stored = index.vectors()
    order = np.argsort(stored_ids)
    assert np.array_equal(stored_ids[order], ids)
    assert np.allclose(stored[order], matrix, atol=1e-3)


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_remove_then_search_never_returns_removed(kind: str) -> None:
    matrix = _clustered(2000, seed=5)
    ids = np.arange(2000, dtype=np.int64)
    index = VectorIndex(DIMENSION, kind=kind)  # type: ignore[arg-type]
    index.rebuild(ids, matrix, generation=1)
    gone = ids[::3]
    index.remove(gone)
    assert len(index) == 2000 - len(gone)
    for query in matrix[:30]:
        assert not {chunk for chunk, _ in index.search(query, 40)} & set(gone.tolist())


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_save_then_load_answers_the_same(tmp_path: Path, kind: str) -> None:
    matrix = _clustered(3000, seed=7)
    ids = np.arange(3000, dtype=np.int64)
    index = VectorIndex(DIMENSION, kind=kind)  # type: ignore[arg-type]
    index.rebuild(ids[:2500], matrix[:2500], generation=1)
    index.save(tmp_path)
    base_size = (tmp_path / vectors_module.INDEX_NAME).stat().st_size
    # A small change is saved as a delta: the base file is not rewritten.
    index.add(ids[2500:], matrix[2500:])
    index.remove(ids[:100])
    index.add(ids[:10], matrix[:10])  # a removed id comes back
    index.generation = 2
    index.save(tmp_path)
    assert (tmp_path / vectors_module.INDEX_NAME).stat().st_size == base_size
    loaded = VectorIndex(DIMENSION)
    assert loaded.load(tmp_path, generation=2)
    assert loaded.kind == kind
    assert len(loaded) == len(index) == 2910
    for query in matrix[:25]:
        assert loaded.search(query, 10) == index.search(query, 10)
    # Saving again after a load keeps the delta consistent.
    loaded.remove(ids[2500:2510])
    loaded.generation = 3
    loaded.save(tmp_path)
    again = VectorIndex(DIMENSION)
    assert again.load(tmp_path, generation=3)
    assert len(again) == 2900


def test_big_delta_rewrites_the_base(tmp_path: Path) -> None:
    matrix = _unit(5000, seed=11)
    ids = np.arange(5000, dtype=np.int64)
    index = VectorIndex(DIMENSION)
    index.rebuild(ids[:100], matrix[:100], generation=1)
    index.save(tmp_path)
    index.add(ids[100:], matrix[100:])
    index.generation = 2
    index.save(tmp_path)
    loaded = VectorIndex(DIMENSION)
    assert loaded.load(tmp_path, generation=2)
    assert len(loaded) == 5000
    assert np.load(tmp_path / vectors_module.DELTA_NAME)["added_ids"].size == 0


def test_stale_or_missing_index_is_not_loaded(tmp_path: Path) -> None:
    index = VectorIndex(DIMENSION)
    assert not index.load(tmp_path, generation=1)
    index.rebuild(np.arange(10, dtype=np.int64), _unit(10, seed=1), generation=4)
    index.save(tmp_path)
    assert not VectorIndex(DIMENSION).load(tmp_path, generation=5)
    assert not VectorIndex(DIMENSION + 1).load(tmp_path, generation=4)
    (tmp_path / vectors_module.INDEX_NAME).write_bytes(b"not faiss")
    assert not VectorIndex(DIMENSION).load(tmp_path, generation=4)
    (tmp_path / vectors_module.STAMP_NAME).write_text('{"generation": 4, "count": 10, "index_type": "x"}')
    assert not VectorIndex(DIMENSION).load(tmp_path, generation=4)


def test_empty_index_searches_to_nothing() -> None:
    assert VectorIndex(DIMENSION).search(_unit(1, seed=0)[0], 5) == []
