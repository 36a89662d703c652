"""Why this quote: what `Library.explain` returns about one question's candidates.

For each of the best candidates: its first-stage features and what each added to the first stage's log-odds
(weight times value), the reader's answer logit and span margin, any bonus a conversation gave it, the blend's
probability, and its fate: quoted, below the threshold, past the k quotes asked for, inside a better quote, or
not read at all. Front ends put this into words (bot/formatting.py); nothing here is text for people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from index.answer import ScoredSentence, Scoring
from index.filtering import Where
from index.models import Answer
from index.reader import Reading

__all__ = ["Candidate", "Considered", "Explanation", "Outcome", "explanation"]

Outcome = Literal["quoted", "below_threshold", "beyond_k", "inside_better_quote", "not_read"]


@dataclass(frozen=True, slots=True)
class Considered:
    """One candidate as `Library._read` saw it (the raw material of a `Candidate`)."""

    item: ScoredSentence
    probability: float | None
    reading: Reading | None
    bonus: float
    outcome: Outcome

    def but(self, outcome: Outcome) -> Considered:
        return replace(self, outcome=outcome)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Candidate(_Frozen):
    """A candidate sentence (a verbatim slice of its article) and every score it got."""

    text: str
    article_id: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    first_stage: float = Field(ge=0.0, le=1.0, description="the first stage's probability")
    features: dict[str, float]
    contributions: dict[str, float] = Field(description="weight x value of each weighted feature, in log-odds")
    reader_answer: float | None = Field(default=None, description="the reader's answer logit")
    reader_span: float | None = Field(default=None, description="best short-answer span minus 'no answer'")
    short_answer: str | None = None
    conversation_bonus: float = 0.0
    probability: float | None = Field(default=None, ge=0.0, le=1.0, description="the blend: the quote's confidence")
    outcome: Outcome


class Explanation(_Frozen):
    """Why `ask` answered what it did, best candidate first."""

    question: str
    searched: str = Field(description="what was searched and read: the question, or a follow-up made whole")
    follow_up: str | None = Field(default=None, description="how the conversation was used, when it was")
    where: Where | None = None
    threshold: float
    weak_threshold: float
    read_depth: int
    candidates: list[Candidate]
    answer: Answer


def explanation(
    answer: Answer,
    trace: Sequence[Considered],
    scoring: Scoring,
    *,
    searched: str,
    follow_up: str | None,
    where: Where | None,
) -> Explanation:
    """The explanation of `answer` from the candidates `Library._read` considered (`trace`)."""
    candidates = []
    for considered in trace:
        sentence = considered.item.sentence
        reading = considered.reading
        candidates.append(
            Candidate(
                text=sentence.text,
                article_id=sentence.article_id,
                start=sentence.start,
                end=sentence.stop,
                first_stage=round(considered.item.score, 4),
                features={name: round(value, 4) for name, value in considered.item.features.items()},
                contributions={
                    name: round(weight * considered.item.features.get(name, 0.0), 4)
                    for name, weight in scoring.weights.items()
                },
                reader_answer=None if reading is None else round(reading.answer, 4),
                reader_span=None if reading is None else round(reading.span_score - reading.no_answer, 4),
                short_answer=(
                    sentence.text[reading.start : reading.end]
                    if reading is not None and reading.end > reading.start
                    else None
                ),
                conversation_bonus=round(considered.bonus, 4),
                probability=None if considered.probability is None else round(considered.probability, 4),
                outcome=considered.outcome,
            )
        )
    return Explanation(
        question=answer.question,
        searched=searched,
        follow_up=follow_up,
        where=where,
        threshold=scoring.reader_threshold,
        weak_threshold=scoring.weak_threshold,
        read_depth=scoring.read_depth,
        candidates=candidates,
        answer=answer,
    )
