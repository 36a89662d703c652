"""The filter syntax every front end shares: ``source:wikinews since:2015-01-01 Who won?``.

Words of the form ``NAME:VALUE`` (or ``--NAME VALUE``) for the names source, title, article, since and until
are taken out of the text; what is left is the question. A value with spaces goes in double quotes
(``title:"marlow bridge"``). A bad value raises the engine's InvalidFilter, which says how to fix it.
"""

from __future__ import annotations

import re

from index import Where

__all__ = ["FILTER_HELP", "FILTER_NAMES", "split_filters"]

FILTER_NAMES = ("source", "title", "article", "since", "until")
FILTER_HELP = (
    "source:TEXT (a part of the source, or a glob like *wikinews*), title:TEXT, article:ID, "
    "since:2015-01-01 and until:2016 (a year, a month or a day)"
)
_NAMES = "|".join(FILTER_NAMES)
_FILTER = re.compile(
    rf'(?:(?<=\s)|^)(?:(?P<name>{_NAMES}):|--(?P<flag>{_NAMES})(?:=|\s+))(?:"(?P<quoted>[^"]*)"|(?P<plain>\S+))'
)


def split_filters(text: str) -> tuple[str, Where | None]:
    """(the question without its filter words, the filter they make, or None when there are none)."""
    found: dict[str, str] = {}

    def take(match: re.Match[str]) -> str:
        name = match.group("name") or match.group("flag")
        found[name] = match.group("quoted") if match.group("quoted") is not None else match.group("plain")
        return " "

    question = " ".join(_FILTER.sub(take, text).split())
    return question, Where.parse(**found)
