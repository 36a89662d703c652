"""Follow-up questions, filters and explanations in the engine, on tests/corpus_conversation/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conversation_set import ARTICLES, conversations, run

from index import Answer, Conversation, InvalidFilter, Library, Turn, Where
from index.articles import read_sources
from index.conversation import follow_up
from index.embedding import SentenceTransformerEmbedder
from index.models import Quote, ShortAnswer
from index.vectors import VectorIndex

SEEDS = Path(__file__).parent.parent / "seeds"


@pytest.fixture(scope="module", params=["local", "postgres"])
def library(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Iterator[Library]:
    """The seeds and the eight conversation articles (bridge, bakery, flood, festival, frog, marathon, ...), in a
    folder and then in a PostgreSQL database: follow-ups and filters hold on both backends."""
    if request.param == "postgres":
        location: Path | str = request.getfixturevalue("postgres_server").new_database()
    else:
        location = tmp_path_factory.mktemp("conversation") / "library"
    opened = Library.open(location, seeds=SEEDS, embedder=embedder)
    opened.add(read_sources([str(ARTICLES)]))
    yield opened
    opened.close()


def _article(library: Library, title_part: str) -> str:
    [article] = [summary.id for summary in library.articles() if title_part in summary.title]
    return article


def test_follow_ups_are_answered_right_far_more_often_with_the_conversation(library: Library) -> None:
    # The test half: its pairs were never used to set the weights of index/conversation.py (dev half only).
    outcomes = run(library, "test")
    assert len(outcomes) >= 15
    alone = sum(outcome.alone_right for outcome in outcomes)
    together = sum(outcome.with_conversation_right for outcome in outcomes)
    print(f"\nfollow-ups right on the test half: alone {alone}/{len(outcomes)}, with the conversation {together}")
    assert together >= alone + 3
    assert together / len(outcomes) >= 0.6


def test_the_whole_set_has_thirty_conversations_in_two_halves() -> None:
    every = conversations("all")
    assert len(every) >= 30
    assert {item["split"] for item in every} == {"dev", "test"}
    assert len(conversations("dev")) == len(conversations("test"))


def test_a_question_that_stands_on_its_own_gets_exactly_the_answer_it_gets_alone(library: Library) -> None:
    first = library.ask("Who founded Lumen Bakeries?")
    conversation = Conversation().then(first)
    for question in (
        "When did the Marlow Bridge collapse?",
        "How many soldiers did the army send to Port Avery?",
        "Which country hasn't approved Sweden?",
        "Where did Helen Drax study, and when was she born?",
    ):
        assert library.ask(question, k=3, conversation=conversation) == library.ask(question, k=3)


def test_why_after_a_question_quotes_the_cause_in_the_same_article(library: Library) -> None:
    first = library.ask("When did Lumen Bakeries move its headquarters to Vienna?")
    assert first.found and "moved its headquarters to Vienna" in first.quotes[0].text
    alone = library.ask("Why?")
    assert not alone.found  # no content word: nothing to search without the conversation
    followed = library.ask("Why?", conversation=Conversation().then(first))
    assert followed.found
    assert "The move was made because Austrian banks" in followed.quotes[0].text
    assert followed.question == "Why?"


def _turn(question: str, answer_text: str, sentence: str) -> Turn:
    start = sentence.index(answer_text)
    quote = Quote(
        text=sentence,
        start=100,
        end=100 + len(sentence),
        article_id="a1",
        title="t",
        source="s",
        score=0.9,
        answer=ShortAnswer(text=answer_text, start=100 + start, end=100 + start + len(answer_text)),
    )
    return Turn(question=question, quotes=[quote])


def test_pronouns_take_the_previous_short_answer_and_ellipses_replace_the_name() -> None:
    who = Conversation(turns=[_turn("Who led the inquiry?", "Helen Drax", "The council appointed Helen Drax.")])
    plan = follow_up("When was she born?", who)
    assert plan is not None and plan.searched == "When was Helen Drax born?"
    plan = follow_up("Whom did her report blame?", who)
    assert plan is not None and plan.searched == "Whom did Helen Drax’s report blame?"
    tariffs = Conversation(
        turns=[_turn("By how much did France raise its tariff?", "10 percent", "France raised it by 10 percent.")]
    )
    plan = follow_up("And Belgium?", tariffs)
    assert plan is not None and plan.searched == "By how much did Belgium raise its tariff?"
    plan = follow_up("Why?", tariffs)
    assert plan is not None and plan.searched == "Why did France raise its tariff?"
    assert plan.articles == ["a1"]


def test_questions_that_point_nowhere_or_name_something_new_are_not_follow_ups() -> None:
    who = Conversation(turns=[_turn("Who led the inquiry?", "Helen Drax", "The council appointed Helen Drax.")])
    assert follow_up("When was she born?", None) is None
    assert follow_up("When was she born?", Conversation()) is None
    assert follow_up("Which bridge collapsed in Kessington?", who) is None
    assert follow_up("Why did Tomas Verrell start his company?", who) is None
    assert follow_up("Is there a new bridge?", who) is None
    assert follow_up("Thanks!", who) is None
    assert follow_up("who led the inquiry?", who) is None


def test_a_follow_up_turn_remembers_the_question_it_was_resolved_to(library: Library) -> None:
    first = library.ask("Who founded the Orland Jazz Festival?")
    conversation = Conversation().then(first)
    second = library.ask("When was he born?", conversation=conversation)
    conversation = conversation.then(second)
    assert conversation.turns[-1].resolved is not None and "Marcus Webb" in conversation.turns[-1].resolved
    assert "Webb was born in 1949 in Chicago" in second.quotes[0].text


def test_filters_restrict_retrieval_and_still_return_k_quotes(library: Library) -> None:
    railway = _article(library, "Northline")
    answer = library.ask("Who was born where and when?", k=3, where=Where(article=railway[:6]))
    assert answer.found and len(answer.quotes) == 3
    assert {quote.article_id for quote in answer.quotes} == {railway}
    unfiltered = library.ask("How many people were hurt?", k=3)
    flood = _article(library, "Tamsin")
    dated = library.ask("How many people were hurt?", k=3, where=Where(since="2015-01", until="2015"))
    assert {quote.article_id for quote in dated.quotes} == {flood}
    assert dated.quotes[0].text.startswith("Forty people were hurt")
    assert [quote.article_id for quote in unfiltered.quotes] != [flood] * len(unfiltered.quotes)
    sport = library.ask("How many were hurt?", k=2, where=Where(source="*sport.example.com*"))
    assert sport.found and all(quote.source.startswith("https://sport.example.com/") for quote in sport.quotes)
    titled = library.ask("How many were hurt?", k=1, where=Where(title="marlow bridge"))
    assert titled.quotes[0].text.startswith("Twelve people were hurt")


def test_a_filter_nothing_passes_answers_not_found_and_bad_filters_are_typed_errors(library: Library) -> None:
    assert library.ask("How many were hurt?", where=Where(since="2030")) == Answer(
        question="How many were hurt?", found=False, quotes=[]
    )
    with pytest.raises(InvalidFilter, match="since"):
        Where.parse(since="last tuesday")
    with pytest.raises(InvalidFilter, match="before since"):
        Where.parse(since="2020", until="2019")
    assert Where.parse(source="", since=None) is None
    where = Where.parse(since="2015", until="2015-02")
    assert where is not None and where.describe() == "since:2015-01-01 until:2015-02-28"


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_search_within_equals_brute_force_over_the_allowed_ids(kind: str) -> None:
    generator = np.random.default_rng(5)
    vectors = generator.standard_normal((2000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(10, 2010, dtype=np.int64)
    index = VectorIndex(16, kind=kind)  # type: ignore[arg-type]
    index.rebuild(ids, vectors, generation=1)
    allowed = generator.choice(ids, size=17, replace=False)
    query = vectors[3]
    found = index.search_within(query, 5, allowed)
    scores = {int(chunk): float(vectors[chunk - 10] @ query) for chunk in allowed}
    expected = sorted(scores, key=scores.__getitem__, reverse=True)[:5]
    assert [chunk for chunk, _ in found] == expected


def test_explain_names_every_candidate_its_scores_and_fate(library: Library) -> None:
    question = "Who won the Halden marathon?"
    explanation = library.explain(question, k=2)
    assert explanation.answer == library.ask(question, k=2)
    quoted = [candidate for candidate in explanation.candidates if candidate.outcome == "quoted"]
    assert all(candidate.text in quote.text for candidate, quote in zip(quoted, explanation.answer.quotes, strict=True))
    assert quoted[0].text.startswith("Karl Osei won the Halden marathon")
    assert quoted[0].probability == explanation.answer.quotes[0].confidence
    assert explanation.threshold == library.scoring.reader_threshold
    assert len([c for c in explanation.candidates if c.reader_answer is not None]) == library.scoring.read_depth
    assert {c.outcome for c in explanation.candidates} >= {"quoted", "beyond_k", "not_read"}
    first = explanation.candidates[0]
    assert set(first.contributions) == set(library.scoring.weights)
    assert explanation.follow_up is None and explanation.searched == question


def test_explain_of_a_follow_up_says_how_the_conversation_was_used(library: Library) -> None:
    first = library.ask("Who won the Halden marathon?")
    explanation = library.explain("Where was he born?", conversation=Conversation().then(first))
    assert explanation.follow_up == "pronoun resolved"
    assert explanation.searched == "Where was Karl Osei born?"
    assert any(candidate.conversation_bonus > 0 for candidate in explanation.candidates)
