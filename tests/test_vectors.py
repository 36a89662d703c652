"""VectorIndex: FAISS top-k against brute force, both index types, add/remove/save/load and stale stamps."""

from __future__ import annotations

import json
import os
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
    # A stamp of an older format is only stale.
    (tmp_path / vectors_module.STAMP_NAME).write_text('{"version": 2, "generation": 4, "count": 10}')
    assert not VectorIndex(DIMENSION).load(tmp_path, generation=4)


def _saved(folder: Path, kind: str = "flat") -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """A saved index at generation 4 with a base and a delta; its ids and vectors."""
    ids = np.arange(100, 400, dtype=np.int64)
    matrix = _unit(300, seed=21)
    index = VectorIndex(DIMENSION, kind=kind)  # type: ignore[arg-type]
    index.rebuild(ids[:250], matrix[:250], generation=3)
    index.save(folder)
    index.add(ids[250:], matrix[250:])
    index.remove(ids[:5])
    index.generation = 4
    index.save(folder)
    return ids[5:], matrix[5:]


def _database(ids: NDArray[np.int64], matrix: NDArray[np.float32]) -> vectors_module.VectorsOf:
    rows = dict(zip(ids.tolist(), matrix, strict=True))
    return lambda wanted: {chunk_id: rows[chunk_id] for chunk_id in wanted if chunk_id in rows}


def _restamp(folder: Path) -> None:
    """Make the stamp describe the files as they are now, as a damaged writer would have."""
    path = folder / vectors_module.STAMP_NAME
    fields = json.loads(path.read_text())
    for name, prefix in ((vectors_module.INDEX_NAME, "index"), (vectors_module.DELTA_NAME, "delta")):
        fields[f"{prefix}_bytes"], fields[f"{prefix}_digest"] = vectors_module._file_of(folder / name)
    path.write_text(json.dumps(fields))


def _shuffle_base(folder: Path) -> None:
    import faiss

    index = faiss.read_index(str(folder / vectors_module.INDEX_NAME))
    ids = faiss.vector_to_array(index.id_map)
    flat = faiss.downcast_index(index.index)
    vectors = faiss.vector_to_array(flat.codes).view(np.float32).reshape(-1, DIMENSION)
    shuffled = faiss.IndexIDMap2(faiss.IndexFlatIP(DIMENSION))
    shuffled.add_with_ids(np.ascontiguousarray(vectors[np.random.default_rng(0).permutation(len(ids))]), ids)
    faiss.write_index(shuffled, str(folder / vectors_module.INDEX_NAME))


def _huge_size_field(folder: Path) -> None:
    # IndexIDMap2 header: "IxM2", d (int32), ntotal (int64); then the flat index's header and its codes' size.
    path = folder / vectors_module.INDEX_NAME
    data = bytearray(path.read_bytes())
    # The flat index: "IxFI", d (int32), ntotal (int64), two dummy int64, is_trained (1 byte), metric (int32).
    codes = data.index(b"IxFI") + 4 + 4 + 8 + 8 + 8 + 1 + 4
    data[codes : codes + 8] = (1 << 39).to_bytes(8, "little")
    path.write_bytes(bytes(data))


def _wrong_type(folder: Path) -> None:
    import faiss

    faiss.write_index(faiss.IndexFlatL2(DIMENSION), str(folder / vectors_module.INDEX_NAME))


