"""SQuAD-format evaluation: quote hits, short-answer EM/F1 and abstention for quotebot and three baselines.

Every article of the file (one per ``title``, its paragraphs joined by blank lines) goes into one library,
so a question is asked against the whole corpus, never against its gold paragraph. The four systems run
on that library in the same process:

- ``bm25``: the candidate sentences of lexical retrieval, best by sentence BM25;
- ``dense``: the candidate sentences of dense retrieval, best by the sentence's cosine to the question;
- ``hybrid``: those two sentence rankings fused by reciprocal rank;
- ``no-reader``: ``Library.ask(reader=False)``, the pipeline before the reader (first-stage scoring, its
  threshold, the rule-based marker);
- ``quotebot``: ``Library.ask``, exactly what users get (first stage, the reader, its threshold and spans);
- ``quotebot-no-threshold``: the same never saying "not found" (its best guesses): the ranking alone, and the
  trade-off curve (``tradeoff``) of answered against abstained shares at other thresholds.

Besides the systems, the reader alone is measured on each answerable question's gold sentence (the sentence of
its paragraph that holds the first gold answer, with its neighbours): ``reader_f1_gold_sentence``.

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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from index import marking
from index.answer import ScoredSentence, Scoring
from index.backends import is_database_url
from index.chunking import sentence_spans
from index.embedding import Embedder
from index.errors import LibraryError, QuotebotError
from index.library import Library
from index.models import Document
from index.reader import BUNDLED_READER, Passage, load_reader

__all__ = [
    "QUOTES",
    "SYSTEMS",
    "TRAIN_TITLES_COUNT",
    "EvaluationReport",
    "Outcome",
    "Question",
    "SystemMetrics",
    "TradeoffPoint",
    "evaluate",
    "exact_match",
    "f1_score",
    "fuse",
    "gold_passage",
    "load_squad",
    "normalize_answer",
    "quote_hit",
    "reader_on_gold_sentences",
    "run_systems",
    "sample",
    "squad_split",
    "summarize",
    "tradeoff",
]

SYSTEMS = ("bm25", "dense", "hybrid", "no-reader", "quotebot", "quotebot-no-threshold")
# SQuAD v2.0 dev has 35 articles: the reader may learn from the first 17 titles in sorted order (their
# unanswerable questions are the only real ones there are); the other 18 are the test half.
TRAIN_TITLES_COUNT = 17
Split = Literal["all", "train", "test"]
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
    f1_answerable: float
    answered_rate: float
    abstain_rate: float | None
    latency_ms_p50: float
    latency_ms_p95: float


class TradeoffPoint(BaseModel):
    """quotebot at one "not found" threshold: the share of answerable questions answered, of unanswerable ones
    not answered, and quote@1 over answerable ones (a question not answered is a miss)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: float
    answered_rate: float
    abstain_rate: float | None
    quote_hit_at_1: float


