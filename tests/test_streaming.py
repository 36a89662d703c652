"""Very large .txt and .jsonl files: read streaming, cut into parts, committed in batches with the lock let go."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from conftest import writer_view

from index.articles import read_sources
from index.embedding import HashingEmbedder
from index.errors import SourceError
from index.library import Library
from index.models import Document
from index.streaming import json_lines, text_parts


def _paragraphs(count: int, *, width: int = 40) -> str:
    return "".join(
        f"Paragraph {number} tells how the harbour crane number {number} was repaired. "
        + "It " * (number % width)
        + "took a week.\n\n"
        for number in range(count)
    )


def test_a_long_text_file_is_cut_at_blank_lines_into_parts_that_join_to_its_text(tmp_path: Path) -> None:
    text = _paragraphs(3000)
    path = tmp_path / "harbour_log.txt"
    path.write_text(text, encoding="utf-8")
    parts = list(read_sources([str(path)], part_characters=20_000))
    assert len(parts) > len(text) // 20_000
    assert "".join(part.text for part in parts) == text
    for number, part in enumerate(parts, start=1):
        assert part.source == f"{path.resolve()}#part-{number}"
        assert part.title == f"harbour log (part {number})"
        assert len(part.text) <= 20_000
        if number < len(parts):
            assert part.text.endswith("took a week.\n\n")  # a paragraph is never split
            assert len(part.text) > 10_000


def test_a_text_file_that_fits_in_one_part_is_one_article_named_by_the_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Jana Kral repaired the tower.\n", encoding="utf-8")
    assert [(document.source, document.title) for document in read_sources([str(path)], part_characters=100)] == [
        (str(path.resolve()), "notes")
    ]
    # Over the part size in bytes but not in characters (é is two bytes): still one article.
    wide = tmp_path / "wide.txt"
    wide.write_text("é" * 1500, encoding="utf-8")
    documents = list(text_parts(wide, part_characters=2000))
    assert [(document.text, document.source) for document in documents] == [("é" * 1500, str(wide.resolve()))]


def test_a_paragraph_longer_than_a_part_is_cut_at_line_ends_then_spaces_then_anywhere(tmp_path: Path) -> None:
    lines = "".join(f"line {number} of the harbour log\n" for number in range(2000))
    words = "harbour " * 5000
    solid = "x" * 25_000
    for text, ending in ((lines, "\n"), (words, " "), (solid, "x")):
        path = tmp_path / "one.txt"
        path.write_text(text, encoding="utf-8")
        parts = [document.text for document in text_parts(path, part_characters=10_000)]
        assert "".join(parts) == text
        assert all(len(part) <= 10_000 and part.endswith(ending) for part in parts)
    assert [len(part.text) for part in text_parts(path, part_characters=10_000)] == [10_000, 10_000, 5_000]


def _warm_up(folder: Path) -> None:
    """Read a small file of each kind first, so that imports and pydantic's first validators are not measured."""
    (folder / "warm.txt").write_text("One sentence.")
    (folder / "warm.jsonl").write_text('{"text": "One sentence."}')
    list(read_sources([str(folder / "warm.txt"), str(folder / "warm.jsonl")]))


