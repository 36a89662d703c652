"""Damaged files heal: a bad derived file is rebuilt from SQLite and saved, an empty database is refused, a
read-only folder still answers, and a full disk says so."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

from index import store, vectors
from index.embedding import HashingEmbedder
from index.errors import DiskFull, NotALibrary, ReadOnlyLibrary
from index.library import Library
from index.models import Document

LIGHTHOUSE = "The lighthouse stood on Pharos for centuries."


def _documents(count: int, *, prefix: str = "doc") -> list[Document]:
    return [
        Document(
            text=f"Harbour {n} of {prefix} opened in {1800 + n}. Its pier is {n} metres long.", source=f"{prefix}-{n}"
        )
        for n in range(count)
    ]


def _library(folder: Path) -> Library:
    return Library.open(folder, embedder=HashingEmbedder())


def _build(folder: Path) -> None:
    """A library with a saved base and delta at the current generation."""
    with _library(folder) as library:
        library.add([Document(text=LIGHTHOUSE, source="lighthouse"), *_documents(40)])
        library.add(_documents(3, prefix="later"))


def _index_loads(folder: Path) -> bool:
    """Whether the saved index loads as it is, checked against the database."""
    embedder = HashingEmbedder()
    database = store.Store(folder, embedder=embedder.name, dimension=embedder.dimension)
    try:
        return vectors.VectorIndex(embedder.dimension).load(
            folder, generation=database.generation(), count=database.counts()[1], vectors_of=database.chunk_vectors
        )
    finally:
        database.close()


def _shuffle(folder: Path) -> None:
    import faiss

    index = faiss.read_index(str(folder / vectors.INDEX_NAME))
    ids = faiss.vector_to_array(index.id_map)
    codes = faiss.vector_to_array(faiss.downcast_index(index.index).codes).view(np.float32).reshape(len(ids), -1)
    shuffled = faiss.IndexIDMap2(faiss.IndexFlatIP(codes.shape[1]))
    shuffled.add_with_ids(np.ascontiguousarray(codes[::-1]), ids)
    faiss.write_index(shuffled, str(folder / vectors.INDEX_NAME))


def _huge_size_field(folder: Path) -> None:
    path = folder / vectors.INDEX_NAME
    data = bytearray(path.read_bytes())
    codes = data.index(b"IxFI") + 4 + 4 + 8 + 8 + 8 + 1 + 4
    data[codes : codes + 8] = (1 << 39).to_bytes(8, "little")
    path.write_bytes(bytes(data))


def _wrong_type(folder: Path) -> None:
    import faiss

    faiss.write_index(faiss.IndexFlatL2(HashingEmbedder().dimension), str(folder / vectors.INDEX_NAME))


DAMAGE: dict[str, Callable[[Path], object]] = {
    "zero-length delta": lambda folder: (folder / vectors.DELTA_NAME).write_bytes(b""),
    "truncated delta": lambda folder: (folder / vectors.DELTA_NAME).write_bytes(
        (folder / vectors.DELTA_NAME).read_bytes()[:100]
    ),
    "huge size field": _huge_size_field,
    "wrong index type": _wrong_type,
    "shuffled vectors": _shuffle,
    "zero-length stamp": lambda folder: (folder / vectors.STAMP_NAME).write_bytes(b""),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_index_file_is_rebuilt_with_one_warning_and_saved(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "library"
    _build(folder)
    DAMAGE[damage](folder)
    with caplog.at_level(logging.WARNING), _library(folder) as library:
        assert library.ask("Which lighthouse stood on Pharos?").quotes[0].text == LIGHTHOUSE
        stats = library.stats()
        assert stats.vectors == stats.chunks == 44
        library.add(_documents(1, prefix="after"))
        assert len(library.articles()) == 45
    warnings = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(warnings) == 1, [record.getMessage() for record in warnings]
    assert "damaged" in warnings[0].getMessage() and "rebuilding it" in warnings[0].getMessage()
    assert _index_loads(folder)


def test_the_reader_that_rebuilt_the_index_saves_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "library"
    _build(folder)
    (folder / vectors.STAMP_NAME).unlink()  # as after a crashed add
    with _library(folder) as library:
        assert library.ask("Which lighthouse stood on Pharos?").found
    with caplog.at_level(logging.INFO, logger="index.library"), _library(folder) as library:
        assert library.ask("Which lighthouse stood on Pharos?").found
    assert not [record for record in caplog.records if "building" in record.getMessage()]


def test_a_reader_that_cannot_take_the_lock_serves_from_memory_without_waiting(tmp_path: Path) -> None:
    folder = tmp_path / "library"
    _build(folder)
    (folder / vectors.STAMP_NAME).unlink()
    with FileLock(folder / store.LOCK_NAME), _library(folder) as library:
        assert library.ask("Which lighthouse stood on Pharos?").quotes[0].text == LIGHTHOUSE
    assert not (folder / vectors.STAMP_NAME).exists()


def test_a_long_running_reader_catches_up_from_the_delta(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "library"
    _build(folder)
    with _library(folder) as reader, _library(folder) as writer:
        assert reader.ask("Which lighthouse stood on Pharos?").found
        with caplog.at_level(logging.DEBUG, logger="index"):
            writer.add([Document(text="The beacon of Alexandria burned olive oil.", source="beacon")])
            caplog.clear()
            assert reader.ask("What did the beacon of Alexandria burn?").quotes[0].source == "beacon"
        messages = [record.getMessage() for record in caplog.records]
        assert any("caught up" in message for message in messages), messages
        assert not any("building" in message for message in messages), messages


def test_a_zero_length_database_is_refused_as_not_a_library(tmp_path: Path) -> None:
    folder = tmp_path / "library"
    _build(folder)
    (folder / store.DATABASE_NAME).write_bytes(b"")
    with pytest.raises(NotALibrary, match=r"is empty \(0 bytes\).*restore the file from a backup"):
        _library(folder)
    assert (folder / store.DATABASE_NAME).stat().st_size == 0  # left as it was


def test_stale_temporary_files_are_removed_when_a_writer_opens(tmp_path: Path) -> None:
    folder = tmp_path / "library"
    _build(folder)
    for name in ("vectors.faiss.tmp", "vectors.delta.npz.tmp", "vectors.json.tmp", "quotebot.json.tmp"):
        (folder / name).write_bytes(b"left by a crash")
    with _library(folder) as library:
        assert library.ask("Which lighthouse stood on Pharos?").found
    assert not list(folder.glob("*.tmp"))


def _mount(*arguments: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["mount", *arguments], capture_output=True)


@pytest.fixture
def read_only_library(tmp_path: Path) -> Iterator[Path]:
    """A library folder behind a read-only bind mount: writes fail with EROFS even for root (chmod would not)."""
    folder = tmp_path / "library"
    _build(folder)
    view = tmp_path / "read-only"
    view.mkdir()
    made = _mount("--bind", str(folder), str(view))
    if made.returncode != 0:
        pytest.skip(f"cannot bind-mount here ({made.stderr.decode().strip()}); needs root and mount rights")
    try:
        made = _mount("-o", "remount,bind,ro", str(view))
        if made.returncode != 0:
            pytest.skip(f"cannot make a bind mount read-only here ({made.stderr.decode().strip()})")
        yield view
    finally:
        subprocess.run(["umount", str(view)], check=True)


@pytest.mark.parametrize("stale_index", [False, True])
def test_a_read_only_library_still_answers(tmp_path: Path, read_only_library: Path, stale_index: bool) -> None:
    if stale_index:
        subprocess.run(["umount", str(read_only_library)], check=True)
        (tmp_path / "library" / vectors.STAMP_NAME).unlink()
        _mount("--bind", str(tmp_path / "library"), str(read_only_library))
        _mount("-o", "remount,bind,ro", str(read_only_library))
    with pytest.raises(OSError):
        (read_only_library / "probe").write_text("x")
    library = _library(read_only_library)
    try:
        assert library.ask("Which lighthouse stood on Pharos?").quotes[0].text == LIGHTHOUSE
        assert len(library.articles()) == 44
        assert library.stats().vectors == 44
        with pytest.raises(ReadOnlyLibrary, match="is read-only for this process"):
            library.add([Document(text="New words.", source="new")])
    finally:
        library.close()
    assert not list(read_only_library.glob("*.tmp"))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, so the disk really fills up."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({made.stderr.decode().strip()}); needs root")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def _fill(disk: Path, *, leave: int = 0) -> None:
    """Fill the disk, then free `leave` bytes of it."""
    with (disk / "filler").open("wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass
    size = (disk / "filler").stat().st_size
    os.truncate(disk / "filler", max(0, size - leave))


def test_a_full_disk_says_so_and_nothing_else(small_disk: Path) -> None:
    folder = small_disk / "library"
    with _library(folder) as library:
        library.add([Document(text=LIGHTHOUSE, source="lighthouse")])
        _fill(small_disk)
        with pytest.raises(DiskFull, match=r"^no space left on the library's disk \(") as raised:
            library.add(_documents(300))
        assert "restore" not in str(raised.value) and "rollback" not in str(raised.value)
        assert not list(folder.glob("*.tmp"))
        (small_disk / "filler").unlink()
        assert library.ask("Which lighthouse stood on Pharos?").quotes[0].text == LIGHTHOUSE
        assert len(library.articles()) == 1
        library.add(_documents(2))
        assert len(library.articles()) == 3


def test_a_nearly_full_disk_commits_whole_batches_or_says_so(small_disk: Path) -> None:
    folder = small_disk / "library"
    with _library(folder) as library:
        library.add([Document(text=LIGHTHOUSE, source="lighthouse")])
        _fill(small_disk, leave=96 * 1024)
        # SQLite rolls back by itself on SQLITE_FULL; that must not turn into "cannot rollback".
        with pytest.raises(DiskFull, match=r"^no space left on the library's disk \("):
            for batch in range(20):
                library.add(_documents(60, prefix=f"batch-{batch}"))
        assert not list(folder.glob("*.tmp"))
        (small_disk / "filler").unlink()
    with _library(folder) as library:
        summaries = library.articles()
        # Each add that returned was committed whole; the failed one left nothing behind.
        assert (len(summaries) - 1) % 60 == 0
        stats = library.stats()
        assert stats.vectors == stats.chunks


def test_a_new_library_on_a_full_disk_says_so(small_disk: Path) -> None:
    _fill(small_disk)
    with pytest.raises(DiskFull, match=r"^no space left on the library's disk"):
        _library(small_disk / "library")


def test_an_index_that_cannot_be_saved_does_not_fail_the_add(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "library"
    with _library(folder) as library:
        library.add(_documents(3))
        # A folder where the delta's temporary file goes: the commit succeeds, the index save does not.
        (folder / (vectors.DELTA_NAME + ".tmp")).mkdir()
        with caplog.at_level(logging.WARNING):
            report = library.add(_documents(2, prefix="more"))
        assert len(report.added) == 2
        assert any("was not saved" in record.getMessage() for record in caplog.records)
        (folder / (vectors.DELTA_NAME + ".tmp")).rmdir()
    with _library(folder) as library:
        assert len(library.articles()) == 5
        assert library.stats().vectors == library.stats().chunks
