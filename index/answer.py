"""Quote selection: score the sentences of the retrieved chunks, pick the best, or abstain.

Each candidate sentence gets a few cheap features that each say something different: how close its meaning
is to the question (dense, sentence and chunk), how much of the question's rare words it and its
neighbours hold (idf-weighted coverage, BM25, bigrams), how it compares with the other candidates (margins),
and whether it holds something of the type the question asks for (a number for "how many", a name for
"who"). A logistic model combines them into a probability that the sentence holds the answer; its weights
and the abstention threshold live in `Scoring`, learned by ``scripts/train_scoring.py`` into
``index/scoring.json`` (see that script for how, and on what data). An optional second stage rescores the best
few with the bundled cross-encoder (`Scoring.reranked()`, see index.reranking).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from index import lexical, marking
from index.types import CandidateSentence, ChunkHit

__all__ = [
    "FEATURES",
    "LEARNED_SCORING",
    "RERANKED_SCORING",
    "ScoredSentence",
    "Scoring",
    "rank_sentences",
    "rerank",
    "sentence_features",
]

LEARNED_SCORING = Path(__file__).with_name("scoring.json")
# The two-stage scoring: first-stage weights, the bundled reranker's blend and their threshold (opt-in: it raises
# quote@1 by 2 points on SQuAD v2.0 dev but costs ~30 ms a question on a CPU; see README.md, Answer quality).
RERANKED_SCORING = Path(__file__).with_name("reranker") / "scoring.json"

FEATURES = (
    "dense_sentence",
    "dense_chunk",
    "dense_margin",
    "coverage",
    "coverage_margin",
    "bm25",
    "bigrams",
    "chunk_coverage",
    "neighbour_coverage",
    "lexical_chunk",
    "chunk_rank",
    "type_match",
    "novelty",
    "length",
)

# Hand-set weights, used only when no learned file ships: dense meaning plus idf-weighted coverage.
_FALLBACK: dict[str, Any] = {
    "weights": {"dense_sentence": 4.0, "dense_chunk": 1.5, "coverage": 4.0},
    "bias": -4.0,
    "threshold": 0.4,
}


# The reader's blend with the first stage and its thresholds, written by scripts/train_reader.py (calibrate).
READER_SCORING = Path(__file__).with_name("reader_model") / "scoring.json"


def _reading() -> dict[str, Any]:
    return _read(READER_SCORING) if READER_SCORING.exists() else {}


def _learned() -> dict[str, Any]:
    # The defaults are the shipped first stage wherever the code runs; the two-stage scoring is asked for by
    # name (`Scoring.reranked()`, which the front ends pass for QUOTEBOT_RERANKER=bundled).
    return _read(LEARNED_SCORING)


@lru_cache(maxsize=4)
def _read(path: Path) -> dict[str, Any]:
    if path.exists():
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded
    return _FALLBACK


class Scoring(BaseModel):
    """Logistic weights of the sentence features, and the probability below which we answer "not found"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weights: dict[str, float] = Field(default_factory=lambda: dict(_learned()["weights"]))
    bias: float = Field(default_factory=lambda: float(_learned()["bias"]))
    threshold: float = Field(default_factory=lambda: float(_learned()["threshold"]), ge=0.0, le=1.0)
    # The second stage: a cross-encoder ("bundled": the int8 ONNX one in index/reranker/, or a folder or
    # CrossEncoder name, see index.reranking) scores the best `rerank_depth` sentences of the logistic model.
    # With `rerank_blend` ({"first_stage": a, "reranker": b, "bias": c}) their probability becomes
    # sigmoid(a * first-stage logit + b * reranker logit + c) and they are sorted by it; with an empty blend
    # they are only reordered by the reranker and keep their first-stage probability. None: no second stage.
    reranker: str | None = Field(default_factory=lambda: _learned().get("reranker"))
    rerank_depth: int = Field(default_factory=lambda: int(_learned().get("rerank_depth", 20)), ge=1)
    rerank_blend: dict[str, float] = Field(default_factory=lambda: dict(_learned().get("rerank_blend", {})))

    # The reader (index.reader): "bundled" (index/reader_model/) or a folder; it reads the best `read_depth`
    # sentences, and its blend ({"first_stage", "answer", "span", "bias"}) gives their probability. Below
    # `reader_threshold` the answer is "not found"; below `weak_threshold` a quote is shown as a possible one.
    reader: str | None = Field(default_factory=lambda: "bundled" if _reading() else None)
    read_depth: int = Field(default_factory=lambda: int(_reading().get("read", 6)), ge=1)
    reader_blend: dict[str, float] = Field(default_factory=lambda: dict(_reading().get("blend", {})))
    reader_threshold: float = Field(default_factory=lambda: float(_reading().get("threshold", 0.5)), ge=0.0, le=1.0)
    weak_threshold: float = Field(default_factory=lambda: float(_reading().get("weak_threshold", 0.5)), ge=0.0, le=1.0)

    @classmethod
    def load(cls, path: Path, **overrides: Any) -> Scoring:
        """The scoring learned into `path` (a file `scripts/train_scoring.py` writes), with `overrides`."""
        learned = json.loads(Path(path).read_text(encoding="utf-8"))
        fields = {name: learned[name] for name in cls.model_fields if name in learned}
        return cls(**{**fields, **overrides})

    @classmethod
    def reranked(cls, **overrides: Any) -> Scoring:
        """The two-stage scoring with the bundled reranker (index/reranker/scoring.json)."""
        return cls.load(RERANKED_SCORING, **overrides)

    def logit(self, features: dict[str, float]) -> float:
        """The first-stage log-odds that a sentence with these features holds the answer."""
        return self.bias + sum(weight * features.get(name, 0.0) for name, weight in self.weights.items())

    def score(self, features: dict[str, float]) -> float:
        """The probability, 0..1, that a sentence with these features holds the answer (first stage)."""
        return _sigmoid(self.logit(features))

    def blend(self, first_stage_logit: float, reranker_logit: float) -> float:
        """The second-stage probability of a reranked sentence (see `rerank_blend`)."""
        return _sigmoid(
            self.rerank_blend.get("bias", 0.0)
            + self.rerank_blend.get("first_stage", 0.0) * first_stage_logit
            + self.rerank_blend.get("reranker", 0.0) * reranker_logit
        )

    def read(self, first_stage_logit: float, answer: float, span_margin: float) -> float:
        """The probability that a sentence the reader read answers the question (see `reader_blend`)."""
        blend = self.reader_blend or {"answer": 1.0}
        return _sigmoid(
            blend.get("bias", 0.0)
            + blend.get("first_stage", 0.0) * first_stage_logit
            + blend.get("answer", 0.0) * answer
            + blend.get("span", 0.0) * span_margin
        )


