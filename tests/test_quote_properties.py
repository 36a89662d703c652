"""Property tests: whatever the articles and questions, every quote is the article's text at its offsets."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.embedding import HashingEmbedder
from index.library import Library
from index.models import Document

_words = st.sampled_from(
    "the harbour opened in 1901 Dr. Smith U.S. café Zürich “quoted” <b>bold</b> & 🎉 ships came from Lisbon "
    "\r\n \n\n . ? ! — 3.5% Mr. J. R. R. Tolkien 日本語 tab\there".split(" ")
)
_texts = st.lists(_words, min_size=1, max_size=120).map(" ".join).filter(lambda text: bool(text.strip()))
_questions = st.lists(_words, min_size=1, max_size=12).map(" ".join)


@given(articles=st.lists(_texts, min_size=1, max_size=6), questions=st.lists(_questions, min_size=1, max_size=4))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_quotes_are_verbatim_slices_and_survive_reopening(articles: list[str], questions: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "library"
        documents = [Document(text=text, source=f"article-{number}") for number, text in enumerate(articles)]
        answers = {}
        with Library.open(path, embedder=HashingEmbedder()) as library:
            library.add(documents)
            texts = {summary.id: library.article(summary.id).text for summary in library.articles()}
            assert set(texts.values()) == set(articles)
            for question in questions:
                if not question.strip() or not any(character.isalnum() for character in question):
                    continue
                answer = library.ask(question, k=5)
                answers[question] = answer
                for quote in answer.quotes:
                    assert texts[quote.article_id][quote.start : quote.end] == quote.text
                    assert quote.text == quote.text.strip() and quote.text
                    if quote.answer is not None:
                        assert quote.start <= quote.answer.start <= quote.answer.end <= quote.end
                        assert texts[quote.article_id][quote.answer.start : quote.answer.end] == quote.answer.text
                    context = library.context(quote)
                    assert texts[quote.article_id][context.start : context.end] == context.text
                    assert context.start <= quote.start and quote.end <= context.end
        with Library.open(path, embedder=HashingEmbedder()) as library:
            for question, answer in answers.items():
                assert library.ask(question, k=5) == answer
