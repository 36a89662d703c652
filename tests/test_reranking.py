"""The optional CrossEncoder reranker, loaded from a tiny model that the test builds and saves (no download)."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.answer import Scoring
from index.embedding import HashingEmbedder
from index.library import Library
from index.models import Document
from index.reranking import load_reranker

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
    plain = Scoring(threshold=0.0)
    with Library.open(tmp_path / "plain", embedder=HashingEmbedder(), scoring=plain) as library:
        library.add([Document(text=text, source="normans.txt")])
        before = [item.sentence.text for item in library.rank(question)]
    reranked = Scoring(threshold=0.0, reranker=str(tiny_cross_encoder))
    with Library.open(tmp_path / "reranked", embedder=HashingEmbedder(), scoring=reranked) as library:
        library.add([Document(text=text, source="normans.txt")])
        after = [item.sentence.text for item in library.rank(question)]
        answer = library.ask(question, k=3)
    scores = load_reranker(str(tiny_cross_encoder)).scores(question, before)
    assert sorted(after) == sorted(before)
    assert after == [sentence for _, sentence in sorted(zip(scores, before, strict=True), key=lambda pair: -pair[0])]
    assert [quote.text for quote in answer.quotes] == after
    for quote in answer.quotes:
        assert text[quote.start : quote.end] == quote.text
