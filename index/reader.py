"""The reader: a cross-encoder that reads a question with a candidate sentence in its context and says whether
the sentence answers it, where the short answer is inside it, and how strongly it would rather say nothing.

One sequence per candidate, ``[CLS] question [SEP] candidate [SEP] previous sentence … next sentence [SEP]``:
the candidate comes right after the question and alone carries token type 1, which is how the model knows which
sentence it is judging while it still reads the neighbours (a sentence that opens with "Its" or "He" leans on the
one before). Outputs, in one ONNX run over a batch of candidates:

- ``answer``: a logit that the candidate holds the answer (trained listwise and pointwise, as the reranker was);
- ``start`` and ``end``: per-token logits of the short answer; position 0 (``[CLS]``) stands for "no answer in
  this sentence", SQuAD 2.0 style, and the no-answer score is ``start[0] + end[0]`` minus the best span's.

Spans are searched only among the candidate's own tokens and mapped back through the fast tokenizer's offsets,
so a short answer is always a verbatim slice of the candidate. The shipped model, ``index/reader_model/``, is
trained by ``scripts/train_reader.py`` (see there for data and seeds) and runs int8 under ONNX Runtime.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BUNDLED_READER",
    "Encoded",
    "OnnxReader",
    "Passage",
    "Reader",
    "Reading",
    "best_span",
    "encode",
    "load_reader",
]

BUNDLED_READER = Path(__file__).with_name("reader_model")
MAX_TOKENS = 128  # what the bundled reader was trained with
# What it reads with at run time: the neighbours are cut shorter, which costs little quality and ~15% of the
# reader's time (4 candidates: 82 ms at 128 tokens, 69 ms at 96 on the 2-core CPU).
READ_TOKENS = 96
QUESTION_TOKENS = 32
CANDIDATE_TOKENS = 72
ANSWER_TOKENS = 24  # the longest short answer looked for, in tokens


@dataclass(frozen=True, slots=True)
class Passage:
    """A candidate sentence and the sentences around it (either may be empty)."""

    candidate: str
    before: str = ""
    after: str = ""


@dataclass(frozen=True, slots=True)
class Encoded:
    """One sequence: token ids and types, and each candidate token's character span in the candidate."""

    ids: list[int]
    types: list[int]
    # token position -> (start, end) in the candidate's characters; only candidate tokens are here
    offsets: dict[int, tuple[int, int]]


@dataclass(frozen=True, slots=True)
class Reading:
    """What the reader says of one candidate: logits, and the short answer as offsets into the candidate."""

    answer: float
    span_score: float
    no_answer: float
    start: int
    end: int


class Reader(Protocol):
    """Reads one question against several passages in one batch."""

    def read(self, question: str, passages: Sequence[Passage]) -> list[Reading]: ...


def _pieces(tokenizer: Any, text: str, limit: int) -> tuple[list[int], list[tuple[int, int]]]:
    if not text or limit <= 0:
        return [], []
    encoding = tokenizer.encode(text, add_special_tokens=False)
    return list(encoding.ids[:limit]), [tuple(pair) for pair in encoding.offsets[:limit]]


