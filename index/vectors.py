"""The FAISS index over chunk vectors: derived from SQLite, stamped with the generation it was built from.

Vectors are L2-normalised, so inner product is cosine similarity. Ids are the chunks' SQLite row ids, so a
delete is exact (`remove_ids`) and a hit maps straight back to its row.

The index type follows the size: exact search (`IndexFlatIP`) up to `EXACT_LIMIT` vectors, where one query
scans the lot in a few milliseconds; beyond it an inverted-file index (`IndexIVFScalarQuantizer`, fp16 codes,
inner product), which adds and removes single vectors without a rebuild and scans only `nprobe` of its
lists. The IVF is retrained (one rebuild) when it has grown `RETRAIN_GROWTH` times past the size it was
trained at, so a library that grows by single articles pays for a rebuild rarely.

On disk the index is a base file plus a small delta (vectors added and ids removed since the base was
written), so saving after adding one article to a million-chunk library writes kilobytes, not the whole index.
The stamp is written last and names the generation of the database both files describe; anything else is
stale and rebuilt from SQLite.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["EXACT_LIMIT", "IndexKind", "VectorIndex", "choose_kind"]

logger = logging.getLogger(__name__)

INDEX_NAME = "vectors.faiss"
DELTA_NAME = "vectors.delta.npz"
STAMP_NAME = "vectors.json"
STAMP_VERSION = 2

IndexKind = Literal["flat", "ivf"]
# Exact search costs ~0.35 µs per vector per query on one core of the reference machine: 20,000 is ~7 ms.
EXACT_LIMIT = 20_000
RETRAIN_GROWTH = 4.0
# Share of the IVF lists scanned per query. Chunk vectors of MiniLM are not tightly clustered: on a real
# 100,000-chunk library recall@10 against exact search was 0.90 at 1/16, 0.96 at 1/4, 0.98 at 1/2 (2.9 ms at 1/4).
PROBE_FRACTION = 1 / 4
MIN_PROBES = 16
# Past 1,024 lists a quarter would scan too much; 256 of 2,048 at a million chunks is ~15 ms (README.md, Performance).
MAX_PROBES = 256
# Training k-means on this many points per list is plenty for a coarse quantizer and keeps training to seconds.
TRAIN_POINTS_PER_LIST = 32
# The delta is folded into the base once it holds this share of the index (or, for small indexes, this many).
DELTA_SHARE = 0.05
DELTA_MINIMUM = 2_000


def choose_kind(count: int) -> IndexKind:
    """The index type for `count` vectors."""
    return "flat" if count <= EXACT_LIMIT else "ivf"


def list_count(count: int) -> int:
    """IVF lists for `count` vectors: about 2·√count, a power of two, 64 to 8192."""
    target = 2 * math.sqrt(max(count, 1))
    return int(min(8192, max(64, 2 ** round(math.log2(target)))))


class _Stamp(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = STAMP_VERSION
    generation: int
    count: int
    index_type: str
    kind: IndexKind
    base_count: int
    delta_added: int
    delta_removed: int
    trained_at: int


class VectorIndex:
    """Inner-product search over chunk vectors, safe to call from several threads."""

    def __init__(self, dimension: int, *, kind: IndexKind | None = None) -> None:
        import faiss

        # One thread per query is faster for single queries on few cores, and leaves cores to other askers.
        faiss.omp_set_num_threads(1)
        self.dimension = dimension
        self.generation = -1
        # None: choose by size; a fixed kind is for baselines and tests.
        self.forced_kind = kind
        self._kind: IndexKind = kind or "flat"
        self._index: Any = _new_flat(dimension)
        self._trained_at = 0
        self._lock = threading.Lock()
        # Changes since the base file was written: id -> vector added, ids of the base removed.
        self._delta_added: dict[int, NDArray[np.float32]] = {}
        self._delta_removed: set[int] = set()
        self._base_valid = False
        self._base_count = 0

    @property
    def kind(self) -> IndexKind:
        return self._kind

    @property
    def index_type(self) -> str:
        """The FAISS index in use, with its settings, e.g. ``IndexIVFScalarQuantizer(IVF512,SQfp16,nprobe=32)``."""
        if self._kind == "flat":
            return "IndexIDMap2(IndexFlatIP)"
        index = self._index
        return f"IndexIVFScalarQuantizer(IVF{index.nlist},SQfp16,nprobe={index.nprobe})"

    @property
    def nprobe(self) -> int:
        return int(self._index.nprobe) if self._kind == "ivf" else 0

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        if self._kind == "ivf":
            with self._lock:
                self._index.nprobe = max(1, min(int(value), int(self._index.nlist)))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def rebuild(
        self,
        ids: NDArray[np.int64],
        vectors: NDArray[np.float32],
        *,
        generation: int,
        kind: IndexKind | None = None,
    ) -> None:
        """Replace the index with one over `vectors`, of the type their number calls for (or `kind`)."""
        chosen = kind or self.forced_kind or choose_kind(len(ids))
        index = _build(chosen, self.dimension, ids, vectors)
        with self._lock:
            self._index = index
            self._kind = chosen
            if kind is not None:
                self.forced_kind = kind
            self._trained_at = len(ids)
            self.generation = generation
            self._delta_added.clear()
            self._delta_removed.clear()
            self._base_valid = False

    def add(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        if not len(ids):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        with self._lock:
            self._index.add_with_ids(vectors, ids)
            for chunk_id, vector in zip(ids.tolist(), vectors, strict=True):
                self._delta_added[chunk_id] = vector
            grown = self._needs_new_kind()
        if grown:
            self._convert()

    def remove(self, ids: NDArray[np.int64]) -> None:
        if not len(ids):
            return
        with self._lock:
            self._index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64))
            for chunk_id in ids.tolist():
                if self._delta_added.pop(chunk_id, None) is None:
                    self._delta_removed.add(chunk_id)

    def search(self, query: NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        """The `k` nearest chunk ids with their cosine similarity, best first."""
        with self._lock:
            if self._index.ntotal == 0:
                return []
            scores, ids = self._index.search(query.reshape(1, -1).astype(np.float32), min(k, self._index.ntotal))
        return [(int(chunk), float(score)) for chunk, score in zip(ids[0], scores[0], strict=True) if chunk >= 0]

    def search_many(self, queries: NDArray[np.float32], k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """(scores, ids) for a batch of queries, FAISS-style: -1 ids pad rows with fewer than `k` hits."""
        with self._lock:
            scores, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, ids

    def vectors(self) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Every (id, vector) in the index; for the IVF the fp16-decoded vectors."""
        with self._lock:
            return _contents(self._kind, self._index, self.dimension)

    def save(self, folder: Path) -> None:
        """Write the index (or only its delta), then its stamp; a crash in between leaves a stale stamp."""
        import faiss

        with self._lock:
            total = int(self._index.ntotal)
            changes = len(self._delta_added) + len(self._delta_removed)
            small = changes <= max(DELTA_MINIMUM, DELTA_SHARE * total)
            if not (self._base_valid and small and (folder / INDEX_NAME).exists()):
                temporary = folder / (INDEX_NAME + ".tmp")
                faiss.write_index(self._index, str(temporary))
                temporary.replace(folder / INDEX_NAME)
                self._delta_added.clear()
                self._delta_removed.clear()
                self._base_valid = True
                self._base_count = total
            added_ids = np.fromiter(self._delta_added, dtype=np.int64, count=len(self._delta_added))
            added = (
                np.stack(list(self._delta_added.values()))
                if self._delta_added
                else np.zeros((0, self.dimension), dtype=np.float32)
            )
            removed = np.fromiter(self._delta_removed, dtype=np.int64, count=len(self._delta_removed))
            with (folder / (DELTA_NAME + ".tmp")).open("wb") as handle:
                np.savez(handle, added_ids=added_ids, added=added, removed=removed)
            (folder / (DELTA_NAME + ".tmp")).replace(folder / DELTA_NAME)
            stamp = _Stamp(
                generation=self.generation,
                count=total,
                index_type=self.index_type,
                kind=self._kind,
                base_count=self._base_count,
                delta_added=len(added_ids),
                delta_removed=len(removed),
                trained_at=self._trained_at,
            )
        stamp_temporary = folder / (STAMP_NAME + ".tmp")
        stamp_temporary.write_text(stamp.model_dump_json(), encoding="utf-8")
        stamp_temporary.replace(folder / STAMP_NAME)

    def load(self, folder: Path, *, generation: int) -> bool:
        """Load the saved index if it was built from `generation`; False when it is missing or stale."""
        import faiss

        try:
            stamp = _Stamp.model_validate(json.loads((folder / STAMP_NAME).read_text(encoding="utf-8")))
        except (OSError, ValueError, ValidationError):
            return False
        if stamp.generation != generation or (self.forced_kind and stamp.kind != self.forced_kind):
            return False
        try:
            index = faiss.read_index(str(folder / INDEX_NAME))
            with np.load(folder / DELTA_NAME) as delta:
                added_ids = delta["added_ids"].astype(np.int64)
                added = delta["added"].astype(np.float32)
                removed = delta["removed"].astype(np.int64)
        except (RuntimeError, OSError, ValueError, KeyError):
            logger.warning("the FAISS index in %s is unreadable; rebuilding it from the database", folder)
            return False
        if index.ntotal != stamp.base_count or index.d != self.dimension or len(added_ids) != stamp.delta_added:
            return False
        if len(removed):
            index.remove_ids(removed)
        if len(added_ids):
            index.add_with_ids(np.ascontiguousarray(added), added_ids)
        if index.ntotal != stamp.count:
            return False
        with self._lock:
            self._index = index
            self._kind = stamp.kind
            self._trained_at = stamp.trained_at
            self.generation = generation
            self._delta_added = dict(zip(added_ids.tolist(), added, strict=True))
            self._delta_removed = set(removed.tolist())
            self._base_valid = True
            self._base_count = stamp.base_count
        return True

    def nbytes(self, folder: Path) -> int:
        return sum((folder / name).stat().st_size for name in (INDEX_NAME, DELTA_NAME) if (folder / name).exists())

    def _needs_new_kind(self) -> bool:
        if self.forced_kind is not None:
            return False
        total = int(self._index.ntotal)
        if self._kind == "flat":
            return choose_kind(total) == "ivf"
        return total > RETRAIN_GROWTH * max(self._trained_at, 1)

    def _convert(self) -> None:
        """Rebuild in the type the size now calls for (flat -> IVF, or retrain a grown IVF)."""
        with self._lock:
            ids, vectors = _contents(self._kind, self._index, self.dimension)
            generation = self.generation
        logger.info("rebuilding the vector index for %d vectors", len(ids))
        self.rebuild(ids, vectors, generation=generation)


