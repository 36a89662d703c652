"""SQuAD-format evaluation: quote hits, short-answer EM/F1 and abstention for quotebot and three baselines.

Every article of the file (one per ``title``, its paragraphs joined by blank lines) goes into one library,
so a question is asked against the whole corpus, never against its gold paragraph. The four systems run
on that library in the same process:

- ``bm25``: the candidate sentences of lexical retrieval, best by sentence BM25;
- ``dense``: the candidate sentences of dense retrieval, best by the sentence's cosine to the question;
- ``hybrid``: those two sentence rankings fused by reciprocal rank;
- ``quotebot``: ``Library.ask``, exactly what users get (scoring, threshold, marking).

The baselines never abstain (unless retrieval returns nothing); their short answer is the same entity
marker that quotebot uses, applied to their best sentence, so EM/F1 compare the sentence choice and the
abstention, not two different markers.

Metrics follow the SQuAD v2.0 script: answers are normalised (lower case, no punctuation, no articles, single
spaces); EM and F1 are the best over the gold answers, in percent; an unanswerable question scores 100
only when the system abstains. ``quote_hit_at_k`` is over answerable questions: one of the first k quotes
holds a normalised gold answer.
"""

from __future__ import annotations

import json
import random
import re
import string
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from index import marking
from index.answer import ScoredSentence
from index.embedding import Embedder
from index.errors import QuotebotError
from index.library import Library
from index.models import Document

__all__ = [
    "SYSTEMS",
    "EvaluationReport",
    "Outcome",
    "Question",
    "SystemMetrics",
    "evaluate",
    "exact_match",
    "f1_score",
    "fuse",
    "load_squad",
    "normalize_answer",
    "quote_hit",
    "run_systems",
    "sample",
    "summarize",
]

SYSTEMS = ("bm25", "dense", "hybrid", "quotebot")
QUOTES = 5
_FUSION_CONSTANT = 60

Progress = Callable[[str, int, int], None]


class EvaluationError(QuotebotError):
    """The evaluation file is not in SQuAD format."""


class SystemMetrics(BaseModel):
    """One system's scores: rates are 0..1, exact_match and f1 are percentages as in SQuAD."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    quote_hit_at_1: float
    quote_hit_at_5: float
    exact_match: float
    f1: float
    answered_rate: float
    abstain_rate: float | None
    latency_ms_p50: float
    latency_ms_p95: float


class EvaluationReport(BaseModel):
    """What `quotebot eval` prints."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str
    questions: int
    answerable: int
    unanswerable: int
    systems: dict[str, SystemMetrics]


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    question: str
    title: str
    answers: tuple[str, ...]

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass(slots=True)
class Outcome:
    """One system's reply to one question: quote texts best first, the short answer, abstained or not."""

    quotes: list[str]
    answer: str
    found: bool
    seconds: float
    score: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


# Loading and sampling


