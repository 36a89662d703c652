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
stale and rebuilt from SQLite. It also records each file's size and BLAKE2 digest, so a short, truncated or
altered file is refused before FAISS reads it (a damaged size field would make FAISS allocate whatever it
says), and a loaded index is checked for its type, dimension and count, and a sample of its vectors against
the database: a damaged index raises `DamagedIndex`, and the library rebuilds it from SQLite.

A reader whose index is older than the saved one and shares its base file only applies the saved delta.

The two slow steps of a growing library keep clear of the write lock: retraining the IVF (`grow`) builds the
new index from a snapshot while searches and writes go on with the old one, and installs it only if nothing
changed meanwhile; a new base file (`prepare_base`) is written from a snapshot to a file of this process's
own, and `save` (under the lock) only renames it into place and writes the changes since the snapshot as the
delta.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import threading
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, ValidationError

from index.errors import LibraryError
from index.store import write_durably

__all__ = ["EXACT_LIMIT", "DamagedIndex", "IndexKind", "VectorIndex", "choose_kind"]

logger = logging.getLogger(__name__)

INDEX_NAME = "vectors.faiss"
# A base file written ahead of `save`, outside the write lock; one per process, so that two never mix.
NEXT_PREFIX = "vectors.faiss.next-"
DELTA_NAME = "vectors.delta.npz"
STAMP_NAME = "vectors.json"
STAMP_VERSION = 3

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
# Vectors compared with the database on each load: shuffled or foreign vectors miss it almost surely.
SAMPLE_SIZE = 32
# fp16 codes of unit vectors differ from the float32 ones by at most ~5e-4 per component.
SAMPLE_TOLERANCE = 2e-3

VectorsOf = Callable[[Sequence[int]], dict[int, NDArray[np.float32]]]


@dataclass(slots=True)
class _NextBase:
    """A base file being written ahead of `save`, and the changes made to the index since its snapshot."""

    path: Path
    count: int
    added: dict[int, NDArray[np.float32]] = field(default_factory=dict)
    removed: set[int] = field(default_factory=set)
    file: tuple[int, str] | None = None


class DamagedIndex(Exception):
    """A saved index that does not match its stamp or the database; the message says what is off."""


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
    index_bytes: int
    index_digest: str
    delta_bytes: int
    delta_digest: str