DAMAGE = {
    "zero-length delta": lambda folder: (folder / vectors_module.DELTA_NAME).write_bytes(b""),
    "truncated delta": lambda folder: (folder / vectors_module.DELTA_NAME).write_bytes(
        (folder / vectors_module.DELTA_NAME).read_bytes()[:200]
    ),
    "zero-length base": lambda folder: (folder / vectors_module.INDEX_NAME).write_bytes(b""),
    "huge size field": _huge_size_field,
    "wrong index type": _wrong_type,
    "shuffled vectors": _shuffle_base,
    "garbage stamp": lambda folder: (folder / vectors_module.STAMP_NAME).write_text('{"version": 3, "generation"'),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_file_is_refused_before_faiss_reads_it(tmp_path: Path, damage: str) -> None:
    ids, matrix = _saved(tmp_path)
    DAMAGE[damage](tmp_path)
    with pytest.raises(vectors_module.DamagedIndex):
        VectorIndex(DIMENSION).load(tmp_path, generation=4, count=len(ids), vectors_of=_database(ids, matrix))


@pytest.mark.parametrize("damage", ["huge size field", "wrong index type", "shuffled vectors", "truncated delta"])
def test_a_damaged_file_with_a_matching_stamp_is_still_refused(tmp_path: Path, damage: str) -> None:
    ids, matrix = _saved(tmp_path)
    DAMAGE[damage](tmp_path)
    _restamp(tmp_path)
    with pytest.raises(vectors_module.DamagedIndex):
        VectorIndex(DIMENSION).load(tmp_path, generation=4, count=len(ids), vectors_of=_database(ids, matrix))


def test_an_index_is_checked_against_the_database(tmp_path: Path) -> None:
    ids, matrix = _saved(tmp_path)
    assert VectorIndex(DIMENSION).load(tmp_path, generation=4, count=len(ids), vectors_of=_database(ids, matrix))
    with pytest.raises(vectors_module.DamagedIndex, match="database 296 chunks"):
        VectorIndex(DIMENSION).load(tmp_path, generation=4, count=len(ids) + 1)
    other = _unit(len(ids), seed=77)
    with pytest.raises(vectors_module.DamagedIndex, match="differs from the database"):
        VectorIndex(DIMENSION).load(tmp_path, generation=4, vectors_of=_database(ids, other))
    with pytest.raises(vectors_module.DamagedIndex, match="which the database does not"):
        VectorIndex(DIMENSION).load(tmp_path, generation=4, vectors_of=_database(ids[:1], matrix[:1]))
    with pytest.raises(vectors_module.DamagedIndex):
        VectorIndex(DIMENSION + 1).load(tmp_path, generation=4)


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_a_reader_catches_up_from_the_delta_without_reading_the_base(tmp_path: Path, kind: str) -> None:
    ids, matrix = _saved(tmp_path, kind)
    reader = VectorIndex(DIMENSION, kind=kind)  # type: ignore[arg-type]
    assert reader.load(tmp_path, generation=4)
    writer = VectorIndex(DIMENSION, kind=kind)  # type: ignore[arg-type]
    assert writer.load(tmp_path, generation=4)
    more = _unit(20, seed=5)
    writer.add(np.arange(1000, 1020, dtype=np.int64), more)
    writer.remove(ids[:10])  # base vectors
    writer.remove(ids[-3:])  # vectors of the delta
    writer.generation = 5
    writer.save(tmp_path)
    # The base file is now unreadable: only a reader that does not read it again can load generation 5.
    base = (tmp_path / vectors_module.INDEX_NAME).read_bytes()
    (tmp_path / vectors_module.INDEX_NAME).write_bytes(b"x" * len(base))
    truth = _database(np.concatenate([ids[10:-3], np.arange(1000, 1020)]), np.concatenate([matrix[10:-3], more]))
    assert reader.load(tmp_path, generation=5, count=len(writer), vectors_of=truth)
    assert len(reader) == len(writer) == 295 - 13 + 20
    for query in _unit(10, seed=8):
        assert reader.search(query, 10) == writer.search(query, 10)
    with pytest.raises(vectors_module.DamagedIndex):
        VectorIndex(DIMENSION, kind=kind).load(tmp_path, generation=5)  # type: ignore[arg-type]


def test_saving_leaves_no_temporary_files_and_fsyncs_each_file_and_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(descriptor: int) -> None:
        synced.append(str(Path(f"/proc/self/fd/{descriptor}").readlink()))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    _saved(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [vectors_module.INDEX_NAME, vectors_module.DELTA_NAME, vectors_module.STAMP_NAME]
    )
    for name in (vectors_module.INDEX_NAME, vectors_module.DELTA_NAME, vectors_module.STAMP_NAME):
        assert str(tmp_path / (name + ".tmp")) in synced
    # The folder after each rename: base, delta and stamp, then only the delta and the stamp.
    assert synced.count(str(tmp_path)) == 5


def test_a_failed_save_leaves_the_old_files_and_no_temporary_one(tmp_path: Path) -> None:
    _saved(tmp_path)
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    index = VectorIndex(DIMENSION)
    assert index.load(tmp_path, generation=4)
    index.add(np.arange(2000, 2003, dtype=np.int64), _unit(3, seed=2))
    index.generation = 5
    # A folder in the place of the temporary file makes the write fail part way.
    (tmp_path / (vectors_module.DELTA_NAME + ".tmp")).mkdir()
    with pytest.raises(OSError):
        index.save(tmp_path)
    (tmp_path / (vectors_module.DELTA_NAME + ".tmp")).rmdir()
    after = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    assert after.keys() == before.keys() - {vectors_module.STAMP_NAME}
    assert after[vectors_module.DELTA_NAME] == before[vectors_module.DELTA_NAME]
    assert not VectorIndex(DIMENSION).load(tmp_path, generation=4)  # no stamp: only stale, rebuilt quietly


def test_empty_index_searches_to_nothing() -> None:
    assert VectorIndex(DIMENSION).search(_unit(1, seed=0)[0], 5) == []
