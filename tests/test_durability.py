"""A crash in the middle of `add` and a second writer: the library stays whole and readable."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock

from index import store
from index.chunking import chunk_spans, sentence_spans
from index.embedding import HashingEmbedder
from index.errors import LibraryBusy
from index.library import Library
from index.models import Document

_WRITER = """
import sys
from index.embedding import HashingEmbedder
from index.library import Library
from index.models import Document

folder, count = sys.argv[1], int(sys.argv[2])
documents = (
    Document(text=f"Article {n} says the harbour {n} opened in {1800 + n}. " * (5 + n % 7), source=f"doc-{n}")
    for n in range(count)
)
with Library.open(folder, embedder=HashingEmbedder()) as library:
    library.add(documents, progress=lambda done: print("added", flush=True))
"""


def _generation(folder: Path) -> int:
    try:
        connection = sqlite3.connect(f"file:{folder / 'library.sqlite3'}?mode=ro", uri=True, timeout=5)
        try:
            return int(connection.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
        finally:
            connection.close()
    except sqlite3.Error:
        return 0


def test_killing_add_midway_leaves_a_library_that_opens_and_answers(tmp_path: Path) -> None:
    folder = tmp_path / "library"
    with Library.open(folder, embedder=HashingEmbedder()) as library:
        library.add([Document(text="The lighthouse stood on Pharos for centuries.", source="before")])
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(folder), "5000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    deadline = time.monotonic() + 120
    # Kill once a few batches have been committed and while more are being written.
    while _generation(folder) < 4 and writer.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert writer.poll() is None, writer.stderr.read().decode() if writer.stderr else ""
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert writer.stdout is not None and writer.stderr is not None
    writer.stdout.close()
    writer.stderr.close()

    with Library.open(folder, embedder=HashingEmbedder()) as library:
        # A save cut short by the kill left its temporary file; opening as the only writer removed it.
        assert not list(folder.glob("*.tmp"))
        summaries = library.articles()
        assert 1 < len(summaries) < 5001
        # The article committed before the crash is whole and still found.
        [before] = [summary for summary in summaries if summary.source == "before"]
        assert library.article(before.id).text == "The lighthouse stood on Pharos for centuries."
        assert library.rank("lighthouse on Pharos")[0].sentence.text == "The lighthouse stood on Pharos for centuries."
        for summary in summaries:
            article = library.article(summary.id)
            # Each article is whole: exactly the chunks its text makes, never a part of them.
            assert summary.chunks == len(chunk_spans(sentence_spans(article.text)))
        stats = library.stats()
        assert stats.chunks == sum(summary.chunks for summary in summaries)
        answer = library.ask("When did harbour 3 open?", k=5)
        for quote in answer.quotes:
            assert library.article(quote.article_id).text[quote.start : quote.end] == quote.text
        # The FAISS index was rebuilt to match the database.
        assert stats.vectors == stats.chunks


def test_a_second_writer_waits_then_gets_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "library"
    monkeypatch.setattr(store, "WRITE_WAIT_SECONDS", 0.3)
    with Library.open(folder, embedder=HashingEmbedder()) as library:
        library.add([Document(text="First words.", source="one")])
        other_writer = FileLock(folder / store.LOCK_NAME)
        with other_writer:
            with pytest.raises(LibraryBusy, match="another quotebot process"):
                library.add([Document(text="Second words.", source="two")])
            # Readers are not blocked by the writer.
            assert library.ask("First words?").quotes[0].text == "First words."
            assert [summary.source for summary in library.articles()] == ["one"]
        library.add([Document(text="Second words.", source="two")])
        assert len(library.articles()) == 2
