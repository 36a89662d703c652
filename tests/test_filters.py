"""The filter syntax the front ends share (bot/filters.py) and the engine's `Where` it builds."""

from __future__ import annotations

import datetime

import pytest

from bot.filters import split_filters
from index import InvalidFilter, Where


def test_filter_words_leave_the_question_and_make_a_where() -> None:
    question, where = split_filters('source:wikinews since:2015 Who won? title:"marlow bridge" until:2016-02')
    assert question == "Who won?"
    assert where == Where(
        source="wikinews",
        title="marlow bridge",
        since=datetime.date(2015, 1, 1),
        until=datetime.date(2016, 2, 29),
    )
    assert split_filters("--article ab12 --since=2015-03-31 Who won?") == (
        "Who won?",
        Where(article="ab12", since=datetime.date(2015, 3, 31)),
    )


def test_text_without_filter_words_is_left_alone() -> None:
    assert split_filters("What is 3:4 in percent, and who said source: none?") == (
        "What is 3:4 in percent, and who said source: none?",
        None,
    )


def test_a_bad_value_is_a_typed_error_that_says_how_to_fix_it() -> None:
    with pytest.raises(InvalidFilter, match=r"until .*2015-03-31"):
        split_filters("until:2015-13 Who won?")


def test_where_matches_sources_by_glob_or_substring_and_dates_by_day() -> None:
    row = ("ab12cd", "/home/me/news/wikinews/a.txt", "The Rhine", "2015-06-01T10:00:00Z")
    assert Where(source="WIKINEWS").matches(*row)
    assert Where(source="/home/*/news/*.txt").matches(*row)
    assert not Where(source="*.md").matches(*row)
    assert Where(article="ab1", title="rhine", since="2015-06", until="2015-06").matches(*row)
    assert not Where(since="2015-06-02").matches(*row)
    assert not Where(until="2014").matches(*row)
    assert not Where(since="2000").matches("x", "s", "t", None)  # no date: a date range cannot hold
