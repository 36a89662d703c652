"""Opening a library without creating one: a folder named by hand that holds none is an error, not a new library."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import Library, LibraryNotFound, NotALibrary
from index.embedding import HashingEmbedder


@pytest.mark.parametrize("make", ["nothing", "an empty folder"])
def test_create_false_refuses_a_folder_without_a_library_and_makes_nothing(tmp_path: Path, make: str) -> None:
    folder = tmp_path / "quotebot-libary"
    if make == "an empty folder":
        folder.mkdir()
    with pytest.raises(LibraryNotFound, match=f"there is no quotebot library in '{folder}'"):
        Library.open(folder, embedder=HashingEmbedder(), create=False)
    assert list(folder.iterdir()) == [] if folder.exists() else not folder.exists()


def test_create_false_opens_an_existing_library_and_still_refuses_a_stranger(tmp_path: Path) -> None:
    folder = tmp_path / "library"
    Library.open(folder, embedder=HashingEmbedder()).close()
    with Library.open(folder, embedder=HashingEmbedder(), create=False) as opened:
        assert opened.articles() == []
    stranger = tmp_path / "photos"
    stranger.mkdir()
    (stranger / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    with pytest.raises(NotALibrary):
        Library.open(stranger, embedder=HashingEmbedder(), create=False)
