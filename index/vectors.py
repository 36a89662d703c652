"""The FAISS index over chunk vectors: derived from SQLite, stamped with the generation it was built from.

Vectors are L2-normalised, so inner product is cosine similarity. Ids are the chunks' SQLite row ids, so a
delete is exact (`remove_ids`) and a hit maps straight back to its row.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["VectorIndex"]

logger = logging.getLogger(__name__)

INDEX_NAME = "vectors.faiss"
STAMP_NAME = "vectors.json"


class _Stamp(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    generation: int
    count: int
    index_type: str


class VectorIndex:
    """Exact inner-product search over chunk vectors, safe to call from several threads."""

    def __init__(self, dimension: int) -> None:
        import faiss

        # One thread per query is faster for single queries on few cores, and leaves cores to other askers.
        faiss.omp_set_num_threads(1)
        self.dimension = dimension
        self.generation = -1
        self._index: Any = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        self._lock = threading.Lock()

    @property
    def index_type(self) -> str:
        return "IndexIDMap2(IndexFlatIP)"

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def rebuild(self, ids: NDArray[np.int64], vectors: NDArray[np.float32], *, generation: int) -> None:
        import faiss

        index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))
        if len(ids):
            index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        with self._lock:
            self._index = index
            self.generation = generation

    def add(self, ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        if len(ids):
            with self._lock:
                self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)

    def remove(self, ids: NDArray[np.int64]) -> None:
        if len(ids):
            with self._lock:
                self._index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64))

    def search(self, query: NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        """The `k` nearest chunk ids with their cosine similarity, best first."""
        with self._lock:
            if self._index.ntotal == 0:
                return []
            scores, ids = self._index.search(query.reshape(1, -1).astype(np.float32), min(k, self._index.ntotal))
        return [(int(chunk), float(score)) for chunk, score in zip(ids[0], scores[0], strict=True) if chunk >= 0]

    def save(self, folder: Path) -> None:
        """Write the index, then its stamp; a crash in between leaves a stale stamp, so we rebuild."""
        import faiss

        with self._lock:
            temporary = folder / (INDEX_NAME + ".tmp")
            faiss.write_index(self._index, str(temporary))
            temporary.replace(folder / INDEX_NAME)
            stamp = _Stamp(generation=self.generation, count=int(self._index.ntotal), index_type=self.index_type)
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
        if stamp.generation != generation:
            return False
        try:
            index = faiss.read_index(str(folder / INDEX_NAME))
        except RuntimeError:
            logger.warning("the FAISS index in %s is unreadable; rebuilding it from the database", folder)
            return False
        if index.ntotal != stamp.count or index.d != self.dimension:
            return False
        with self._lock:
            self._index = index
            self.generation = generation
        return True

    def nbytes(self, folder: Path) -> int:
        path = folder / INDEX_NAME
        return path.stat().st_size if path.exists() else 0