def encode(tokenizer: Any, question: str, passage: Passage, *, max_tokens: int = MAX_TOKENS) -> Encoded:
    """The reader's input for one passage (`tokenizer` is a `tokenizers.Tokenizer` of a BERT vocabulary)."""
    classify, separator = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    question_ids, _ = _pieces(tokenizer, question, QUESTION_TOKENS)
    candidate_ids, candidate_offsets = _pieces(tokenizer, passage.candidate, CANDIDATE_TOKENS)
    room = max_tokens - len(question_ids) - len(candidate_ids) - 4
    # The sentence before matters more (antecedents): it gets two thirds of what is left, its end kept.
    before_ids, _ = _pieces(tokenizer, passage.before, 10_000)
    after_room = room - min(len(before_ids), (2 * room) // 3)
    after_ids, _ = _pieces(tokenizer, passage.after, max(after_room, 0))
    before_ids = before_ids[len(before_ids) - max(room - len(after_ids), 0) :] if before_ids else []
    context = [*before_ids, *after_ids]
    ids = [classify, *question_ids, separator, *candidate_ids, separator, *context, separator]
    first = len(question_ids) + 2
    types = [0] * first + [1] * (len(candidate_ids) + 1) + [0] * (len(context) + 1)
    offsets = {first + index: span for index, span in enumerate(candidate_offsets) if span[1] > span[0]}
    return Encoded(ids=ids, types=types, offsets=offsets)


def batch_arrays(items: Sequence[Encoded]) -> dict[str, NDArray[np.int64]]:
    """Padded int64 arrays for a batch (the names the exported model takes)."""
    width = max(len(item.ids) for item in items)
    ids = np.zeros((len(items), width), dtype=np.int64)
    types = np.zeros_like(ids)
    mask = np.zeros_like(ids)
    for row, item in enumerate(items):
        ids[row, : len(item.ids)] = item.ids
        types[row, : len(item.types)] = item.types
        mask[row, : len(item.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def best_span(
    start_logits: NDArray[np.float32], end_logits: NDArray[np.float32], offsets: dict[int, tuple[int, int]]
) -> tuple[float, int, int]:
    """(score, first token, last token) of the best span among the candidate's tokens, at most ANSWER_TOKENS."""
    positions = sorted(offsets)
    if not positions:
        return float("-inf"), 0, 0
    starts = np.array([start_logits[position] for position in positions], dtype=np.float64)
    ends = np.array([end_logits[position] for position in positions], dtype=np.float64)
    table = starts[:, None] + ends[None, :]
    count = len(positions)
    allowed = np.triu(np.ones((count, count), dtype=bool)) & ~np.triu(
        np.ones((count, count), dtype=bool), ANSWER_TOKENS
    )
    table = np.where(allowed, table, -np.inf)
    first, last = np.unravel_index(int(np.argmax(table)), table.shape)
    return float(table[first, last]), positions[int(first)], positions[int(last)]


class OnnxReader:
    """The reader exported to ONNX (outputs answer [batch], start and end [batch, tokens])."""

    def __init__(self, folder: Path, *, threads: int = 2, max_tokens: int = READ_TOKENS) -> None:
        self.folder = folder
        self._threads = threads
        self._max_tokens = max_tokens
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self.last_seconds = 0.0  # the latest read's time (tokenising and the ONNX run), for the benchmark

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                from tokenizers import Tokenizer

                from index.reranking import cpu_session

                self._tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
                self._tokenizer.no_truncation()
                self._tokenizer.no_padding()
                self._session = cpu_session(self.folder / "model.onnx", self._threads)
        return self._session, self._tokenizer

    def read(self, question: str, passages: Sequence[Passage]) -> list[Reading]:
        if not passages:
            return []
        session, tokenizer = self._load()
        began = time.perf_counter()
        items = [encode(tokenizer, question, passage, max_tokens=self._max_tokens) for passage in passages]
        answer, start, end = session.run(["answer", "start", "end"], batch_arrays(items))
        readings = []
        for row, item in enumerate(items):
            score, first, last = best_span(start[row], end[row], item.offsets)
            no_answer = float(start[row][0] + end[row][0])
            if first in item.offsets:
                begin, finish = item.offsets[first][0], item.offsets[last][1]
            else:
                begin = finish = 0
            readings.append(
                Reading(answer=float(answer[row]), span_score=score, no_answer=no_answer, start=begin, end=finish)
            )
        self.last_seconds = time.perf_counter() - began
        return readings


def load_reader(folder: Path | None = None) -> Reader:
    """The reader in `folder` (default: the bundled one), one per folder; its session loads on the first read."""
    return _cached_reader(Path(folder or BUNDLED_READER).resolve())


@lru_cache(maxsize=4)
def _cached_reader(folder: Path) -> Reader:
    return OnnxReader(folder)
