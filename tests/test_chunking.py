from __future__ import annotations

import itertools

import pytest
from conftest import CORPUS
from hypothesis import given, settings
from hypothesis import strategies as st

from index.chunking import MAX_SENTENCE_CHARACTERS, chunk_spans, sentence_spans

_pieces = st.sampled_from(
    [
        "Dr. Smith went to the U.S. in 2020.",
        "He said “hi” — café!",
        "Mr. J. R. R. Tolkien wrote it.",
        "Is it?",
        "  ",
        "\n",
        "\r\n",
        "\n\n",
        "Prices rose 3.5% in Q3.",
        "日本語の文です。",
        "emoji 🎉 here.",
        "no end punctuation",
        "<b>tags</b> & ampersands.",
    ]
)
texts = st.one_of(st.text(max_size=400), st.lists(_pieces, max_size=40).map(" ".join))


@given(texts)
@settings(max_examples=300, deadline=None)
def test_sentences_are_exact_ordered_trimmed_slices(text: str) -> None:
    spans = sentence_spans(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        sentence = text[start:end]
        assert sentence == sentence.strip()
        assert "\n" not in sentence and "\r" not in sentence
        previous_end = end
    # Nothing but whitespace is left out.
    covered = set()
    for start, end in spans:
        covered.update(range(start, end))
    assert all(text[index].isspace() for index in range(len(text)) if index not in covered)


@given(texts, st.integers(min_value=1, max_value=300))
@settings(max_examples=300, deadline=None)
def test_chunks_are_runs_of_whole_sentences_within_the_limit(text: str, limit: int) -> None:
    sentences = sentence_spans(text)
    chunks = chunk_spans(sentences, max_characters=limit)
    assert [index for chunk in chunks for index in range(chunk.first, chunk.last)] == list(range(len(sentences)))
    for chunk in chunks:
        assert chunk.start == sentences[chunk.first][0] and chunk.end == sentences[chunk.last - 1][1]
        assert chunk.end - chunk.start <= limit or chunk.last - chunk.first == 1


def test_hard_cases_split_where_a_reader_would() -> None:
    text = (CORPUS / "hard_cases.txt").read_text(encoding="utf-8")
    sentences = [text[start:end] for start, end in sentence_spans(text)]
    assert sentences[0] == "Dr. Ada Lovelace visited the U.S. Patent Office in 1843."
    assert sentences[1] == 'She said: "The engine weaves algebraic patterns."'
    assert sentences[2] == "Then she left."
    assert sentences[3].startswith("The Café Müller in Zürich") and sentences[3].endswith("costs 9 francs.")
    assert sentences[4].startswith("The committee") and len(sentences[4]) > 400
    assert sentences[5] == "Mr. J. R. R. Tolkien was not on it."
    assert len(sentences) == 6


def test_offsets_are_code_points_even_beyond_the_basic_plane() -> None:
    text = "emoji 🎉🎉 here. Next one. 日本語の文です。 Another sentence here."
    assert [text[start:end] for start, end in sentence_spans(text)] == [
        "emoji 🎉🎉 here.",
        "Next one.",
        "日本語の文です。",
        "Another sentence here.",
    ]


@pytest.mark.parametrize("spaces", [True, False])
def test_a_3_mb_line_without_punctuation_is_cut_into_bounded_exact_pieces(spaces: bool) -> None:
    text = ("harbour wall stone north grain " * 100_000) if spaces else "x" * 3_000_000
    spans = sentence_spans(text)
    assert all(0 < end - start <= MAX_SENTENCE_CHARACTERS for start, end in spans)
    assert all(end <= following for (_, end), (following, _) in itertools.pairwise(spans))
    # Nothing but the single spaces cut at is lost between the pieces, and every cut is between words.
    separator = " " if spaces else ""
    assert separator.join(text[start:end] for start, end in spans) == text.strip()
    if spaces:
        assert all(text[start - 1] == " " for start, _ in spans[1:])
        assert all(text[end] == " " for _, end in spans[:-1])


def test_a_long_sentence_is_cut_at_whitespace_and_short_ones_are_kept() -> None:
    long = " ".join(["Word"] + ["word"] * 599)  # 2,999 characters
    text = f"A short one. {long}. Another short one."
    sentences = [text[start:end] for start, end in sentence_spans(text, max_characters=1000)]
    assert sentences[0] == "A short one."
    assert sentences[-1] == "Another short one."
    assert all(len(sentence) <= 1000 for sentence in sentences)
    assert " ".join(sentences[1:-1]) == long + "."


@pytest.mark.parametrize(
    "sentences",
    [
        ["Die Brücke in Köln wurde am 3. Oktober 1990 eröffnet.", "Sie ist 400 m lang."],
        ["Das gilt z. B. für alle Brücken am Rhein.", "Andere sind älter."],
        ["Der Dom wurde im 19. Jahrhundert vollendet.", "Er ist 157 m hoch."],
        ["Das Treffen fand vom 2. bis zum 4. März statt.", "Es kamen 300 Gäste."],
        ["Köln ist die 4. größte Stadt Deutschlands.", "Sie liegt am Rhein."],
        ["Es kostet ca. 5 Euro bzw. 6 Dollar.", "Das ist viel."],
        ["M. Dupont est arrivé hier à Paris.", "Il est content."],
        ["MM. Durand et Petit ont signé.", "Le contrat est valable."],
        ["El Sr. García llegó ayer a Madrid.", "Trajo flores."],
        ["Dña. Carmen tiene 90 años.", "Vive sola."],
        ["The score was 3.", "Then it rained."],
    ],
)
def test_other_languages_abbreviations_and_ordinals_do_not_end_sentences(sentences: list[str]) -> None:
    text = "  ".join(sentences)
    assert [text[start:end] for start, end in sentence_spans(text)] == sentences