def _sigmoid(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(logit, 40.0), -40.0)))


@dataclass(frozen=True, slots=True)
class ScoredSentence:
    sentence: CandidateSentence
    score: float
    features: dict[str, float]


_NUMBERS = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    r"thousand|million|billion|dozen|half|january|february|march|april|may|june|july|august|september|october|"
    r"november|december|century|decade)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"(?<=\S\s)[A-Z][\w'-]*")
_NUMERIC_LABELS = frozenset({"DATE", "TIME", "CARDINAL", "QUANTITY", "MONEY", "PERCENT", "ORDINAL"})


def _type_match(labels: frozenset[str], text: str, question_stems: set[str]) -> float:
    """1 when the sentence holds something of the asked type that the question does not name (a cheap proxy
    for the entity marker: digits and number words for numbers and dates, capitalised words for names)."""
    if not labels:
        return 0.0
    if labels & _NUMERIC_LABELS and _NUMBERS.search(text):
        return 1.0
    if labels - _NUMERIC_LABELS:
        for match in _NAME.finditer(text):
            stem = lexical.stems(match.group())
            if stem and stem[0] not in question_stems:
                return 1.0
    return 0.0


def _bigrams(tokens: Sequence[str]) -> set[tuple[str, str]]:
    return set(itertools.pairwise(tokens))


def sentence_features(
    question: str,
    query: NDArray[np.float32],
    terms: Sequence[str],
    candidates: Sequence[CandidateSentence],
    hits: Sequence[ChunkHit],
    idfs: dict[str, float],
) -> list[dict[str, float]]:
    """The features of each candidate, in the candidates' order (see `FEATURES`)."""
    chunk_dense = {hit.chunk_id: hit.dense for hit in hits}
    chunk_rank = {hit.chunk_id: rank for rank, hit in enumerate(hits)}
    best_lexical = max((hit.lexical for hit in hits), default=0.0) or 1.0
    chunk_lexical = {hit.chunk_id: hit.lexical / best_lexical for hit in hits}
    sentence_stems = [lexical.stems(candidate.text) for candidate in candidates]
    average_length = sum(map(len, sentence_stems)) / len(sentence_stems)
    dense = np.stack([candidate.vector for candidate in candidates]) @ query
    idf_total = sum(idfs.get(term, 0.0) for term in terms) or 1.0
    coverage = [lexical.coverage(terms, stems, idfs) for stems in sentence_stems]
    chunk_stems: dict[int, set[str]] = {}
    for candidate, stems in zip(candidates, sentence_stems, strict=True):
        chunk_stems.setdefault(candidate.chunk_id, set()).update(stems)
    by_position = {(candidate.article_id, candidate.position): index for index, candidate in enumerate(candidates)}
    term_set = set(terms)
    question_stems = set(lexical.stems(question))
    question_bigrams = _bigrams([stem for stem in lexical.stems(question) if stem in term_set])
    labels = marking.expected_labels(question) if question else frozenset()
    best_dense = float(dense.max())
    best_coverage = max(coverage)
    rows = []
    for index, candidate in enumerate(candidates):
        stems = sentence_stems[index]
        neighbours = [by_position.get((candidate.article_id, candidate.position + step)) for step in (-1, 1)]
        content = [stem for stem in stems if stem not in lexical.STOPWORDS]
        rows.append(
            {
                "dense_sentence": float(dense[index]),
                "dense_chunk": chunk_dense.get(candidate.chunk_id, 0.0),
                "dense_margin": float(dense[index]) - best_dense,
                "coverage": coverage[index],
                "coverage_margin": coverage[index] - best_coverage,
                "bm25": lexical.bm25(terms, stems, idfs, average_length=average_length) / idf_total,
                "bigrams": (
                    len(question_bigrams & _bigrams(stems)) / len(question_bigrams) if question_bigrams else 0.0
                ),
                "chunk_coverage": lexical.coverage(terms, list(chunk_stems[candidate.chunk_id]), idfs),
                "neighbour_coverage": max(
                    (coverage[neighbour] for neighbour in neighbours if neighbour is not None), default=0.0
                ),
                "lexical_chunk": chunk_lexical.get(candidate.chunk_id, 0.0),
                "chunk_rank": 1.0 / (1.0 + chunk_rank.get(candidate.chunk_id, len(hits))),
                "type_match": _type_match(labels, candidate.text, question_stems),
                "novelty": (sum(stem not in question_stems for stem in content) / len(content) if content else 0.0),
                "length": min(len(stems) / 50.0, 1.0),
            }
        )
    return rows


def rank_sentences(
    query: NDArray[np.float32],
    terms: Sequence[str],
    candidates: Sequence[CandidateSentence],
    hits: Sequence[ChunkHit],
    idfs: dict[str, float],
    scoring: Scoring,
    *,
    question: str = "",
    rerank_head: bool = True,
) -> list[ScoredSentence]:
    """Candidates scored and sorted best first (the head by `scoring.reranker` too, unless `rerank_head` is False)."""
    if not candidates:
        return []
    rows = sentence_features(question, query, terms, candidates, hits, idfs)
    scored = [
        ScoredSentence(candidate, scoring.score(features), features)
        for candidate, features in zip(candidates, rows, strict=True)
    ]
    scored.sort(key=lambda item: item.score, reverse=True)
    if scoring.reranker and question and rerank_head:
        return rerank(question, scored, scoring)
    return scored


def rerank(question: str, scored: Sequence[ScoredSentence], scoring: Scoring) -> list[ScoredSentence]:
    """The second stage: the best `scoring.rerank_depth` of `scored` (sorted) rescored by the reranker, then the
    rest in their order (their probability capped at the lowest of the head, so scores stay sorted)."""
    from index.reranking import load_reranker

    if not scoring.reranker:
        return list(scored)
    head = list(scored[: scoring.rerank_depth])
    logits = load_reranker(scoring.reranker).scores(question, [item.sentence.text for item in head])
    if scoring.rerank_blend:
        head = [
            ScoredSentence(
                item.sentence,
                scoring.blend(scoring.logit(item.features), value),
                {**item.features, "reranker": value},
            )
            for item, value in zip(head, logits, strict=True)
        ]
        head.sort(key=lambda item: item.score, reverse=True)
        floor = head[-1].score if head else 1.0
        tail = [ScoredSentence(item.sentence, min(item.score, floor), item.features) for item in scored[len(head) :]]
        return head + tail
    order = sorted(range(len(head)), key=lambda index: logits[index], reverse=True)
    return [head[index] for index in order] + list(scored[len(head) :])