class EvaluationReport(BaseModel):
    """What `quotebot eval` prints."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: str
    questions: int
    answerable: int
    unanswerable: int
    split: str = "all"
    systems: dict[str, SystemMetrics]
    reader_f1_gold_sentence: float | None = None
    # quotebot's answered / abstained shares at other thresholds than the shipped one (the trade-off curve).
    tradeoff: list[TradeoffPoint] = []


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    question: str
    title: str
    answers: tuple[str, ...]
    context: str = ""
    starts: tuple[int, ...] = ()

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
                given = [] if qa.get("is_impossible") else qa.get("answers", [])
                questions.append(
                    Question(
                        id=str(qa["id"]),
                        question=qa["question"],
                        title=title,
                        answers=tuple(answer["text"] for answer in given),
                        context=paragraph["context"],
                        starts=tuple(int(answer.get("answer_start", -1)) for answer in given),
                    )
                )
    documents = [
        Document(text="\n\n".join(paragraphs), source=f"squad:{title}", title=title.replace("_", " "))
        for title, paragraphs in texts.items()
    ]
    return documents, questions


def squad_split(
    documents: Sequence[Document], questions: Sequence[Question], split: Split
) -> tuple[list[Document], list[Question]]:
    """The train half (the first `TRAIN_TITLES_COUNT` titles in sorted order) or the test half (the rest) of a
    SQuAD file's articles and questions; "all" keeps everything. The reader trains and is calibrated on the
    train half of SQuAD v2.0 dev only, so its figures are reported on the test half."""
    if split == "all":
        return list(documents), list(questions)
    titles = sorted({question.title for question in questions} | {_title_of(document) for document in documents})
    train = set(titles[:TRAIN_TITLES_COUNT])
    wanted = split == "train"
    return (
        [document for document in documents if (_title_of(document) in train) == wanted],
        [question for question in questions if (question.title in train) == wanted],
    )


def _title_of(document: Document) -> str:
    return document.source.removeprefix("squad:")


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
    exact = f1 = answerable_f1 = 0.0
    for question, outcome in zip(questions, outcomes, strict=True):
        if not question.answerable:
            exact += float(not outcome.found)
            f1 += float(not outcome.found)
        elif outcome.found:
            exact += exact_match(outcome.answer, question.answers)
            f1 += f1_score(outcome.answer, question.answers)
            answerable_f1 += f1_score(outcome.answer, question.answers)
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
        f1_answerable=round(100.0 * answerable_f1 / max(len(answerable), 1), 2),
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


def _asked(library: Library, question: str, *, reader: bool, threshold: float | None = None) -> Outcome:
    """`Library.ask` as an outcome; its score is the answer's confidence (kept when it abstains), else quote 1's."""
    started = time.perf_counter()
    answer = library.ask(question, k=QUOTES, reader=reader, threshold=threshold)
    seconds = time.perf_counter() - started
    best = answer.quotes[0] if answer.quotes else None
    return Outcome(
        quotes=[quote.text for quote in answer.quotes],
        answer=best.answer.text if best is not None and best.answer is not None else "",
        found=answer.found,
        seconds=seconds,
        score=answer.confidence if answer.confidence is not None else (best.score if best is not None else 0.0),
    )


def run_systems(library: Library, question: str) -> dict[str, Outcome]:
    """The systems' outcomes for one question.

    quotebot runs first, so its latency includes encoding the question, as a user's does; the baselines then
    reuse the library's cached question vector, so theirs is retrieval and ranking alone.
    """
    # quotebot is asked once with no threshold (its best guesses, kept for the trade-off curve), and what users
    # get follows from it exactly: `Library.ask` applies the threshold only to the best quote's confidence.
    guesses = _asked(library, question, reader=True, threshold=0.0)
    if library.scoring.reader:
        found = guesses.found and guesses.score >= library.scoring.reader_threshold
        quotebot = replace(
            guesses, quotes=guesses.quotes if found else [], answer=guesses.answer if found else "", found=found
        )
    else:
        quotebot = _asked(library, question, reader=True)
    no_reader = _asked(library, question, reader=False)
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
        "no-reader": no_reader,
        "quotebot": quotebot,
        "quotebot-no-threshold": guesses,
    }


@contextmanager
def _library_folder(library: Path | str | None) -> Iterator[Path | str]:
    if library is not None:
        yield library if is_database_url(library) else Path(library)
        return
    with tempfile.TemporaryDirectory(prefix="quotebot-eval-") as folder:
        yield Path(folder)


def _check_own(library: Library, documents: Sequence[Document]) -> None:
    """Refuse a library holding articles from elsewhere (someone's own, or another split's): they would change
    every figure, and evaluation would add the file's articles to it."""
    sources = {document.source for document in documents}
    foreign = [summary for summary in library.articles() if summary.source not in sources]
    if foreign:
        raise LibraryError(
            f"the library in {str(library.path)!r} holds {len(foreign):,} article(s) that are not in this file "
            f"and split (such as {foreign[0].source!r}); evaluate in a folder of its own (-l DIR) or a temporary one"
        )


