"""Article ids by their first characters, as `git` takes a short hash: unique prefixes everywhere an id is."""

from __future__ import annotations

from collections import Counter

import pytest

from index import AmbiguousArticleId, ArticleNotFound, Document, Library


@pytest.fixture
def hashing_library(backend_library: Library) -> Library:
    """Every test of this module that takes a fresh library runs over both backends."""
    return backend_library


def _library_of(library: Library, count: int) -> list[str]:
    report = library.add(
        Document(text=f"Article {number} says the ferry number {number} leaves at dawn.", source=f"note-{number}.txt")
        for number in range(count)
    )
    return report.added


def test_a_unique_prefix_finds_its_article_and_a_shared_one_is_refused(hashing_library: Library) -> None:
    # 17 ids over 16 hex digits: at least two share a first character (pigeonhole).
    ids = _library_of(hashing_library, 17)
    firsts = Counter(article_id[0] for article_id in ids)
    shared = next(character for character, count in firsts.items() if count > 1)
    sharing = sorted(article_id for article_id in ids if article_id[0] == shared)
    with pytest.raises(AmbiguousArticleId, match=f"'{shared}' starts more than one article's id") as caught:
        hashing_library.article(shared)
    assert sharing[0] in str(caught.value) and "give more of the id" in str(caught.value)

    for article_id in ids:
        unique = next(
            article_id[:length]
            for length in range(1, 13)
            if sum(other.startswith(article_id[:length]) for other in ids) == 1
        )
        assert hashing_library.article(unique).id == article_id
        assert hashing_library.resolve(article_id) == article_id


def test_remove_takes_prefixes_and_a_bad_one_removes_nothing(hashing_library: Library) -> None:
    ids = _library_of(hashing_library, 3)
    prefixes = [article_id[:8] for article_id in ids]
    with pytest.raises(ArticleNotFound, match="'zzzz'"):
        hashing_library.remove([prefixes[0], "zzzz"])
    assert len(hashing_library.articles()) == 3
    assert hashing_library.remove([prefixes[0], ids[0]]) == [ids[0]]
    assert {summary.id for summary in hashing_library.articles()} == set(ids[1:])


@pytest.mark.parametrize("article_id", ["", "   ", "%", "_", "*"])
def test_nothing_and_wildcards_match_no_article(hashing_library: Library, article_id: str) -> None:
    _library_of(hashing_library, 3)
    with pytest.raises(ArticleNotFound):
        hashing_library.article(article_id)
