"""The slow upkeep of the vector index (retraining as the library grows, writing a new base file) runs without
the library's write lock, so another writer never waits for it (issue 9: a 38 s hold at a million chunks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from filelock import FileLock, Timeout
from test_vectors import DIMENSION, _clustered

from index import vectors as vectors_module
from index.backends.local import LocalBackend
from index.embedding import HashingEmbedder
from index.library import Library
from index.models import Document
from index.vectors import VectorIndex


def _lock_is_free(folder: Path) -> bool:
    """Whether another writer could take the library's write lock right now (a second lock file handle)."""
    probe = FileLock(folder / "write.lock", is_singleton=False)
    try:
        probe.acquire(timeout=0)
    except Timeout:
        return False
    probe.release()
    return True


def test_growing_installs_the_rebuilt_index_only_if_nothing_changed_meanwhile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors_module, "EXACT_LIMIT", 300)
    matrix = _clustered(700, seed=1)
    ids = np.arange(700, dtype=np.int64)
    index = VectorIndex(DIMENSION)
    index.add(ids[:400], matrix[:400], grow=False)
    assert index.kind == "flat"  # grown past the limit, but waiting for grow()

    real_build = vectors_module._build

    def build_while_a_writer_adds(*arguments: Any) -> Any:
        built = real_build(*arguments)
        index.add(ids[400:450], matrix[400:450], grow=False)  # lands on the old index during the build
        return built

    monkeypatch.setattr(vectors_module, "_build", build_while_a_writer_adds)
    assert index.grow() is False
    assert index.kind == "flat" and len(index) == 450  # the stale rebuild was thrown away, nothing lost

    monkeypatch.setattr(vectors_module, "_build", real_build)
    assert index.grow() is True
    assert index.kind == "ivf" and len(index) == 450
    assert index.grow() is False  # nothing more to do


def test_a_base_written_ahead_plus_later_changes_loads_as_the_index(tmp_path: Path) -> None:
    matrix = _clustered(3000, seed=2)
    ids = np.arange(3000, dtype=np.int64) + 10
    index = VectorIndex(DIMENSION)
    index.rebuild(ids[:2500], matrix[:2500], generation=1)
    index.prepare_base(tmp_path)
    ahead = list(tmp_path.glob("vectors.faiss.next-*"))
    assert len(ahead) == 1
    # Changes after the snapshot: they must end up in the delta, not be lost.
    index.add(ids[2500:], matrix[2500:])
    index.remove(ids[:100])
    index.generation = 2
    index.save(tmp_path)
    assert not list(tmp_path.glob("vectors.faiss.next-*"))
    loaded = VectorIndex(DIMENSION)
    assert loaded.load(tmp_path, generation=2, count=2900)
    loaded_ids, loaded_vectors = loaded.vectors()
    order = np.argsort(loaded_ids)
    assert np.array_equal(loaded_ids[order], ids[100:])
    assert np.allclose(loaded_vectors[order], matrix[100:], atol=1e-5)
    stamp = (tmp_path / "vectors.json").read_text(encoding="utf-8")
    assert '"base_count":2500' in stamp and '"delta_added":500' in stamp and '"delta_removed":100' in stamp


def test_a_base_written_ahead_is_dropped_when_the_index_is_replaced(tmp_path: Path) -> None:
    matrix = _clustered(600, seed=3)
    ids = np.arange(600, dtype=np.int64)
    index = VectorIndex(DIMENSION)
    index.rebuild(ids[:300], matrix[:300], generation=1)
    index.prepare_base(tmp_path)
    index.rebuild(ids, matrix, generation=2)  # e.g. a reload: the snapshot no longer describes the index
    index.save(tmp_path)
    loaded = VectorIndex(DIMENSION)
    assert loaded.load(tmp_path, generation=2, count=600)
    assert len(loaded) == 600
    assert not list(tmp_path.glob("vectors.faiss.next-*"))


def _documents(count: int) -> list[Document]:
    return [
        Document(
            source=f"notes/{number}.txt",
            title=f"Note {number}",
            text=f"Station {number} logged reading {number * 7} at dawn. The crew of {number} slept late.",
        )
        for number in range(count)
    ]


def test_an_add_that_outgrows_the_index_retrains_and_writes_its_base_without_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors_module, "EXACT_LIMIT", 150)
    folder = tmp_path / "library"
    seen: dict[str, list[bool]] = {"grow": [], "prepare_base": []}
    real_grow, real_prepare = VectorIndex.grow, VectorIndex.prepare_base

    def grow(self: VectorIndex) -> bool:
        grown = real_grow(self)
        if grown:
            seen["grow"].append(_lock_is_free(folder))
        return grown

    def prepare_base(self: VectorIndex, target: Path) -> None:
        seen["prepare_base"].append(_lock_is_free(folder))
        real_prepare(self, target)

    monkeypatch.setattr(VectorIndex, "grow", grow)
    monkeypatch.setattr(VectorIndex, "prepare_base", prepare_base)
    with Library.open(folder, embedder=HashingEmbedder()) as library:
        report = library.add(_documents(400))
        assert len(report.added) == 400
        backend = library.backend
        assert isinstance(backend, LocalBackend)
        assert backend.vectors.kind == "ivf"
        answer = library.ask("What did station 123 log at dawn?", reader=False)
        assert answer.found and "Station 123 logged reading 861" in answer.quotes[0].text
    assert seen["grow"] == [True]  # retrained once, with the lock free for others
    assert seen["prepare_base"] and all(seen["prepare_base"])
    assert not list(folder.glob("vectors.faiss.next-*"))
    with Library.open(folder, embedder=HashingEmbedder()) as reopened:
        assert reopened.stats().vectors == report.chunks
        assert "IVF" in reopened.stats().index_type
