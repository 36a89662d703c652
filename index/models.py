"""The data that crosses module boundaries or touches disk.

Offsets everywhere are Python ``str`` indices (code points), half-open, into an article's text exactly as
stored: ``quote.text == article.text[quote.start:quote.end]``.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "AddReport",
    "Answer",
    "Article",
    "ArticleSummary",
    "Document",
    "Duplicate",
    "LibraryStats",
    "Quote",
    "ShortAnswer",
    "Span",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Span(_Frozen):
    """A half-open range of code points into an article's text."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(f"span end {self.end} is before its start {self.start}")
        return self


class Document(_Frozen):
    """An article as read from a source, before the library gives it an id."""

    text: str
    source: str = Field(min_length=1, description="where it came from: a path, a URL, or path#record")
    title: str = ""
    url: str | None = None
    date: str | None = None
    author: str | None = None
    # The publication a web page belongs to ("The Guardian"), when its metadata names one.
    site: str | None = None


class Article(_Frozen):
    """A stored article; its text never changes after it has an id."""

    id: str
    text: str
    source: str
    title: str
    url: str | None = None
    date: str | None = None
    content_hash: str
    added_at: str
    author: str | None = None
    site: str | None = None


class ArticleSummary(_Frozen):
    """One row of `sources`: an article without its text."""

    id: str
    title: str
    source: str
    url: str | None = None
    date: str | None = None
    chunks: int
    characters: int
    author: str | None = None


class ShortAnswer(_Frozen):
    """The words inside a quote that answer the question."""

    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class Quote(_Frozen):
    """A verbatim slice of one article, with the short answer inside it when one was found."""

    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    article_id: str
    title: str
    source: str
    url: str | None = None
    score: float
    answer: ShortAnswer | None = None
    # The article's date and author, for the citation under the quote ("— Title, 12 Sep 2015, Author").
    date: str | None = None
    author: str | None = None
    # The calibrated probability that this quote answers the question (the reader's blend), when a reader read it.
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    # True when the confidence is below the "sure" threshold: front ends say "Possibly" instead of stating it.
    weak: bool = False

    @model_validator(mode="after")
    def _answer_inside(self) -> Self:
        if self.end - self.start != len(self.text):
            raise ValueError(f"quote offsets {self.start}:{self.end} do not match its {len(self.text)} characters")
        answer = self.answer
        if answer is not None:
            if not (self.start <= answer.start <= answer.end <= self.end):
                raise ValueError(f"short answer {answer.start}:{answer.end} is outside quote {self.start}:{self.end}")
            if self.text[answer.start - self.start : answer.end - self.start] != answer.text:
                raise ValueError("short answer text is not the slice of the quote at its offsets")
        return self


class Answer(_Frozen):
    """What `ask` returns: quotes best first, or found=False when nothing answers."""

    question: str
    found: bool
    quotes: list[Quote]
    # The calibrated probability of the best candidate, also when it was too low to answer (found=False).
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)


class Duplicate(_Frozen):
    """A source whose text is nearly that of an article already in the library; it was not added again."""

    source: str
    duplicate_of: str = Field(description="the id of the article it repeats")
    title: str = Field(description="that article's title")
    similarity: float = Field(ge=0.0, le=1.0)


class AddReport(_Frozen):
    """What one `add` did, article ids per outcome."""

    added: list[str] = Field(default_factory=list)
    replaced: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    chunks: int = 0
    duplicates: list[Duplicate] = Field(default_factory=list)


class LibraryStats(_Frozen):
    """Sizes and settings of a library, for `sources --stats`."""

    path: str
    articles: int
    chunks: int
    sentences: int
    embedder: str
    dimension: int
    index_type: str
    vectors: int
    database_bytes: int
    index_bytes: int