# Up to this many allowed chunks, a restricted search of an IVF index scores them all exactly (~0.35 µs each).
_EXACT_WITHIN = 50_000


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
        # (bytes, digest) of the base file this index was loaded from or last wrote, and that file's
        # (inode, bytes, mtime): a base another process wrote since then gets a new inode.
        self._base_file: tuple[int, str] = (0, "")
        self._base_identity: tuple[int, int, int] | None = None
        # Bumped by every change, so that work done on a snapshot knows whether it is still current.
        self._changes = 0
        self._next: _NextBase | None = None
        # Bases written ahead for a state this index has left: removed at the next save.
        self._discarded: list[Path] = []

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
            self._replace(index, chosen, trained_at=len(ids), generation=generation)
            if kind is not None:
                self.forced_kind = kind

    def _replace(self, index: Any, kind: IndexKind, *, trained_at: int, generation: int) -> None:
        """Make `index` this one's, as a new index no base file holds; under `_lock`."""
        self._index = index
        self._kind = kind
        self._trained_at = trained_at
        self.generation = generation
        self._delta_added.clear()
        self._delta_removed.clear()
        self._base_valid = False
        self._changes += 1
        self._discard_next()

    def _discard_next(self) -> None:
        if self._next is not None:
            self._discarded.append(self._next.path)
            self._next = None

    def add(self, ids: NDArray[np.int64], vectors: NDArray[np.float32], *, grow: bool = True) -> None:
        """Add vectors; with grow=False a library that outgrew its index type waits for `grow()`."""
        if not len(ids):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        with self._lock:
            self._index.add_with_ids(vectors, ids)
            self._changes += 1
            for chunk_id, vector in zip(ids.tolist(), vectors, strict=True):
                self._delta_added[chunk_id] = vector
                if self._next is not None:
                    self._next.added[chunk_id] = vector
        if grow:
            self.grow()

    def remove(self, ids: NDArray[np.int64]) -> None:
        if not len(ids):
            return
        with self._lock:
            self._index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64))
            self._changes += 1
            for chunk_id in ids.tolist():
                if self._delta_added.pop(chunk_id, None) is None:
                    self._delta_removed.add(chunk_id)
                if self._next is not None and self._next.added.pop(chunk_id, None) is None:
                    self._next.removed.add(chunk_id)

    def grow(self) -> bool:
        """Rebuild in the type the size now calls for (flat -> IVF, or retrain an IVF grown `RETRAIN_GROWTH`
        times) if it calls for one; True when it did.

        The new index is built from a snapshot while the old one serves searches and takes writes; it is
        installed only if nothing changed meanwhile (else the next call tries again), so a caller need hold no
        lock but this index's own, and only for the snapshot and the swap."""
        with self._lock:
            if not self._needs_new_kind():
                return False
            ids, vectors = _contents(self._kind, self._index, self.dimension)
            changes, generation = self._changes, self.generation
        logger.info("rebuilding the vector index for %d vectors", len(ids))
        kind = choose_kind(len(ids))
        index = _build(kind, self.dimension, ids, vectors)
        with self._lock:
            if self._changes != changes:
                return False
            self._replace(index, kind, trained_at=len(ids), generation=generation)
        return True

    def prepare_base(self, folder: Path) -> None:
        """Write the next base file now, outside the write lock, if the next `save` would write one: that save
        then only renames it into place. A failure here costs nothing but the full write in `save`."""
        import faiss

        with self._lock:
            if not self._base_due(folder) or self._index.ntotal == 0:
                return
            # A copy in memory, taken in well under a second; the disk write runs after the lock is let go.
            blob = faiss.serialize_index(self._index)
            name = f"{NEXT_PREFIX}{os.getpid()}-{threading.get_ident()}"
            upcoming = _NextBase(path=folder / name, count=int(self._index.ntotal))
            self._discard_next()
            self._next = upcoming
        try:
            write_durably(upcoming.path, lambda temporary: temporary.write_bytes(blob.tobytes()))
            written = _file_of(upcoming.path)
        except (OSError, LibraryError) as error:
            logger.debug("the next vector index base was not written ahead (%s)", error)
            with self._lock:
                if self._next is upcoming:
                    self._discard_next()
            return
        with self._lock:
            if self._next is upcoming:
                upcoming.file = written

    def _base_due(self, folder: Path) -> bool:
        """Whether `save` would write the base file rather than only a delta; under `_lock`."""
        total = int(self._index.ntotal)
        changes = len(self._delta_added) + len(self._delta_removed)
        small = changes <= max(DELTA_MINIMUM, DELTA_SHARE * total)
        return not (self._base_valid and small and _identity(folder / INDEX_NAME) == self._base_identity)

    def search(self, query: NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        """The `k` nearest chunk ids with their cosine similarity, best first."""
        with self._lock:
            if self._index.ntotal == 0:
                return []
            scores, ids = self._index.search(query.reshape(1, -1).astype(np.float32), min(k, self._index.ntotal))
        return [(int(chunk), float(score)) for chunk, score in zip(ids[0], scores[0], strict=True) if chunk >= 0]

    def search_within(self, query: NDArray[np.float32], k: int, allowed: NDArray[np.int64]) -> list[tuple[int, float]]:
        """`search` among the chunk ids in `allowed` only (a FAISS IDSelector, so k of them come back).

        An IVF index probes only some lists, which may hold none of the allowed ids: it probes them all when
        the first try returns fewer than it could.
        """
        import faiss

        # faiss's generated stubs miss the keyword arguments its SWIG constructors take.
        parameters_of: Any = faiss.SearchParameters
        ivf_parameters_of: Any = faiss.SearchParametersIVF
        wanted = min(k, len(allowed))
        if wanted <= 0:
            return []
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        vector = query.reshape(1, -1).astype(np.float32)
        with self._lock:
            if self._index.ntotal == 0:
                return []
            if self._kind == "flat":
                scores, ids = self._index.search(vector, wanted, params=parameters_of(sel=selector))
            elif len(allowed) <= _EXACT_WITHIN and (exact := self._exact_within(vector[0], wanted, allowed)):
                return exact
            else:
                probes = int(self._index.nprobe)
                while True:
                    parameters = ivf_parameters_of(sel=selector, nprobe=probes)
                    scores, ids = self._index.search(vector, wanted, params=parameters)
                    if int((ids[0] >= 0).sum()) >= wanted or probes >= int(self._index.nlist):
                        break
                    probes = min(probes * 4, int(self._index.nlist))
        return [(int(chunk), float(score)) for chunk, score in zip(ids[0], scores[0], strict=True) if chunk >= 0]

    def _exact_within(
        self, query: NDArray[np.float32], k: int, allowed: NDArray[np.int64]
    ) -> list[tuple[int, float]] | None:
        """The allowed chunks scored exactly from the IVF's stored codes (an IVF probe would find only those in the
        lists it happens to visit); None when one of them is not in the index (a writer got ahead of us)."""
        chunks = np.ascontiguousarray(allowed, dtype=np.int64)
        try:
            stored = self._index.reconstruct_batch(chunks)
        except RuntimeError:
            return None
        scores = stored @ query
        order = np.argsort(-scores, kind="stable")[:k]
        return [(int(chunks[row]), float(scores[row])) for row in order]

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
        """Write the index (or only its delta), then its stamp; each file is fsynced before it replaces the old.

        The old stamp goes first, so a crash part way leaves no stamp (rebuilt quietly), never one that
        names files it does not describe. Raises DiskFull or ReadOnlyLibrary; the files then stay as they were.
        """
        import faiss

        with self._lock:
            total = int(self._index.ntotal)
            due = self._base_due(folder)
            (folder / STAMP_NAME).unlink(missing_ok=True)
            upcoming, self._next = self._next, None
            if due and upcoming is not None and upcoming.file is not None and upcoming.path.parent == folder:
                # Written ahead from a snapshot: the base it holds, plus what changed since, is this index.
                try:
                    upcoming.path.replace(folder / INDEX_NAME)
                    _sync_folder(folder)
                except OSError as error:
                    logger.debug("the vector index base written ahead was lost (%s); writing it now", error)
                else:
                    due = False
                    self._delta_added, self._delta_removed = upcoming.added, upcoming.removed
                    self._base_valid = True
                    self._base_count = upcoming.count
                    self._base_file = upcoming.file
                    self._base_identity = _identity(folder / INDEX_NAME)
            if upcoming is not None:
                self._discarded.append(upcoming.path)
            for path in self._discarded:
                path.unlink(missing_ok=True)
            self._discarded.clear()
            if due:
                index = self._index
                write_durably(folder / INDEX_NAME, lambda temporary: faiss.write_index(index, str(temporary)))
                self._delta_added.clear()
                self._delta_removed.clear()
                self._base_valid = True
                self._base_count = total
                self._base_file = _file_of(folder / INDEX_NAME)
                self._base_identity = _identity(folder / INDEX_NAME)
            added_ids = np.fromiter(self._delta_added, dtype=np.int64, count=len(self._delta_added))
            added = (
                np.stack(list(self._delta_added.values()))
                if self._delta_added
                else np.zeros((0, self.dimension), dtype=np.float32)
            )
            removed = np.fromiter(self._delta_removed, dtype=np.int64, count=len(self._delta_removed))
            write_durably(folder / DELTA_NAME, lambda temporary: _write_delta(temporary, added_ids, added, removed))
            delta_bytes, delta_digest = _file_of(folder / DELTA_NAME)
            stamp = _Stamp(
                generation=self.generation,
                count=total,
                index_type=self.index_type,
                kind=self._kind,
                base_count=self._base_count,
                delta_added=len(added_ids),
                delta_removed=len(removed),
                trained_at=self._trained_at,
                index_bytes=self._base_file[0],
                index_digest=self._base_file[1],
                delta_bytes=delta_bytes,
                delta_digest=delta_digest,
            )
        text = stamp.model_dump_json()
        write_durably(folder / STAMP_NAME, lambda temporary: temporary.write_text(text, encoding="utf-8"))

    def load(
        self,
        folder: Path,
        *,
        generation: int,
        count: int | None = None,
        vectors_of: VectorsOf | None = None,
    ) -> bool:
        """Load the saved index if it was built from `generation`; False when it is missing or stale.

        `count` (chunks in the database) and `vectors_of` (their vectors by id) check it against the
        database. Raises DamagedIndex when a file or the index does not match its stamp or the database.
        """
        stamp = _read_stamp(folder)
        if stamp is None or stamp.generation != generation or (self.forced_kind and stamp.kind != self.forced_kind):
            return False
        if count is not None and count != stamp.count:
            raise DamagedIndex(f"the stamp counts {stamp.count} vectors, the database {count} chunks")
        _check_file(folder / DELTA_NAME, stamp.delta_bytes, stamp.delta_digest)
        added_ids, added, removed = _read_delta(folder / DELTA_NAME, self.dimension, stamp)
        base_file = (stamp.index_bytes, stamp.index_digest)
        with self._lock:
            # The saved delta is relative to the base this index also holds: no need to read the base again,
            # unless this index removed base vectors the saved delta keeps (only the base file has them).
            catching_up = (
                self._base_valid
                and self._base_file == base_file
                and self._kind == stamp.kind
                and self._delta_removed <= set(removed.tolist())
            )
        if catching_up:
            with self._lock:
                index = self._index
                self._changes += 1
                self._discard_next()
                self.generation = -1  # half way until the checks below pass
                self._base_valid = False
                # Back to the base less what both deltas removed, then forward by the saved delta.
                index.remove_ids(np.fromiter(self._delta_added, dtype=np.int64, count=len(self._delta_added)))
                index.remove_ids(np.array(sorted(set(removed.tolist()) - self._delta_removed), dtype=np.int64))
                self._install(index, stamp, added_ids, added, removed, vectors_of)
            logger.debug("caught up with generation %d from the delta in %s", generation, folder)
            return True
        # Read and check outside the lock: searches go on meanwhile on the index in memory.
        _check_file(folder / INDEX_NAME, stamp.index_bytes, stamp.index_digest)
        identity = _identity(folder / INDEX_NAME)
        index = self._read_base(folder, stamp)
        if len(removed):
            index.remove_ids(removed)
        with self._lock:
            self._install(index, stamp, added_ids, added, removed, vectors_of)
            self._base_identity = identity
        return True

    def _install(
        self,
        index: Any,
        stamp: _Stamp,
        added_ids: NDArray[np.int64],
        added: NDArray[np.float32],
        removed: NDArray[np.int64],
        vectors_of: VectorsOf | None,
    ) -> None:
        """Apply the saved delta's additions to `index`, check it, and make it this one's; under `_lock`."""
        if len(added_ids):
            index.add_with_ids(np.ascontiguousarray(added), added_ids)
        if index.ntotal != stamp.count:
            raise DamagedIndex(f"the index holds {index.ntotal} vectors, its stamp says {stamp.count}")
        if vectors_of is not None:
            _check_sample(index, vectors_of, seed=stamp.generation)
        self._index = index
        self._changes += 1
        self._discard_next()
        self._kind = stamp.kind
        self._trained_at = stamp.trained_at
        self.generation = stamp.generation
        self._delta_added = dict(zip(added_ids.tolist(), added, strict=True))
        self._delta_removed = set(removed.tolist())
        self._base_valid = True
        self._base_count = stamp.base_count
        self._base_file = (stamp.index_bytes, stamp.index_digest)

    def _read_base(self, folder: Path, stamp: _Stamp) -> Any:
        import faiss

        try:
            index = faiss.read_index(str(folder / INDEX_NAME))
        except (RuntimeError, MemoryError) as error:
            raise DamagedIndex(f"FAISS cannot read {INDEX_NAME} ({error})") from error
        found = _describe(index)
        expected = "IndexIDMap2(IndexFlatIP)" if stamp.kind == "flat" else "IndexIVFScalarQuantizer(SQfp16,IP)"
        if found != expected:
            raise DamagedIndex(f"{INDEX_NAME} holds a {found}, its stamp a {expected}")
        if index.d != self.dimension or index.ntotal != stamp.base_count:
            raise DamagedIndex(
                f"{INDEX_NAME} holds {index.ntotal} vectors of dimension {index.d}, "
                f"its stamp {stamp.base_count} of dimension {self.dimension}"
            )
        return index

    def nbytes(self, folder: Path) -> int:
        return sum((folder / name).stat().st_size for name in (INDEX_NAME, DELTA_NAME) if (folder / name).exists())

    def _needs_new_kind(self) -> bool:
        if self.forced_kind is not None:
            return False
        total = int(self._index.ntotal)
        if self._kind == "flat":
            return choose_kind(total) == "ivf"
        return total > RETRAIN_GROWTH * max(self._trained_at, 1)


def _sync_folder(folder: Path) -> None:
    """fsync a folder, so that a rename in it survives a power cut."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _read_stamp(folder: Path) -> _Stamp | None:
    """The stamp; None when there is none or it is of an older format (both only stale)."""
    try:
        text = (folder / STAMP_NAME).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise DamagedIndex(f"{STAMP_NAME} is unreadable ({error})") from error
    try:
        fields = json.loads(text)
        if isinstance(fields, dict) and fields.get("version") != STAMP_VERSION:
            return None
        return _Stamp.model_validate(fields)
    except (ValueError, ValidationError) as error:
        raise DamagedIndex(f"{STAMP_NAME} is not a valid stamp") from error


def _file_of(path: Path) -> tuple[int, str]:
    """(bytes, BLAKE2 digest) of a file, read in blocks; (0, "") when it is missing."""
    digest = hashlib.blake2b(digest_size=16)
    size = 0
    try:
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
                size += len(block)
    except FileNotFoundError:
        return 0, ""
    return size, digest.hexdigest()


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns


def _check_file(path: Path, size: int, digest: str) -> tuple[int, str]:
    if not path.exists():
        raise DamagedIndex(f"{path.name} is missing")
    found = path.stat().st_size
    if found != size:
        raise DamagedIndex(f"{path.name} is {found} bytes, its stamp says {size}")
    checked = _file_of(path)
    if checked != (size, digest):
        raise DamagedIndex(f"{path.name} does not match the digest in its stamp")
    return checked


def _write_delta(
    path: Path, added_ids: NDArray[np.int64], added: NDArray[np.float32], removed: NDArray[np.int64]
) -> None:
    with path.open("wb") as handle:
        np.savez(handle, added_ids=added_ids, added=added, removed=removed)


def _read_delta(
    path: Path, dimension: int, stamp: _Stamp
) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.int64]]:
    try:
        # Our own handle: np.load leaves its own open when the zip is damaged.
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as delta:
            added_ids = delta["added_ids"]
            added = delta["added"]
            removed = delta["removed"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise DamagedIndex(f"{DELTA_NAME} is unreadable ({error})") from error
    shapes_fit = (
        added_ids.dtype == np.int64
        and removed.dtype == np.int64
        and added.dtype == np.float32
        and added_ids.shape == (stamp.delta_added,)
        and added.shape == (stamp.delta_added, dimension)
        and removed.shape == (stamp.delta_removed,)
    )
    if not shapes_fit:
        raise DamagedIndex(
            f"{DELTA_NAME} holds {added_ids.shape} ids and {added.shape} vectors added, {removed.shape} removed; "
            f"its stamp says {stamp.delta_added} added of dimension {dimension}, {stamp.delta_removed} removed"
        )
    return added_ids, added, removed


def _describe(index: Any) -> str:
    """What a FAISS index read from disk is, in the words of `_read_base`'s expectations."""
    import faiss

    if isinstance(index, faiss.IndexIDMap2):
        inner = faiss.downcast_index(index.index)
        if isinstance(inner, faiss.IndexFlatIP):
            return "IndexIDMap2(IndexFlatIP)"
        return f"IndexIDMap2({type(inner).__name__})"
    if isinstance(index, faiss.IndexIVFScalarQuantizer):
        fits = (
            index.sq.qtype == faiss.ScalarQuantizer.QT_fp16
            and index.metric_type == faiss.METRIC_INNER_PRODUCT
            and not index.by_residual
            and index.direct_map.type == faiss.DirectMap.Hashtable  # type: ignore[attr-defined]
        )
        return "IndexIVFScalarQuantizer(SQfp16,IP)" if fits else "IndexIVFScalarQuantizer of other settings"
    return type(index).__name__


def _check_sample(index: Any, vectors_of: VectorsOf, *, seed: int) -> None:
    """Compare a few of the index's vectors, chosen by `seed`, with the database's."""
    import faiss

    if index.ntotal == 0:
        return
    if isinstance(index, faiss.IndexIDMap2):
        ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    else:
        ids = np.concatenate(
            [
                faiss.rev_swig_ptr(index.invlists.get_ids(number), index.invlists.list_size(number)).astype(np.int64)
                for number in range(index.nlist)
                if index.invlists.list_size(number)
            ]
        )
    chosen = np.random.default_rng(seed).choice(ids, size=min(SAMPLE_SIZE, len(ids)), replace=False).tolist()
    stored = vectors_of(chosen)
    for chunk_id in chosen:
        if chunk_id not in stored:
            raise DamagedIndex(f"the index holds chunk {chunk_id}, which the database does not")
        if not np.allclose(index.reconstruct(chunk_id), stored[chunk_id], atol=SAMPLE_TOLERANCE):
            raise DamagedIndex(f"the vector of chunk {chunk_id} differs from the database's")


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