def load_squad(path: Path) -> tuple[list[Document], list[Question]]:
    """Articles (one per title, paragraphs joined by blank lines) and questions of a SQuAD v1.1/v2.0 file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        articles = data["data"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise EvaluationError(
            f"{str(path)!r} is not a SQuAD-format JSON file ({error}); pass SQuAD v1.1 or v2.0"
        ) from error
    texts: dict[str, list[str]] = {}
    questions: list[Question] = []
    for article in articles:
        title = str(article.get("title") or "untitled")
        paragraphs = texts.setdefault(title, [])
        for paragraph in article["paragraphs"]:
            paragraphs.append(paragraph["context"])
            for qa in paragraph["qas"]:
                answers = () if qa.get("is_impossible") else tuple(answer["text"] for answer in qa.get("answers", []))
                questions.append(Question(id=str(qa["id"]), question=qa["question"], title=title, answers=answers))
    documents = [
        Document(text="\n\n".join(paragraphs), source=f"squad:{title}", title=title.replace("_", " "))
        for title, paragraphs in texts.items()
    ]
    return documents, questions


def sample(questions: Sequence[Question], limit: int | None, seed: int) -> list[Question]:
    """`limit` questions drawn reproducibly by `seed`, in file order; all of them when `limit` is None."""
    if limit is None or limit >= len(questions):
        return list(questions)
    chosen = sorted(random.Random(seed).sample(range(len(questions)), max(limit, 0)))
    return [questions[index] for index in chosen]


# Metrics (the SQuAD v2.0 evaluation script's definitions)

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces."""
    text = "".join(character for character in text.lower() if character not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold; an empty gold list expects no answer."""
    if not golds:
        return float(not prediction)
    return max(float(normalize_answer(prediction) == normalize_answer(gold)) for gold in golds)


def _f1(prediction: str, gold: str) -> float:
    predicted = normalize_answer(prediction).split()
    expected = normalize_answer(gold).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision = common / len(predicted)
    recall = common / len(expected)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, golds: Sequence[str]) -> float:
    """Token-overlap F1, best over the golds; an empty gold list expects no answer."""
    if not golds:
        return float(not prediction)
    return max(_f1(prediction, gold) for gold in golds)


def quote_hit(quotes: Sequence[str], golds: Sequence[str], k: int) -> bool:
    """One of the first `k` quotes holds a gold answer, both normalised, on word boundaries."""
    for quote in quotes[:k]:
        normalised = f" {normalize_answer(quote)} "
        for gold in golds:
            expected = normalize_answer(gold)
            if (expected and f" {expected} " in normalised) or (not expected and gold.strip().lower() in quote.lower()):
                return True
    return False


def _percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(questions: Sequence[Question], outcomes: Sequence[Outcome]) -> SystemMetrics:
    """One system's metrics over `questions` and its `outcomes` (same order)."""
    answerable = [
        (question, outcome) for question, outcome in zip(questions, outcomes, strict=True) if question.answerable
    ]
    unanswerable = [outcome for question, outcome in zip(questions, outcomes, strict=True) if not question.answerable]
    exact = f1 = 0.0
    for question, outcome in zip(questions, outcomes, strict=True):
        if not question.answerable:
            exact += float(not outcome.found)
            f1 += float(not outcome.found)
        elif outcome.found:
            exact += exact_match(outcome.answer, question.answers)
            f1 += f1_score(outcome.answer, question.answers)
    count = max(len(questions), 1)
    milliseconds = [outcome.seconds * 1000.0 for outcome in outcomes]
    return SystemMetrics(
        quote_hit_at_1=_rate(
            sum(o.found and quote_hit(o.quotes, q.answers, 1) for q, o in answerable), len(answerable)
        ),
        quote_hit_at_5=_rate(
            sum(o.found and quote_hit(o.quotes, q.answers, 5) for q, o in answerable), len(answerable)
        ),
        exact_match=round(100.0 * exact / count, 2),
        f1=round(100.0 * f1 / count, 2),
        answered_rate=_rate(sum(outcome.found for _, outcome in answerable), len(answerable)),
        abstain_rate=_rate(sum(not outcome.found for outcome in unanswerable), len(unanswerable))
        if unanswerable
        else None,
        latency_ms_p50=round(_percentile(milliseconds, 0.50), 2),
        latency_ms_p95=round(_percentile(milliseconds, 0.95), 2),
    )


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


# The systems


def fuse(*rankings: Sequence[ScoredSentence]) -> list[ScoredSentence]:
    """Sentences of several rankings ordered by reciprocal-rank fusion (k = 60)."""
    scores: dict[int, float] = {}
    items: dict[int, ScoredSentence] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            key = item.sentence.id
            scores[key] = scores.get(key, 0.0) + 1.0 / (_FUSION_CONSTANT + rank + 1)
            items.setdefault(key, item)
    return [items[key] for key in sorted(scores, key=scores.__getitem__, reverse=True)]


def _baseline(question: str, ranking: Sequence[ScoredSentence], seconds: float) -> Outcome:
    if not ranking:
        return Outcome(quotes=[], answer="", found=False, seconds=seconds)
    quotes = [item.sentence.text for item in ranking[:QUOTES]]
    span = marking.mark(question, quotes[0])
    answer = quotes[0][span[0] : span[1]] if span else ""
    return Outcome(quotes=quotes, answer=answer, found=True, seconds=seconds)


def run_systems(library: Library, question: str) -> dict[str, Outcome]:
    """The four systems' outcomes for one question.

    quotebot runs first, so its latency includes encoding the question, as a user's does; the baselines then
    reuse the library's cached question vector, so theirs is retrieval and ranking alone.
    """
    started = time.perf_counter()
    answer = library.ask(question, k=QUOTES)
    seconds = time.perf_counter() - started
    best = answer.quotes[0] if answer.quotes else None
    quotebot = Outcome(
        quotes=[quote.text for quote in answer.quotes],
        answer=best.answer.text if best is not None and best.answer is not None else "",
        found=answer.found,
        seconds=seconds,
        score=best.score if best is not None else 0.0,
    )
    started = time.perf_counter()
    lexical = sorted(
        library.rank(question, method="lexical", rerank=False), key=lambda item: item.features["bm25"], reverse=True
    )
    lexical_seconds = time.perf_counter() - started
    started = time.perf_counter()
    dense = sorted(
        library.rank(question, method="dense", rerank=False),
        key=lambda item: item.features["dense_sentence"],
        reverse=True,
    )
    dense_seconds = time.perf_counter() - started
    started = time.perf_counter()
    hybrid = fuse(lexical, dense)
    fuse_seconds = time.perf_counter() - started
    return {
        "bm25": _baseline(question, lexical, lexical_seconds),
        "dense": _baseline(question, dense, dense_seconds),
        "hybrid": _baseline(question, hybrid, lexical_seconds + dense_seconds + fuse_seconds),
        "quotebot": quotebot,
    }


@contextmanager
def _library_folder(library: Path | None) -> Iterator[Path]:
    if library is not None:
        yield Path(library)
        return
    with tempfile.TemporaryDirectory(prefix="quotebot-eval-") as folder:
        yield Path(folder)


def evaluate(
    dataset: Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    library: Path | None = None,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> EvaluationReport:
    """Build (or reuse) a library of `dataset`'s articles, ask its questions, and score the four systems."""
    documents, questions = load_squad(dataset)
    chosen = sample(questions, limit, seed)
    with _library_folder(library) as folder, Library.open(folder, embedder=embedder) as opened:
        # `add` is idempotent by content hash: a library that already holds these articles is reused as is.
        done = 0

        def added(count: int) -> None:
            nonlocal done
            done += count
            if progress:
                progress("index", done, len(documents))

        opened.add(documents, progress=added)
        results: dict[str, list[Outcome]] = {system: [] for system in SYSTEMS}
        for position, question in enumerate(chosen):
            for system, outcome in run_systems(opened, question.question).items():
                results[system].append(outcome)
            if progress:
                progress("ask", position + 1, len(chosen))
    answerable = sum(question.answerable for question in chosen)
    return EvaluationReport(
        dataset=Path(dataset).name,
        questions=len(chosen),
        answerable=answerable,
        unanswerable=len(chosen) - answerable,
        systems={system: summarize(chosen, results[system]) for system in SYSTEMS},
    )
