"""The evaluation's metrics against hand-computed examples, and one end-to-end run on a tiny SQuAD file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.embedding import HashingEmbedder
from index.evaluation import (
    QUOTES,
    SYSTEMS,
    Outcome,
    Question,
    evaluate,
    exact_match,
    f1_score,
    load_squad,
    normalize_answer,
    quote_hit,
    run_systems,
    sample,
    summarize,
)
from index.library import Library


def test_normalize_answer_lowercases_and_drops_punctuation_articles_and_extra_spaces() -> None:
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize_answer("  A cat, an apple and THE dog. ") == "cat apple and dog"
    assert normalize_answer("theatre") == "theatre"
    assert normalize_answer("the") == ""


def test_exact_match_is_best_over_golds() -> None:
    assert exact_match("the France", ["Paris", "France"]) == 1.0
    assert exact_match("France.", ["French Republic"]) == 0.0


def test_f1_by_hand() -> None:
    # prediction "in northern france" vs gold "france": common 1, precision 1/3, recall 1 -> 2*(1/3)/(4/3) = 0.5
    assert f1_score("in northern France", ["France"]) == pytest.approx(0.5)
    # vs "northern France region": common 2, precision 2/3, recall 2/3 -> 2/3
    assert f1_score("in northern France", ["France", "northern France region"]) == pytest.approx(2 / 3)
    assert f1_score("Germany", ["France"]) == 0.0
    # shared tokens are counted with multiplicity: "b b c" & "b c c" share one b and one c -> 2/3 both ways
    assert f1_score("b b c", ["b c c"]) == pytest.approx(2 / 3)


def test_unanswerable_scores_only_an_empty_prediction() -> None:
    assert exact_match("", []) == 1.0
    assert f1_score("", []) == 1.0
    assert exact_match("France", []) == 0.0
    assert f1_score("France", []) == 0.0


def test_quote_hit_uses_normalised_text_on_word_boundaries() -> None:
    quotes = ["Normandy is a region in France.", "The Normans were Norse."]
    assert quote_hit(quotes, ["france"], 1)
    assert quote_hit(quotes, ["the Norse"], 2)
    assert not quote_hit(quotes, ["the Norse"], 1)
    assert not quote_hit(quotes, ["Franc"], 5)
    assert not quote_hit([], ["France"], 5)


def _question(answers: tuple[str, ...]) -> Question:
    return Question(id="q", question="?", title="t", answers=answers)


def test_summarize_by_hand() -> None:
    questions = [_question(("France",)), _question(("1066", "in 1066")), _question(()), _question(())]
    outcomes = [
        Outcome(quotes=["x", "Normandy is in France."], answer="France", found=True, seconds=0.010),
        Outcome(quotes=["It happened in 1066."], answer="1066 AD", found=True, seconds=0.020),
        Outcome(quotes=[], answer="", found=False, seconds=0.030),
        Outcome(quotes=["Anything."], answer="", found=True, seconds=0.040),
    ]
    metrics = summarize(questions, outcomes)
    assert metrics.quote_hit_at_1 == 0.5
    assert metrics.quote_hit_at_5 == 1.0
    # EM: 1 + 0 + 1 (abstained) + 0 (answered an unanswerable) = 2 of 4
    assert metrics.exact_match == 50.0
    # F1: 1 + max(2/3 vs "1066", 2*(1/2*1)/(3/2)=2/3 vs "in 1066") + 1 + 0 = 2.6667 of 4
    assert metrics.f1 == pytest.approx(66.67)
    assert metrics.answered_rate == 1.0
    assert metrics.abstain_rate == 0.5
    assert metrics.latency_ms_p50 == pytest.approx(25.0)
    assert metrics.latency_ms_p95 == pytest.approx(38.5)


def test_abstaining_on_an_answerable_question_scores_zero_and_no_abstain_rate_without_unanswerables() -> None:
    metrics = summarize([_question(("France",))], [Outcome(quotes=[], answer="France", found=False, seconds=0.0)])
    assert (metrics.exact_match, metrics.f1, metrics.answered_rate) == (0.0, 0.0, 0.0)
    assert metrics.abstain_rate is None


def test_sample_is_reproducible_and_keeps_file_order() -> None:
    questions = [_question((str(index),)) for index in range(50)]
    first = sample(questions, 10, seed=3)
    assert first == sample(questions, 10, seed=3)
    assert first != sample(questions, 10, seed=4)
    assert [questions.index(item) for item in first] == sorted(questions.index(item) for item in first)
    assert sample(questions, None, seed=0) == questions


_SQUAD = {
    "version": "v2.0",
    "data": [
        {
            "title": "Normans",
            "paragraphs": [
                {
                    "context": "The Normans gave their name to Normandy, a region in France. "
                    "They descended from Norse raiders led by Rollo.",
                    "qas": [
                        {
                            "id": "1",
                            "question": "In what country is Normandy located?",
                            "answers": [{"text": "France", "answer_start": 53}],
                            "is_impossible": False,
                        },
                        {
                            "id": "2",
                            "question": "Who gave their name to Normandy in the 1000s?",
                            "answers": [],
                            "plausible_answers": [{"text": "Normans", "answer_start": 4}],
                            "is_impossible": True,
                        },
                    ],
                },
                {
                    "context": "William the Conqueror invaded England in 1066.",
                    "qas": [
                        {
                            "id": "3",
                            "question": "When did William invade England?",
                            "answers": [{"text": "1066", "answer_start": 41}],
                            "is_impossible": False,
                        }
                    ],
                },
            ],
        },
        {
            "title": "Volcanoes",
            "paragraphs": [
                {
                    "context": "Mount Etna is an active volcano on the island of Sicily.",
                    "qas": [
                        {
                            "id": "4",
                            "question": "On which island is Mount Etna?",
                            "answers": [{"text": "Sicily", "answer_start": 49}],
                        }
                    ],
                }
            ],
        },
    ],
}


def _write_squad(folder: Path) -> Path:
    path = folder / "tiny.json"
    path.write_text(json.dumps(_SQUAD), encoding="utf-8")
    return path


def test_load_squad_makes_one_article_per_title(tmp_path: Path) -> None:
    documents, questions = load_squad(_write_squad(tmp_path))
    assert [document.source for document in documents] == ["squad:Normans", "squad:Volcanoes"]
    assert "Rollo.\n\nWilliam" in documents[0].text
    assert [question.answerable for question in questions] == [True, False, True, True]
    assert questions[0].answers == ("France",)


def test_evaluate_end_to_end_with_the_hashing_embedder(tmp_path: Path) -> None:
    stages: list[str] = []
    report = evaluate(
        _write_squad(tmp_path),
        embedder=HashingEmbedder(),
        library=tmp_path / "library",
        progress=lambda stage, done, total: stages.append(stage),
    )
    dumped = report.model_dump(mode="json")
    assert set(dumped) == {
        "dataset",
        "questions",
        "answerable",
        "unanswerable",
        "split",
        "systems",
        "reader_f1_gold_sentence",
        "tradeoff",
    }
    assert dumped["split"] == "all"
    assert 0.0 <= dumped["reader_f1_gold_sentence"] <= 100.0
    assert (dumped["dataset"], dumped["questions"], dumped["answerable"], dumped["unanswerable"]) == (
        "tiny.json",
        4,
        3,
        1,
    )
    assert list(dumped["systems"]) == list(SYSTEMS)
    for metrics in dumped["systems"].values():
        assert set(metrics) == {
            "quote_hit_at_1",
            "quote_hit_at_5",
            "exact_match",
            "f1",
            "f1_answerable",
            "answered_rate",
            "abstain_rate",
            "latency_ms_p50",
            "latency_ms_p95",
        }
        assert metrics["quote_hit_at_5"] >= metrics["quote_hit_at_1"]
    # Four short sentences: every answer sentence is among the baselines' five quotes.
    assert dumped["systems"]["bm25"]["quote_hit_at_5"] == 1.0
    assert {"index", "ask"} <= set(stages)
    # A second run reuses the library.
    again = evaluate(_write_squad(tmp_path), embedder=HashingEmbedder(), library=tmp_path / "library", limit=2)
    assert again.questions == 2


def test_quotebot_outcome_is_exactly_what_library_ask_returns(tmp_path: Path) -> None:
    """The `quotebot` system is derived from one ask with no threshold: it must equal a plain `Library.ask`."""
    documents, questions = load_squad(_write_squad(tmp_path))
    with Library.open(tmp_path / "library", embedder=HashingEmbedder()) as library:
        library.add(documents)
        asked = [*(question.question for question in questions), "Who won the 2022 FIFA World Cup?"]
        found_by_guessing = 0
        for question in asked:
            outcomes = run_systems(library, question)
            answer = library.ask(question, k=QUOTES)
            assert outcomes["quotebot"].found == answer.found
            assert outcomes["quotebot"].quotes == [quote.text for quote in answer.quotes]
            guesses = outcomes["quotebot-no-threshold"]
            assert guesses.found  # every one of these questions names something, so a best guess is given
            assert guesses.quotes[: len(answer.quotes)] == [quote.text for quote in answer.quotes]
            found_by_guessing += not answer.found
        assert found_by_guessing >= 1  # at least the World Cup question is "not found" for users
