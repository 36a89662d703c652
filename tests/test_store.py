"""The SQLite store: slices of stored articles are exact whatever the text holds (NUL, other control characters)."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.answer import Scoring
from index.embedding import HashingEmbedder
from index.library import Library
from index.models import Document
from index.store import Store

ARTICLE = "A x. The tower was repaired by Jana Kral."


@pytest.mark.parametrize("character", ["\x00", "\x01", "\x1b", "\x7f"])
def test_slices_are_exact_with_a_control_character_at_every_position(tmp_path: Path, character: str) -> None:
    texts = [ARTICLE[:position] + character + ARTICLE[position:] for position in range(len(ARTICLE) + 1)]
    with Library.open(tmp_path / "library", embedder=HashingEmbedder()) as library:
        report = library.add(Document(text=text, source=f"article-{number}") for number, text in enumerate(texts))
        assert len(report.added) == len(texts)
        store = Store(tmp_path / "library", embedder=library.stats().embedder, dimension=library.stats().dimension)
        by_id = {article_id: store.article(article_id).text for article_id in report.added}
        assert sorted(by_id.values()) == sorted(texts)
        for article_id, text in by_id.items():
            for position in range(len(text) + 1):
                assert store.article_slice(article_id, position, len(text))[3] == text[position:]
                assert store.article_slice(article_id, 0, position)[3] == text[:position]
            spans = store.sentence_spans(article_id)
            assert spans
            chunk_ids = [
                row[0]
                for row in store.connection().execute("SELECT id FROM chunks WHERE article_id = ?", (article_id,))
            ]
            for sentence in store.sentences_of_chunks(chunk_ids):
                assert sentence.text == text[sentence.start : sentence.stop]
            found = store.neighbours((article_id, position) for position in range(len(spans)))
            assert [found[(article_id, position)] for position in range(len(spans))] == [
                (start, stop, text[start:stop]) for start, stop in spans
            ]
        assert {summary.id: summary.characters for summary in library.articles()} == {
            article_id: len(text) for article_id, text in by_id.items()
        }
        store.close()


@pytest.mark.parametrize("reader", [False, True])
def test_a_question_about_the_text_after_a_nul_is_answered_verbatim(tmp_path: Path, reader: bool) -> None:
    text = "A x.\x00 The tower was repaired by Jana Kral."
    scoring = Scoring(threshold=0.0, reader_threshold=0.0)
    with Library.open(tmp_path / "library", embedder=HashingEmbedder(), scoring=scoring) as library:
        library.add([Document(text=text, source="nul.json#1")])
        answer = library.ask("Who repaired the tower?", reader=reader)
        assert answer.found
        assert any("The tower was repaired by Jana Kral." in quote.text for quote in answer.quotes)
        for quote in answer.quotes:
            assert quote.text == text[quote.start : quote.end]