def test_a_text_file_is_read_in_blocks_not_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    block = _paragraphs(1000)  # ~140 KB
    with path.open("w", encoding="utf-8") as file:
        for _ in range(125):
            file.write(block)
    size = path.stat().st_size
    assert size > 16 * 2**20
    _warm_up(tmp_path)
    tracemalloc.start()
    try:
        characters = sum(len(document.text) for document in read_sources([str(path)], part_characters=200_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert characters == size
    # A block of bytes, its text and a part or two: a few MB, not the file.
    assert peak < 8 * 2**20, f"peak {peak:,} bytes for a {size:,}-byte file"


def test_a_json_lines_file_is_read_a_line_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    with path.open("w", encoding="utf-8") as file:
        for number in range(15_000):
            file.write(json.dumps({"title": f"Record {number}", "text": f"Record {number} is about crane {number}."}))
            file.write("\n")
    size = path.stat().st_size
    _warm_up(tmp_path)
    tracemalloc.start()
    try:
        count = 0
        for document in read_sources([str(path)]):
            count += 1
            assert document.source == f"{path.resolve()}#{count}"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 15_000
    # A line and its record at a time, never the file.
    assert peak < size / 4, f"peak {peak:,} bytes for a {size:,}-byte file"


def test_a_json_lines_line_over_the_limit_is_refused_alone(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    long_record = json.dumps({"text": "word " * 400})
    path.write_text('{"text": "First."}\n' + long_record + '\n{"text": "Third."}\n{"text": "Last, no newline."}')
    errors: list[SourceError] = []
    documents = list(json_lines(path, errors=errors, max_line_bytes=1000))
    assert [document.text for document in documents] == ["First.", "Third.", "Last, no newline."]
    assert [document.source.rsplit("#", 1)[1] for document in documents] == ["1", "3", "4"]
    assert [str(error) for error in errors] == [
        "line 2 of 'records.jsonl' is over 1,000 bytes; split that record into smaller ones"
    ]


def test_a_large_file_in_another_encoding_is_decoded_and_a_bad_byte_later_keeps_the_parts_before(
    tmp_path: Path,
) -> None:
    text = "Le café de la rue Saint-Honoré ouvrit en 1686, à Paris.\n\n" * 400
    path = tmp_path / "cafe.txt"
    path.write_bytes(text.encode("cp1252"))
    parts = list(text_parts(path, part_characters=5000))
    assert len(parts) > 1 and "".join(part.text for part in parts) == text

    broken = tmp_path / "broken.txt"
    good = "The tower was repaired by Jana Kral.\n\n" * 60_000  # over one block of UTF-8
    broken.write_bytes(good.encode() + b"\xff and then some more text.\n")
    errors: list[SourceError] = []
    documents = list(read_sources([str(broken)], errors=errors, part_characters=100_000))
    assert documents and good.startswith("".join(document.text for document in documents))
    assert len(errors) == 1
    assert str(errors[0]).startswith("'broken.txt' is not utf-8 text from byte 2,280,000 on")


def test_adding_a_long_text_file_commits_part_by_part_and_lets_go_of_the_lock(tmp_path: Path) -> None:
    text = _paragraphs(4000)
    path = tmp_path / "log.txt"
    path.write_text(text, encoding="utf-8")
    folder = tmp_path / "library"
    seen: list[tuple[int, bool]] = []

    def watched() -> Iterator[Document]:
        for number, document in enumerate(read_sources([str(path)], part_characters=50_000), start=1):
            if number in (4, 8):
                seen.append(writer_view(folder))
            yield document

    with Library.open(folder, embedder=HashingEmbedder()) as library:
        report = library.add(watched())
        # Each part is about 1,000 sentences, over one encoding batch: each is committed before the next is read.
        assert seen == [(3, True), (7, True)]
        stored = sorted(library.articles(), key=lambda summary: int(summary.source.rsplit("-", 1)[1]))
        assert len(report.added) == len(stored) > 8
        assert "".join(library.article(summary.id).text for summary in stored) == text
        again = library.add(read_sources([str(path)], part_characters=50_000))
        assert len(again.unchanged) == len(stored) and not again.added


_ADDER = """
import sys
from index.articles import read_sources
from index.embedding import HashingEmbedder
from index.library import Library
with Library.open(sys.argv[1], embedder=HashingEmbedder()) as library:
    library.add(read_sources([sys.argv[2]], part_characters=20_000))
"""


def test_killing_a_streamed_add_keeps_whole_parts_and_adding_again_completes_it(tmp_path: Path) -> None:
    text = _paragraphs(20_000)
    path = tmp_path / "log.txt"
    path.write_text(text, encoding="utf-8")
    folder = tmp_path / "library"
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    process = subprocess.Popen([sys.executable, "-c", _ADDER, str(folder), str(path)], env=environment)
    try:
        deadline = time.monotonic() + 120
        committed = 0
        while committed < 3 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
            if (folder / "library.sqlite3").exists():
                with sqlite3.connect(folder / "library.sqlite3", timeout=30) as connection, suppress(sqlite3.Error):
                    committed = connection.execute("SELECT count(*) FROM articles").fetchone()[0]
        assert process.poll() is None, "the add finished before it could be killed; make the file longer"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    parts = {document.source: document.text for document in read_sources([str(path)], part_characters=20_000)}
    with Library.open(folder, embedder=HashingEmbedder()) as library:
        kept = library.articles()
        assert 3 <= len(kept) < len(parts)
        for summary in kept:
            assert library.article(summary.id).text == parts[summary.source]  # whole parts only
        report = library.add(read_sources([str(path)], part_characters=20_000))
        assert len(report.unchanged) == len(kept) and len(report.added) == len(parts) - len(kept)
        stored = sorted(library.articles(), key=lambda summary: int(summary.source.rsplit("-", 1)[1]))
        assert "".join(library.article(summary.id).text for summary in stored) == text


def test_adding_a_json_lines_file_commits_in_batches_and_lets_go_of_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    path.write_text("".join(json.dumps({"text": f"Record {number} is here."}) + "\n" for number in range(1200)))
    folder = tmp_path / "library"
    seen: list[tuple[int, bool]] = []

    def watched() -> Iterator[Document]:
        for number, document in enumerate(read_sources([str(path)]), start=1):
            if number in (600, 1100):
                seen.append(writer_view(folder))
            yield document

    with Library.open(folder, embedder=HashingEmbedder()) as library:
        assert len(library.add(watched()).added) == 1200
    assert seen == [(512, True), (1024, True)]


@pytest.mark.parametrize("device", ["/dev/zero"])
def test_a_device_or_pipe_is_refused_in_one_line_not_read_forever(device: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"{device} does not exist here")
    errors: list[SourceError] = []
    assert list(read_sources([device], errors=errors)) == []
    assert [str(error) for error in errors] == [
        f"{device!r} is not a regular file (a device, pipe or socket); add files, folders or URLs"
    ]