def _new_flat(dimension: int) -> Any:
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


def _build(kind: IndexKind, dimension: int, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> Any:
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if kind == "flat":
        index = _new_flat(dimension)
        if len(ids):
            index.add_with_ids(vectors, ids)
        return index
    lists = list_count(len(ids))
    quantizer = faiss.IndexFlatIP(dimension)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dimension, lists, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    )
    _prepare_ivf(index)
    sample_size = min(len(ids), lists * TRAIN_POINTS_PER_LIST)
    if sample_size < lists:
        # Too few vectors to train this many lists (only when forced for tests): use fewer.
        return _build_small_ivf(dimension, ids, vectors)
    sample = vectors[np.random.default_rng(0).choice(len(ids), size=sample_size, replace=False)]
    threads = os.cpu_count() or 1
    faiss.omp_set_num_threads(threads)
    try:
        index.train(sample)
        if len(ids):
            index.add_with_ids(vectors, ids)
    finally:
        faiss.omp_set_num_threads(1)
    index.nprobe = min(MAX_PROBES, max(MIN_PROBES, round(lists * PROBE_FRACTION)))
    return index


def _build_small_ivf(dimension: int, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> Any:
    import faiss

    lists = max(1, len(ids) // TRAIN_POINTS_PER_LIST)
    quantizer = faiss.IndexFlatIP(dimension)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dimension, lists, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    )
    _prepare_ivf(index)
    training = vectors if len(ids) else np.zeros((lists, dimension), dtype=np.float32)
    index.train(training)
    if len(ids):
        index.add_with_ids(vectors, ids)
    index.nprobe = max(1, min(lists, MIN_PROBES))
    return index


def _prepare_ivf(index: Any) -> None:
    import faiss

    # fp16 codes of the vectors themselves (not residuals): exact enough, and decodable without the centroids.
    index.by_residual = False
    # A hash table from id to (list, offset): remove_ids then touches one list instead of scanning them all.
    index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]


def _contents(kind: IndexKind, index: Any, dimension: int) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    import faiss

    if kind == "flat":
        ids = faiss.vector_to_array(index.id_map).astype(np.int64)
        flat: Any = faiss.downcast_index(index.index)
        vectors = faiss.vector_to_array(flat.codes).view(np.float32).reshape(-1, dimension)
        return ids, vectors.copy()
    invlists = index.invlists
    id_parts: list[NDArray[np.int64]] = []
    vector_parts: list[NDArray[np.float32]] = []
    for number in range(index.nlist):
        size = invlists.list_size(number)
        if not size:
            continue
        id_parts.append(faiss.rev_swig_ptr(invlists.get_ids(number), size).astype(np.int64).copy())
        codes = faiss.rev_swig_ptr(invlists.get_codes(number), size * index.code_size)
        vector_parts.append(codes.view(np.float16).reshape(size, dimension).astype(np.float32))
    if not id_parts:
        return np.zeros(0, dtype=np.int64), np.zeros((0, dimension), dtype=np.float32)
    return np.concatenate(id_parts), np.ascontiguousarray(np.concatenate(vector_parts), dtype=np.float32)
