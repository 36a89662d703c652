"""Follow-up questions: whether a question leans on the turns before it, and how those turns shape its search.

A follow-up ("When was she born?", "Why?", "And Belgium?", "How many were hurt there?") names too little to be
searched alone. `follow_up` decides from the words alone whether a question is one: it points back (a pronoun,
"there", "that year"), it is a bare question word, or it is an ellipsis ("And X?", "What about X?"), and it
brings no name of its own that the conversation has not seen. A question that stands on its own gets no plan,
and `Library.ask` then answers it exactly as without a conversation.

For a follow-up the plan gives:
- `searched`, the question made whole from the last turn: the previous short answer put in for "she" after a
  "who" question (or for "there" after "where", "that year" after "when"), "Why?" joined to the rest of the
  previous question, "And Belgium?" put in place of the previous question's last name, else the previous
  question's content words added; it is what is encoded, searched lexically and read by the reader;
- `articles`, the previous quotes' articles, searched again on their own so that their sentences are read
  even when the whole library holds closer-sounding ones elsewhere;
- `prior`, a bonus on the log-odds of sentences in the previous quote's article and near it (a conversation
  stays on its subject unless the question leads away), and a penalty on the sentence already quoted.
The weights were set on the dev half of `tests/corpus_conversation/conversations.json` only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from index import lexical
from index.models import Answer, Quote
from index.types import CandidateSentence

__all__ = ["MAX_TURNS", "Conversation", "FollowUp", "Turn", "follow_up"]

# Only the last turn is used for resolving; a few are kept so that front ends can show or trim a history.
MAX_TURNS = 5
# Log-odds added to a candidate in the previous quote's article, and more when it lies near that quote.
ARTICLE_BONUS = 1.5
NEAR_BONUS = 0.5
NEAR_CHARACTERS = 600
# Log-odds taken from the sentence the previous answer quoted: the asker has read it, a follow-up wants more.
REPEAT_PENALTY = 2.0
# "Why?" asks for a cause, and the reader, trained mostly on factoid questions, scores causes low: a follow-up
# that asks why prefers the sentences that state one.
CAUSE_BONUS = 1.5
_CAUSE = re.compile(r"\b(?:because|caused by|due to|owing to|as a result of|led to|the reason)\b", re.IGNORECASE)

_PERSONAL = frozenset("he she him her his hers they them their theirs himself herself themselves".split())
_THING = frozenset("it its itself".split())
_POINTING = re.compile(
    r"\b(?:that|this|the same|those|these)\s+(?:year|day|night|month|week|time|place|city|town|country|"
    r"company|man|woman|person|event|one|team|river|bridge|festival|line)s?\b",
    re.IGNORECASE,
)
_ELLIPSIS = re.compile(
    r"^\s*(?:and what about|and how about|what about|how about|and in|and)\s+(?P<rest>.+?)[\s?.!]*$", re.IGNORECASE
)
_EXISTENTIAL = re.compile(r"\b(?:is|are|was|were|be|been)\s+there\b", re.IGNORECASE)
_WH = re.compile(
    r"^\s*(?:by how much|in (?:which|what) \w+|(?:which|what|whose) (?=\w+ (?:did|do|does|was|were|is|are|has|"
    r"have|had|will|can)\b)\w+|how (?:many|much|long|old|far|often)(?: \w+)?|who|whom|whose|what|when|where|why|"
    r"how|which)\b\s*",
    re.IGNORECASE,
)
# A run of capitalised words that is not the question's first word: a name the question brings.
_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w'’-]*(?:\s+(?:of\s+)?[A-Z][\w'’-]*)*")
_YEAR = re.compile(r"\b(1\d{3}|20\d{2})\b")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Turn(_Frozen):
    """One question of a conversation and the quotes it was given (best first; none when not found)."""

    question: str
    quotes: list[Quote] = Field(default_factory=list)
    # The question as it was searched when it was itself a follow-up ("When was Helen Drax born?").
    resolved: str | None = None
    # The person it was about, when a pronoun was resolved to one: "he" in the next follow-up is them too.
    person: str | None = None


class Conversation(_Frozen):
    """The turns so far, oldest first."""

    turns: list[Turn] = Field(default_factory=list)

    def then(self, answer: Answer) -> Conversation:
        """This conversation with `answer` (an answer `Library.ask` gave with it) as its newest turn."""
        plan = follow_up(answer.question, self)
        turn = Turn(
            question=answer.question,
            quotes=answer.quotes,
            resolved=plan.searched if plan else None,
            person=plan.person if plan else None,
        )
        return Conversation(turns=[*self.turns, turn][-MAX_TURNS:])

    @property
    def last(self) -> Turn | None:
        return self.turns[-1] if self.turns else None


@dataclass(frozen=True, slots=True)
class FollowUp:
    """How a follow-up is searched: the question made whole, the articles to search again, where to look."""

    question: str
    searched: str
    articles: list[str]
    anchor: Quote | None
    reason: str
    person: str | None = None

    def prior(self, sentence: CandidateSentence) -> float:
        """Log-odds added to `sentence`: in the previous quote's article, more near that quote, less for that
        quote itself, and more for a stated cause when the follow-up asks why."""
        cause = CAUSE_BONUS if self.asks_why and _CAUSE.search(sentence.text) else 0.0
        anchor = self.anchor
        if anchor is None or sentence.article_id != anchor.article_id:
            return cause
        if anchor.start <= sentence.start < anchor.end:
            return cause + ARTICLE_BONUS - REPEAT_PENALTY
        near = abs(sentence.start - anchor.start) <= NEAR_CHARACTERS
        return cause + ARTICLE_BONUS + (NEAR_BONUS if near else 0.0)

    @property
    def asks_why(self) -> bool:
        return bool(re.match(r"\s*(?:and\s+)?why\b", self.searched, re.IGNORECASE))


def follow_up(question: str, conversation: Conversation | None) -> FollowUp | None:
    """The plan for `question` when it leans on the conversation's last turn; None when it stands on its own."""
    last = conversation.last if conversation is not None else None
    if last is None:
        return None
    if " ".join(question.lower().split()) == " ".join(last.question.lower().split()):
        return None  # the same question again is asked again, not read in the light of its own answer
    previous = last.resolved or last.question
    anchor = last.quotes[0] if last.quotes else None
    articles = list(dict.fromkeys(quote.article_id for quote in last.quotes[:2]))
    known = " ".join([previous, *(quote.text for quote in last.quotes[:2])]).lower()

    def plan(searched: str, reason: str, person: str | None = None) -> FollowUp:
        return FollowUp(question, " ".join(searched.split()), articles, anchor, reason, person)

    ellipsis = _ELLIPSIS.match(question)
    if ellipsis is not None and len(lexical.words(ellipsis.group("rest"))) <= 4:
        rest = ellipsis.group("rest").strip()
        names = _names(previous)
        if _names(" " + rest) and names:
            start, end = names[-1]
            return plan(previous[:start] + rest + previous[end:], "ellipsis")
        return plan(f"{previous} {rest}", "ellipsis")
    words = lexical.words(question)
    if not lexical.question_terms(question):
        # "Why?", "When?", "And how?": the new question word asks about the previous question's subject.
        asked = next((word for word in words if word in _QUESTION_WORDS), None)
        if asked is None and not _pointing(question, words):
            return None  # "thanks", "ok": not a question about anything, so still not searched
        rest = _WH.sub("", previous, count=1)
        if asked is not None and rest != previous:
            return plan(f"{asked.capitalize()} {rest}", "bare question word")
        # "After whom did she name it?" holds only function words: it is read with the whole last question.
        return plan(f"{question} {previous}", "bare question word")
    pointing = _pointing(question, words)
    if not pointing:
        return None
    # A name the conversation has not seen means the question is about something new ("Why did Tomas Verrell
    # start his company?" asked after a question about a bridge): it stands on its own.
    if any(question[start:end].lower() not in known for start, end in _names(question)):
        return None
    person = _person(previous, anchor, last.person) if "person" in pointing else None
    if person is not None:
        return plan(_replace_person(question, person), "pronoun resolved", person)
    searched = _substituted(question, pointing, previous, anchor)
    if searched is not None:
        return plan(searched, "pronoun resolved")
    return plan(f"{question} {' '.join(_content_words(previous))}", "previous question's words added")


