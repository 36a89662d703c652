"""The short-answer marker: the asked type, and the entity it picks inside a sentence."""

from __future__ import annotations

import pytest

from index import marking


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who founded the company?", "PERSON"),
        ("When did the war end?", "DATE"),
        ("Where is the Eiffel Tower?", "GPE"),
        ("How many people live in Paris?", "CARDINAL"),
        ("In what country is Normandy located?", "GPE"),
        ("What year did the Normans arrive?", "DATE"),
    ],
)
def test_expected_labels_follow_the_question_word(question: str, expected: str) -> None:
    assert expected in marking.expected_labels(question)


def test_why_asks_for_no_entity() -> None:
    assert marking.expected_labels("Why did the empire fall?") == frozenset()


@pytest.mark.parametrize(
    ("question", "sentence", "answer"),
    [
        ("In what country is Normandy located?", "Normandy is a region in France.", "France"),
        ("When did William invade England?", "William the Conqueror invaded England in 1066.", "1066"),
        (
            "Who was the leader of the Norse raiders?",
            "The Normans descended from Norse raiders led by Rollo, who swore fealty to King Charles III.",
            "Rollo",
        ),
    ],
)
def test_mark_finds_the_answer_entity(question: str, sentence: str, answer: str) -> None:
    span = marking.mark(question, sentence)
    assert span is not None
    assert sentence[span[0] : span[1]] == answer


def test_short_answer_offsets_are_into_the_article() -> None:
    article = "Intro line.\nNormandy is a region in France."
    start = article.index("Normandy")
    sentence = article[start:]
    answer = marking.short_answer("In what country is Normandy located?", sentence, offset=start)
    assert answer is not None
    assert article[answer.start : answer.end] == answer.text == "France"


def test_no_mark_when_the_question_asks_why() -> None:
    assert marking.mark("Why did the Normans invade England?", "They wanted land in 1066.") is None


def test_a_text_spacy_would_refuse_is_left_unmarked_and_the_others_still_are() -> None:
    huge = "harbour wall stone north grain " * 70_000  # 2.1 MB: over spaCy's max_length of 1,000,000
    sentence = "Normandy is a region in France."
    assert marking.mark_all("In what country is Normandy located?", [huge, sentence]) == [None, (24, 30)]
