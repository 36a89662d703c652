"""Bounded quotes: a long sentence is cut to a verbatim window around its answer, and a reply stays short."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bot.formatting import answer_to_html
from index.answer import Scoring
from index.embedding import HashingEmbedder
from index.library import Library
from index.models import Document
from index.quoting import DEFAULT_QUOTE_CHARACTERS, window

_WORDS = "the of harbour wall stone north grain ledger tide lamp keeper rope bell".split()


def _sentence(characters: int, seed: int = 0) -> str:
    """Words without sentence punctuation, about `characters` long."""
    chooser = random.Random(seed)
    words: list[str] = []
    length = 0
    while length < characters:
        word = chooser.choice(_WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)


@pytest.mark.parametrize("where", [0.0, 0.001, 0.5, 0.999, 1.0])
def test_a_200_kb_sentence_is_cut_at_spaces_around_its_answer(where: float) -> None:
    text = _sentence(200_000)
    position = text.index(" ", int(where * (len(text) - 20))) + 1 if where < 1.0 else len(text) - len("keeper")
    text = text[:position] + "Jana Kral" + text[position:]
    answer = (position, position + len("Jana Kral"))
    start, end = window(text, limit=600, answer=answer)
    assert end - start <= 600
    assert start <= answer[0] and answer[1] <= end
    assert end - start >= 500  # not cut needlessly short
    assert start == 0 or text[start - 1] == " "
    assert end == len(text) or text[end] == " "
    assert text[start:end] == text[start:end].strip()


def test_without_an_answer_the_window_is_the_opening_and_text_without_spaces_is_cut_hard() -> None:
    text = _sentence(5_000)
    start, end = window(text, limit=600)
    assert start == 0 and 500 <= end <= 600 and text[end] == " "
    assert window("x" * 5_000, limit=600, answer=(1000, 1010)) == (705, 1305)
    assert window("short.", limit=600) == (0, 6)
    with pytest.raises(ValueError, match="no room"):
        window(text, limit=0)


def _library(folder: Path, **options: int) -> Library:
    # Thresholds of 0: the bag-of-words test embedder's scores are low, and every quote is wanted here.
    scoring = Scoring(threshold=0.0, reader_threshold=0.0)
    return Library.open(folder, embedder=HashingEmbedder(), scoring=scoring, **options)


@pytest.mark.parametrize("reader", [False, True])
def test_a_long_sentence_is_quoted_within_the_limit_with_its_answer(tmp_path: Path, reader: bool) -> None:
    long = _sentence(150, seed=1) + " and the lighthouse was repaired by Jana Kral in 1903 " + _sentence(600, seed=2)
    text = f"The harbour is old. {long}. The bell rang."
    with _library(tmp_path / "library", max_quote_characters=300) as library:
        library.add([Document(text=text, source="long.txt")])
        answer = library.ask("Who repaired the lighthouse?", reader=reader)
    assert answer.found
    best = answer.quotes[0]
    assert len(best.text) <= 300 < len(long)
    assert "the lighthouse was repaired by Jana Kral" in best.text
    assert best.answer is not None and best.answer.text == "Jana Kral"
    for quote in answer.quotes:
        assert len(quote.text) <= 300
        assert quote.text == text[quote.start : quote.end]
        if quote.answer is not None:
            assert quote.start <= quote.answer.start <= quote.answer.end <= quote.end


def test_a_200_kb_sentence_answers_in_at_most_two_telegram_messages(tmp_path: Path) -> None:
    text = _sentence(100_000, seed=3) + " the lighthouse was repaired by Jana Kral " + _sentence(100_000, seed=4)
    with _library(tmp_path / "library") as library:
        library.add([Document(text=text, source="huge.txt")])
        answer = library.ask("Who repaired the lighthouse?", k=5)
    assert answer.found
    assert all(len(quote.text) <= DEFAULT_QUOTE_CHARACTERS for quote in answer.quotes)
    assert len(answer_to_html(answer)) <= 2
