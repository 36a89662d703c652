"""Filters on which articles a question searches: source, title, article id and date range (`Where`).

A filter is applied inside retrieval (FAISS searches only the allowed chunks, FTS5 joins on them), so `ask`
still returns k quotes when the allowed articles hold them, instead of k quotes of which the filter keeps few.
"""

from __future__ import annotations

import calendar
import datetime
import fnmatch
import re
from collections.abc import Iterable
from typing import Self

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from index.errors import InvalidFilter

__all__ = ["Where", "article_date"]

_DATE = re.compile(r"^\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_GLOB_CHARACTERS = frozenset("*?[")


class Where(BaseModel):
    """Which articles to search; every field that is set must hold (an article without a date fails a date range).

    `source`: a glob (``*wikinews*``, ``/home/me/notes/*.md``) when it holds ``*``, ``?`` or ``[``, else a
    case-insensitive substring of the article's source. `title`: a case-insensitive substring. `article`: an
    article id or a unique prefix of one. `since`/`until`: inclusive dates; ``2015`` and ``2015-03`` mean the
    first day of that year or month for `since` and the last for `until`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str | None = None
    title: str | None = None
    article: str | None = None
    since: datetime.date | None = None
    until: datetime.date | None = None

    @field_validator("since", mode="before")
    @classmethod
    def _since(cls, value: object) -> object:
        return _partial_date(value, last=False)

    @field_validator("until", mode="before")
    @classmethod
    def _until(cls, value: object) -> object:
        return _partial_date(value, last=True)

    @field_validator("source", "title", "article")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        return value.strip() if value is not None else None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.since and self.until and self.until < self.since:
            raise ValueError(f"until ({self.until}) is before since ({self.since})")
        return self

    @classmethod
    def parse(cls, **fields: object) -> Where | None:
        """A filter from front-end strings (None when nothing is set); a bad value raises InvalidFilter."""
        given = {name: value for name, value in fields.items() if value not in (None, "")}
        if not given:
            return None
        try:
            return cls(**given)
        except ValidationError as error:
            problem = error.errors()[0]
            location = [str(part) for part in problem["loc"]]
            message = str(problem["msg"]).removeprefix("Value error, ")
            hint = (
                "give some text"
                if location and location[0] in ("source", "title", "article")
                else ("dates look like 2015, 2015-03 or 2015-03-31")
            )
            raise InvalidFilter(f"{' '.join(['the filter', *location])} is not valid ({message}); {hint}") from None

    @property
    def is_empty(self) -> bool:
        return all(value is None for value in self.model_dump().values())

    def matches(self, article_id: str, source: str, title: str, date: str | None) -> bool:
        """Whether an article with these fields passes the filter."""
        if self.article is not None and not article_id.startswith(self.article):
            return False
        if self.source is not None:
            if _GLOB_CHARACTERS & set(self.source):
                if not fnmatch.fnmatchcase(source.lower(), self.source.lower()):
                    return False
            elif self.source.lower() not in source.lower():
                return False
        if self.title is not None and self.title.lower() not in title.lower():
            return False
        if self.since is not None or self.until is not None:
            day = article_date(date)
            if day is None:
                return False
            if self.since is not None and day < self.since:
                return False
            if self.until is not None and day > self.until:
                return False
        return True

    def allowed(self, articles: Iterable[tuple[str, str, str, str | None]]) -> list[str]:
        """The ids of the (id, source, title, date) rows that pass."""
        return [row[0] for row in articles if self.matches(*row)]

    def describe(self) -> str:
        """The filter in the words of the front ends' syntax, e.g. ``source:wikinews since:2015-01-01``."""
        return " ".join(f"{name}:{value}" for name, value in self.model_dump().items() if value is not None)


def article_date(value: str | None) -> datetime.date | None:
    """The calendar day an article's date string starts with (``2019-03-15``, ``2019-03-15T10:00Z``), if any."""
    if not value:
        return None
    match = _DATE.match(value)
    if match is None:
        return None
    year, month, day = int(match.group(1)), int(match.group(2) or 1), int(match.group(3) or 1)
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def _partial_date(value: object, *, last: bool) -> object:
    """ "2015" and "2015-03" as the first (or, with `last`, the final) day of that year or month."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    match = re.fullmatch(r"(\d{4})(?:-(\d{1,2}))?", text)
    if match is None:
        return text
    year = int(match.group(1))
    if match.group(2) is None:
        return datetime.date(year, 12, 31) if last else datetime.date(year, 1, 1)
    month = int(match.group(2))
    if not 1 <= month <= 12:
        return text
    return datetime.date(year, month, calendar.monthrange(year, month)[1] if last else 1)