_QUESTION_WORDS = ("why", "how", "when", "where", "who", "what", "which")


def _names(text: str) -> list[tuple[int, int]]:
    return [(match.start(), match.end()) for match in _NAME.finditer(text) if match.group() not in ("I",)]


def _pointing(question: str, words: Sequence[str]) -> set[str]:
    """The kinds of pointing back in `question`: "person", "thing", "place", "time"."""
    kinds: set[str] = set()
    if _PERSONAL & set(words):
        kinds.add("person")
    if _THING & set(words):
        kinds.add("thing")
    if "there" in words and not _EXISTENTIAL.search(question):
        kinds.add("place")
    if "then" in words:
        kinds.add("time")
    pointed = _POINTING.search(question)
    if pointed is not None:
        kinds.add("time" if re.search(r"year|day|night|month|week|time", pointed.group(), re.IGNORECASE) else "thing")
    return kinds


def _person(previous: str, anchor: Quote | None, known: str | None) -> str | None:
    """Who "he" or "she" is: the short answer to a previous "who" question, else the person the previous turn
    was already about."""
    if anchor is not None and anchor.answer is not None and previous.strip().lower().startswith(("who ", "whom ")):
        return anchor.answer.text.strip()
    return known


def _substituted(question: str, pointing: set[str], previous: str, anchor: Quote | None) -> str | None:
    """`question` with its pointing word replaced by the previous short answer, when that answer is what the
    previous question asked for (a person for "who", a place for "where", a year for "when"); else None."""
    if anchor is None or anchor.answer is None:
        return None
    answer = anchor.answer.text.strip()
    asked = previous.strip().lower()
    if "place" in pointing and asked.startswith("where "):
        return re.sub(r"\bthere\b", lambda _: f"in {answer}", question, count=1, flags=re.IGNORECASE)
    if "time" in pointing and _YEAR.search(answer) and asked.startswith(("when ", "in which year", "in what year")):
        year = _YEAR.search(answer)
        assert year is not None
        replaced = _POINTING.sub(lambda _: f"in {year.group()}", question, count=1)
        return re.sub(r"\bthen\b", lambda _: f"in {year.group()}", replaced, count=1, flags=re.IGNORECASE)
    return None


def _replace_person(question: str, person: str) -> str:
    def swap(match: re.Match[str]) -> str:
        word = match.group(1).lower()
        following = match.group(2) or ""
        possessive = word in ("his", "their", "theirs", "hers") or (
            word == "her" and following and following.lower() not in lexical.STOPWORDS
        )
        return (f"{person}’s" if possessive else person) + (f" {following}" if following else "")

    return re.sub(
        r"\b(he|she|him|her|his|hers|they|them|their|theirs)\b(?:\s+(\w+))?",
        swap,
        question,
        count=1,
        flags=re.IGNORECASE,
    )


def _content_words(text: str) -> list[str]:
    return [
        word
        for word in re.findall(r"[^\W_][\w'’-]*", _WH.sub("", text, count=1))
        if word.lower() not in lexical.STOPWORDS
    ]
