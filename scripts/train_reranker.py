"""Train quotebot's sentence reranker: a cross-encoder started from the bundled all-MiniLM-L6-v2, shipped int8 ONNX.

    python scripts/train_reranker.py ../shared/data/squadshifts/reddit.json \\
        ../shared/data/squadshifts/amazon-reviews.json --library-root /tmp/train-libs --output index/reranker

Train on SQuADShifts only (never on SQuAD v2.0 dev, which stays the test). For every file:

1. build a library of its articles (cached under --library-root; a few minutes the first time);
2. set aside the questions `scripts/train_scoring.py` fits the blend on (`sample(questions, --holdout, 0)`),
   and draw `--questions` of the other answerable ones (seed --seed);
3. ask each through `Library.rank` with the first-stage scorer only (no reranker) and keep its best `--depth`
   candidate sentences, which is exactly what the reranker sees when quotebot runs;
4. make one group per question: a positive (a candidate of the gold paragraph that holds a gold answer, else the
   gold paragraph's sentence around the answer span), `--hard` hard negatives drawn from the candidates that hold
   no gold answer, and `--in-paragraph` other sentences of the gold paragraph that hold none.

Candidates that hold a gold answer but come from another paragraph are neither positive nor negative. The model
(`AutoModelForSequenceClassification`, one logit, word embeddings frozen) learns with a listwise loss (softmax
over each group) plus a pointwise one (binary cross-entropy), so its logit orders one question's sentences and
also means something across questions (abstention). One epoch, AdamW, linear warm-up and decay. It is then
exported to ONNX and its MatMul and Gather (embedding) weights quantised to int8 per channel (about 23 MB), with
its tokenizer files, into --output.

Reproducible: the samples, the negatives, the order and the initialisation of the head come from fixed seeds
(--seed, torch.manual_seed); the same files, libraries, seed and thread count give the same model (floating-point
sums can differ in their last bits with another number of threads).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.answer import Scoring
from index.chunking import sentence_spans
from index.embedding import bundled_model_path
from index.evaluation import load_squad, quote_hit, sample
from index.library import Library

DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "index" / "reranker"


@dataclass(frozen=True, slots=True)
class Gold:
    context: str
    starts: tuple[int, ...]


@dataclass(slots=True)
class Group:
    question: str
    sentences: list[str]  # the positive first, then the negatives
    file: str


def gold_paragraphs(path: Path) -> dict[str, Gold]:
    """Question id -> its paragraph and the character offsets of its answers in it."""
    data = json.loads(path.read_text(encoding="utf-8"))
    golds: dict[str, Gold] = {}
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                starts = tuple(int(answer["answer_start"]) for answer in qa.get("answers", []))
                golds[str(qa["id"])] = Gold(paragraph["context"], starts)
    return golds


def _paragraph_sentences(gold: Gold) -> tuple[list[str], list[str]]:
    """(sentences around an answer span, the other sentences) of the gold paragraph."""
    holding: list[str] = []
    others: list[str] = []
    for start, stop in sentence_spans(gold.context):
        text = gold.context[start:stop]
        (holding if any(start <= offset < stop for offset in gold.starts) else others).append(text)
    return holding, others


def collect(
    path: Path,
    library_root: Path,
    *,
    questions: int,
    holdout: int,
    depth: int,
    hard: int,
    in_paragraph: int,
    seed: int,
) -> list[Group]:
    documents, every = load_squad(path)
    golds = gold_paragraphs(path)
    held = {question.id for question in sample(every, holdout, 0)}
    pool = [question for question in every if question.answerable and question.id not in held]
    chosen = sample(pool, questions, seed)
    rng = random.Random(f"{seed}:{path.name}")
    # The first stage only: what the shipped scorer ranks before any reranker.
    first_stage = Scoring(reranker=None)
    groups: list[Group] = []
    started = time.perf_counter()
    with Library.open(library_root / path.stem, scoring=first_stage) as library:
        library.add(documents)
        for position, question in enumerate(chosen):
            gold = golds[question.id]
            ranked = library.rank(question.question)[:depth]
            positives: list[str] = []
            negatives: list[str] = []
            for item in ranked:
                text = item.sentence.text
                if quote_hit([text], question.answers, 1):
                    if text in gold.context:
                        positives.append(text)
                else:
                    negatives.append(text)
            holding, others = _paragraph_sentences(gold)
            holding = [text for text in holding if quote_hit([text], question.answers, 1)]
            if not positives:
                positives = holding
            if not positives:
                continue
            negatives = list(dict.fromkeys(negatives))
            in_gold = [text for text in others if text not in negatives and not quote_hit([text], question.answers, 1)]
            chosen_negatives = rng.sample(negatives, min(hard, len(negatives)))
            chosen_negatives += rng.sample(in_gold, min(in_paragraph, len(in_gold)))
            if not chosen_negatives:
                continue
            groups.append(Group(question.question, [rng.choice(positives), *chosen_negatives], path.name))
            if position % 250 == 0:
                elapsed = time.perf_counter() - started
                print(f"{path.name}: {position}/{len(chosen)} questions, {elapsed:.0f} s", file=sys.stderr, flush=True)
    return groups


def train(groups: list[Group], output: Path, *, seed: int, batch_groups: int, max_length: int, rate: float) -> Any:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(seed)
    model_path = str(bundled_model_path())
    tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=1, local_files_only=True)
    # Frozen word embeddings: half the cost of a step on a CPU, and the vocabulary keeps the embedder's meaning.
    model.bert.embeddings.word_embeddings.requires_grad_(False)
    parameters = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=rate, weight_decay=0.01)
    order = list(range(len(groups)))
    random.Random(seed).shuffle(order)
    batches = [order[begin : begin + batch_groups] for begin in range(0, len(order), batch_groups)]
    warmup = max(1, len(batches) // 20)

    def factor(step: int) -> float:
        return min((step + 1) / warmup, max(0.0, (len(batches) - step) / max(1, len(batches) - warmup)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    pointwise = torch.nn.BCEWithLogitsLoss()
    model.train()
    started = time.perf_counter()
    running = 0.0
    for step, batch in enumerate(batches):
        pairs = [(groups[index].question, sentence) for index in batch for sentence in groups[index].sentences]
        encoded = tokenizer(
            [question for question, _ in pairs],
            [sentence for _, sentence in pairs],
            truncation=True,
            max_length=max_length,
            padding=True,
            return_tensors="pt",
        )
        logits = model(**encoded).logits.squeeze(-1)
        labels = torch.tensor(
            [float(position == 0) for index in batch for position in range(len(groups[index].sentences))]
        )
        listwise = torch.zeros(())
        offset = 0
        for index in batch:
            size = len(groups[index].sentences)
            listwise = listwise - torch.log_softmax(logits[offset : offset + size], dim=0)[0]
            offset += size
        loss = listwise / len(batch) + pointwise(logits, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
        if step % 25 == 0:
            elapsed = time.perf_counter() - started
            print(
                f"step {step}/{len(batches)} loss {running:.3f} {len(pairs) * (step + 1) / max(elapsed, 1e-9):.1f} "
                f"pairs/s, {elapsed:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    model.eval()
    return model, tokenizer


def export(model: Any, tokenizer: Any, output: Path, *, max_length: int) -> Path:
    """ONNX (logits of shape [batch, 1]), then int8 weights for MatMul and Gather, per channel; tokenizer files."""
    import warnings

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-untyped]

    output.mkdir(parents=True, exist_ok=True)
    work = output / "work"
    work.mkdir(exist_ok=True)
    full = work / "model-fp32.onnx"
    example = torch.ones(2, 16, dtype=torch.long)

    class Logits(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits

    axes = {name: {0: "batch", 1: "tokens"} for name in ("input_ids", "attention_mask", "token_type_ids")}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Logits(model),
            (example, example, torch.zeros_like(example)),
            str(full),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["logits"],
            dynamic_axes={**axes, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    target = output / "model.onnx"
    # Gather too: the fp32 word embeddings alone are 47 MB; int8 keeps the whole model near 23 MB.
    quantize_dynamic(
        full, target, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul", "Gather"]
    )
    shutil.rmtree(work)
    tokenizer.save_pretrained(output)
    for extra in ("tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        if not (output / extra).exists():
            shutil.copy(bundled_model_path() / extra, output / extra)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path, help="SQuAD-format training files (SQuADShifts)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--library-root", type=Path, default=Path("/tmp/train-libs"))
    parser.add_argument("--questions", type=int, default=1500, help="training questions drawn per file")
    parser.add_argument("--holdout", type=int, default=1000, help="questions per file left to train_scoring.py")
    parser.add_argument("--depth", type=int, default=12, help="first-stage candidates the reranker sees")
    parser.add_argument("--hard", type=int, default=4, help="hard negatives per question")
    parser.add_argument("--in-paragraph", type=int, default=1, help="gold-paragraph negatives per question")
    parser.add_argument("--batch-groups", type=int, default=5, help="questions per step (each 1 + negatives pairs)")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--rate", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", type=Path, help="a JSON file to keep (and reuse) the collected groups in")
    parser.add_argument("--save-torch", type=Path, help="also save the fp32 transformers model in this folder")
    arguments = parser.parse_args()

    import torch

    torch.set_num_threads(arguments.threads)
    random.seed(arguments.seed)
    if arguments.cache and arguments.cache.exists():
        groups = [Group(**row) for row in json.loads(arguments.cache.read_text(encoding="utf-8"))]
    else:
        groups = []
        for path in arguments.files:
            groups += collect(
                path,
                arguments.library_root,
                questions=arguments.questions,
                holdout=arguments.holdout,
                depth=arguments.depth,
                hard=arguments.hard,
                in_paragraph=arguments.in_paragraph,
                seed=arguments.seed,
            )
        if arguments.cache:
            rows = [{"question": g.question, "sentences": g.sentences, "file": g.file} for g in groups]
            arguments.cache.write_text(json.dumps(rows), encoding="utf-8")
    pairs = sum(len(group.sentences) for group in groups)
    print(f"{len(groups)} questions, {pairs} pairs", file=sys.stderr, flush=True)
    started = time.perf_counter()
    model, tokenizer = train(
        groups,
        arguments.output,
        seed=arguments.seed,
        batch_groups=arguments.batch_groups,
        max_length=arguments.max_length,
        rate=arguments.rate,
    )
    seconds = time.perf_counter() - started
    if arguments.save_torch:
        model.save_pretrained(arguments.save_torch)
        tokenizer.save_pretrained(arguments.save_torch)
    target = export(model, tokenizer, arguments.output, max_length=arguments.max_length)
    info = {
        "base": "sentence-transformers/all-MiniLM-L6-v2 (bundled)",
        "trained_on": [path.name for path in arguments.files],
        "questions": len(groups),
        "pairs": pairs,
        "max_length": arguments.max_length,
        "depth": arguments.depth,
        "seed": arguments.seed,
        "train_seconds": round(seconds),
        "quantization": "int8 per channel, MatMul and Gather (onnxruntime quantize_dynamic)",
    }
    (arguments.output / "training.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    megabytes = target.stat().st_size / 1e6
    print(f"trained in {seconds:.0f} s on {pairs} pairs -> {target} ({megabytes:.1f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
