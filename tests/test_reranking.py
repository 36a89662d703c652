"""Rerankers: the bundled int8 ONNX cross-encoder (index/reranker/), and any CrossEncoder on disk, here a tiny
model that the test builds and saves (no download)."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.answer import Scoring
from index.embedding import HashingEmbedder
from index.library import Library
from index.models import Document
from index.reranking import BUNDLED, BUNDLED_RERANKER, OnnxReranker, load_reranker

_WORDS = "the normans gave their name to normandy a region in france william invaded england 1066 where is what".split()


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    folder = tmp_path_factory.mktemp("tiny-cross-encoder")
    vocabulary = folder / "vocab.txt"
    vocabulary.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "?", *_WORDS]) + "\n")
    tokenizer = transformers.BertTokenizer(str(vocabulary))
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        num_labels=1,
    )
    transformers.BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_reranker_reorders_the_best_sentences(tiny_cross_encoder: Path, tmp_path: Path) -> None:
    text = "The Normans gave their name to Normandy. Normandy is a region in France. William invaded England in 1066."
    question = "Where is Normandy?"
    plain = Scoring(threshold=0.0, reranker=None)
    with Library.open(tmp_path / "plain", embedder=HashingEmbedder(), scoring=plain) as library:
        library.add([Document(text=text, source="normans.txt")])
        before = [item.sentence.text for item in library.rank(question)]
    # No blend: the reranker only reorders the head.
    reranked = Scoring(threshold=0.0, reranker=str(tiny_cross_encoder), rerank_blend={})
    with Library.open(tmp_path / "reranked", embedder=HashingEmbedder(), scoring=reranked) as library:
        library.add([Document(text=text, source="normans.txt")])
        after = [item.sentence.text for item in library.rank(question)]
        # The reranker is the first stage's second step; the reader (on by default) would reorder again.
        answer = library.ask(question, k=3, reader=False)
    scores = load_reranker(str(tiny_cross_encoder)).scores(question, before)
    assert sorted(after) == sorted(before)
    assert after == [sentence for _, sentence in sorted(zip(scores, before, strict=True), key=lambda pair: -pair[0])]
    assert [quote.text for quote in answer.quotes] == after
    for quote in answer.quotes:
        assert text[quote.start : quote.end] == quote.text


_TEXT = (
    "The Normans gave their name to Normandy. Normandy is a region in France. William invaded England in 1066. "
    "The weather in the region is mild. Many tourists visit the coast every summer."
)


def test_the_bundled_reranker_ships_small_and_is_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    model = BUNDLED_RERANKER / "model.onnx"
    assert model.is_file()
    assert model.stat().st_size < 30_000_000
    assert (BUNDLED_RERANKER / "tokenizer.json").is_file()
    monkeypatch.delenv("QUOTEBOT_RERANKER", raising=False)
    assert Scoring().reranker is None
    reranked = Scoring.reranked()
    assert reranked.reranker == BUNDLED
    assert reranked.rerank_blend
    assert reranked.weights != Scoring().weights
    assert Scoring.reranked(threshold=0.5).threshold == 0.5
    # The engine reads no environment: QUOTEBOT_RERANKER=bundled reaches it as Scoring.reranked() from the front
    # ends (tests/test_engine_settings.py), and Scoring()'s defaults stay the shipped first stage.
    monkeypatch.setenv("QUOTEBOT_RERANKER", "bundled")
    assert Scoring() != reranked and Scoring().reranker is None
    assert isinstance(load_reranker(BUNDLED), OnnxReranker)


def test_the_bundled_reranker_prefers_the_sentence_that_answers() -> None:
    reranker = load_reranker(BUNDLED)
    scores = reranker.scores(
        "When did William invade England?",
        ["The weather in the region is mild.", "William invaded England in 1066.", "Normandy is a region in France."],
    )
    assert len(scores) == 3
    assert max(range(3), key=scores.__getitem__) == 1
    assert reranker.scores("anything", []) == []
    # Long sentences are truncated, not refused.
    assert len(reranker.scores("Where?", ["word " * 1000])) == 1


def test_an_onnx_folder_is_loaded_as_an_onnx_reranker() -> None:
    assert isinstance(load_reranker(str(BUNDLED_RERANKER)), OnnxReranker)


def test_the_blend_rescores_the_head_and_keeps_scores_sorted_and_quotes_verbatim(tmp_path: Path) -> None:
    question = "When did William invade England?"
    blended = Scoring(threshold=0.0, reranker=BUNDLED, rerank_depth=3, rerank_blend={"reranker": 1.0})
    with Library.open(tmp_path / "blend", embedder=HashingEmbedder(), scoring=blended) as library:
        library.add([Document(text=_TEXT, source="normans.txt")])
        first = library.rank(question, rerank=False)
        ranked = library.rank(question)
        answer = library.ask(question, k=5)
    assert sorted(item.sentence.text for item in ranked) == sorted(item.sentence.text for item in first)
    head = [item.sentence.text for item in first[:3]]
    logits = load_reranker(BUNDLED).scores(question, head)
    assert [item.sentence.text for item in ranked[:3]] == [
        text for _, text in sorted(zip(logits, head, strict=True), key=lambda pair: -pair[0])
    ]
    assert [item.sentence.text for item in ranked[3:]] == [item.sentence.text for item in first[3:]]
    scores = [item.score for item in ranked]
    assert scores == sorted(scores, reverse=True)
    assert all("reranker" in item.features for item in ranked[:3])
    assert answer.found
    for quote in answer.quotes:
        assert _TEXT[quote.start : quote.end] == quote.text
