"""Rerankers: models that score (question, sentence) pairs and reorder the best candidate sentences.

quotebot ships one, `index/reranker/` (`Scoring.reranker == "bundled"`, opt-in: `Scoring.reranked()`, which
the front ends pass for ``QUOTEBOT_RERANKER=bundled``): a cross-encoder started from the bundled
all-MiniLM-L6-v2, trained on SQuADShifts by ``scripts/train_reranker.py``, exported to ONNX with int8 weights
(about 23 MB) and run by ONNX Runtime, so no torch at query time. A user with another cross-encoder on
disk can name its folder instead: a folder holding ``model.onnx`` and ``tokenizer.json`` runs the same way;
anything else is loaded as a sentence-transformers CrossEncoder with ``local_files_only=True``, so nothing is
ever fetched from a hub at run time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

__all__ = [
    "BUNDLED",
    "BUNDLED_RERANKER",
    "CrossEncoderReranker",
    "OnnxReranker",
    "Reranker",
    "cpu_session",
    "load_reranker",
]

BUNDLED = "bundled"
BUNDLED_RERANKER = Path(__file__).with_name("reranker")
MAX_TOKENS = 128  # what the bundled reranker was trained with


class Reranker(Protocol):
    """Scores (question, sentence) pairs; higher is more likely to answer."""

    def scores(self, question: str, sentences: Sequence[str]) -> list[float]: ...


def cpu_session(model: Path, threads: int, *, spinning: bool = True) -> Any:
    """An ONNX Runtime session on the CPU for a cross-encoder: `threads` intra-op threads, quiet logs."""
    import onnxruntime  # type: ignore[import-untyped]

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


class OnnxReranker:
    """A cross-encoder exported to ONNX (inputs input_ids, attention_mask, token_type_ids; one logit per pair)."""

    def __init__(self, folder: Path, *, threads: int = 2, max_tokens: int = MAX_TOKENS) -> None:
        self.folder = folder
        self._threads = threads
        self._max_tokens = max_tokens
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
                tokenizer.enable_truncation(self._max_tokens)
                tokenizer.enable_padding()
                # A handful of pairs (~35 tokens each) take ~4.7 ms a pair on one thread, ~3.5 ms on two.
                self._session = cpu_session(self.folder / "model.onnx", self._threads, spinning=False)
                self._tokenizer = tokenizer
            return self._session, self._tokenizer

    def scores(self, question: str, sentences: Sequence[str]) -> list[float]:
        if not sentences:
            return []
        session, tokenizer = self._load()
        encodings = tokenizer.encode_batch([(question, sentence) for sentence in sentences])
        feed = {
            "input_ids": np.array([encoding.ids for encoding in encodings], dtype=np.int64),
            "attention_mask": np.array([encoding.attention_mask for encoding in encodings], dtype=np.int64),
            "token_type_ids": np.array([encoding.type_ids for encoding in encodings], dtype=np.int64),
        }
        logits = session.run(None, feed)[0]
        return [float(value) for value in np.asarray(logits).reshape(len(sentences), -1)[:, 0]]


class CrossEncoderReranker:
    """A sentence-transformers CrossEncoder from a local path or an already-downloaded model name."""

    def __init__(self, name: str) -> None:
        from sentence_transformers import CrossEncoder

        self.name = name
        self._model: Any = CrossEncoder(name, local_files_only=True)
        # A CrossEncoder is not promised to be safe in several threads at once.
        self._lock = threading.Lock()

    def scores(self, question: str, sentences: Sequence[str]) -> list[float]:
        if not sentences:
            return []
        with self._lock:
            predicted = self._model.predict([(question, sentence) for sentence in sentences], show_progress_bar=False)
        return [float(value) for value in predicted]


@lru_cache(maxsize=4)
def load_reranker(name: str) -> Reranker:
    """The reranker `name` ("bundled", an ONNX folder, or a CrossEncoder path or name), loaded once per process."""
    if name == BUNDLED:
        return OnnxReranker(BUNDLED_RERANKER)
    folder = Path(name).expanduser()
    if (folder / "model.onnx").is_file() and (folder / "tokenizer.json").is_file():
        return OnnxReranker(folder)
    return CrossEncoderReranker(name)