def evaluate(
    dataset: Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    split: Split = "all",
    library: Path | str | None = None,
    embedder: Embedder | None = None,
    scoring: Scoring | None = None,
    progress: Progress | None = None,
) -> EvaluationReport:
    """Build (or reuse) a library of `dataset`'s articles, ask its questions, and score the four systems
    (`scoring`: the library's, None for the shipped default)."""
    documents, questions = load_squad(dataset)
    documents, questions = squad_split(documents, questions, split)
    chosen = sample(questions, limit, seed)
    with _library_folder(library) as folder, Library.open(folder, embedder=embedder, scoring=scoring) as opened:
        # `add` is idempotent by content hash: a library that already holds these articles is reused as is.
        _check_own(opened, documents)
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
        gold = reader_on_gold_sentences(chosen, opened.scoring.reader) if opened.scoring.reader else None
    answerable = sum(question.answerable for question in chosen)
    return EvaluationReport(
        dataset=Path(dataset).name,
        questions=len(chosen),
        answerable=answerable,
        unanswerable=len(chosen) - answerable,
        split=split,
        systems={system: summarize(chosen, results[system]) for system in SYSTEMS},
        reader_f1_gold_sentence=gold,
        tradeoff=tradeoff(chosen, results["quotebot-no-threshold"]),
    )


TRADEOFF_THRESHOLDS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8)


def tradeoff(questions: Sequence[Question], outcomes: Sequence[Outcome]) -> list[TradeoffPoint]:
    """What each threshold of `TRADEOFF_THRESHOLDS` would give, from outcomes asked with no threshold (their
    best guesses and scores): a point's quote@1 counts a question below its threshold as a miss."""
    points = []
    answerable = [
        (question, outcome) for question, outcome in zip(questions, outcomes, strict=True) if question.answerable
    ]
    unanswerable = [outcome for question, outcome in zip(questions, outcomes, strict=True) if not question.answerable]
    for threshold in TRADEOFF_THRESHOLDS:
        points.append(
            TradeoffPoint(
                threshold=threshold,
                answered_rate=_rate(sum(outcome.score >= threshold for _, outcome in answerable), len(answerable)),
                abstain_rate=_rate(sum(outcome.score < threshold for outcome in unanswerable), len(unanswerable))
                if unanswerable
                else None,
                quote_hit_at_1=_rate(
                    sum(
                        outcome.score >= threshold and outcome.found and quote_hit(outcome.quotes, question.answers, 1)
                        for question, outcome in answerable
                    ),
                    len(answerable),
                ),
            )
        )
    return points


def gold_passage(question: Question) -> Passage | None:
    """The sentence of the question's paragraph that holds its first gold answer, with its neighbours."""
    spans = sentence_spans(question.context)
    for start, text in zip(question.starts, question.answers, strict=False):
        stop = start + len(text)
        for index, (begin, end) in enumerate(spans):
            if begin <= start and stop <= end:
                before = question.context[slice(*spans[index - 1])] if index else ""
                after = question.context[slice(*spans[index + 1])] if index + 1 < len(spans) else ""
                return Passage(question.context[begin:end], before, after)
    return None


def reader_on_gold_sentences(questions: Sequence[Question], reader: str | None) -> float | None:
    """The reader's short-answer F1 (percent) when it reads each answerable question's gold sentence."""
    folder = BUNDLED_READER if reader in (None, "bundled") else Path(str(reader))
    model = load_reader(folder)
    scores = []
    for question in questions:
        passage = gold_passage(question) if question.answerable else None
        if passage is None:
            continue
        reading = model.read(question.question, [passage])[0]
        scores.append(f1_score(passage.candidate[reading.start : reading.end], question.answers))
    return round(100.0 * sum(scores) / len(scores), 2) if scores else None
