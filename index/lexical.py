"""The one text analyser: words as SQLite's FTS5 sees them (unicode61, diacritics removed, Porter stems), the
FTS5 tokenizer that says so, and BM25 over sentences.

FTS5 ranks chunks; sentences inside the best chunks are scored here with the same stems and the chunk-level
document frequencies, so both levels agree on what a word is. Every lexical index builds its tokenizer from
`FTS5_TOKENIZER`; tests/test_lexical.py checks that FTS5's stems equal `stems()` and lists where they differ.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

__all__ = ["FTS5_TOKENIZER", "STOPWORDS", "bm25", "coverage", "question_terms", "stems", "words"]

# FTS5's tokenizer, the `tokenize = '...'` of every full-text table: `words()` below splits and folds as its
# unicode61 part does (remove_diacritics 2 also folds letters with several marks), `stems()` as its porter part.
FTS5_TOKENIZER = "porter unicode61 remove_diacritics 2"

_WORD = re.compile(r"[^\W_]+")

# Function words and pleasantries carry no evidence of an answer; kept out of lexical queries and coverage.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren as at be because been before being below
    between both but by can cannot could couldn did didn do does doesn doing don down during each few for
    from further had hadn has hasn have haven having he her here hers herself him himself his how i if in
    into is isn it its itself just let me more most mustn my myself no nor not of off on once only or other
    ought our ours ourselves out over own same shan she should shouldn so some such t than that the their
    theirs them themselves then there these they this those through to too under until up very was wasn we
    were weren what when where which while who whom why will with won would wouldn you your yours yourself
    yourselves s d ll m re ve y also many much name named called kind type
    hi hello hey thanks thank please ok okay bye goodbye yes yeah""".split()
)


def words(text: str) -> list[str]:
    """Lower-case words without diacritics, as FTS5's unicode61 tokenizer splits them."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(character for character in decomposed if not unicodedata.combining(character))
    return _WORD.findall(plain)


_local = threading.local()


@lru_cache(maxsize=100_000)
def _stem(word: str) -> str:
    return str(_stemmer().stemWord(word))


def _stemmer() -> Any:
    # A snowball stemmer keeps its state between calls, so each thread needs its own.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import snowballstemmer

        stemmer = _local.stemmer = snowballstemmer.stemmer("porter")
    return stemmer


def stems(text: str) -> list[str]:
    return [_stem(word) for word in words(text)]


def question_terms(question: str) -> list[str]:
    """Distinct stems of the question's content words, in order."""
    seen: dict[str, None] = {}
    for word in words(question):
        if word not in STOPWORDS:
            seen.setdefault(_stem(word), None)
    return list(seen)


def idf(document_frequency: int, documents: int) -> float:
    return math.log(1.0 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))


def bm25(
    terms: Sequence[str],
    sentence_stems: Sequence[str],
    idfs: Mapping[str, float],
    *,
    average_length: float,
    k1: float = 1.2,
    b: float = 0.75,
) -> float:
    counts = Counter(sentence_stems)
    length_factor = k1 * (1.0 - b + b * len(sentence_stems) / max(average_length, 1.0))
    score = 0.0
    for term in terms:
        frequency = counts.get(term, 0)
        if frequency:
            score += idfs.get(term, 0.0) * frequency * (k1 + 1.0) / (frequency + length_factor)
    return score


def coverage(terms: Sequence[str], sentence_stems: Sequence[str], idfs: Mapping[str, float]) -> float:
    """Share of the question's idf mass found in the sentence, 0..1."""
    total = sum(idfs.get(term, 0.0) for term in terms)
    if total <= 0.0:
        return 0.0
    present = set(sentence_stems)
    return sum(idfs.get(term, 0.0) for term in terms if term in present) / total
