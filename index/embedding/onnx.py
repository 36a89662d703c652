"""The bundled MiniLM run by ONNX Runtime: int8 weights, no torch at query time.

The ONNX graph is exported once from the bundled weights (torch is needed for that one export, which takes a
few seconds) into the user's cache folder, mean pooling and L2 normalisation included, then its MatMul
weights are quantised to int8 per channel. Later processes load only onnxruntime and tokenizers (~0.3 s,
against ~3 s for torch and sentence-transformers), and encode about twice as fast on a CPU.
Vectors agree with the torch model's to cosine >= 0.98 (mean 0.99); see README.md, Performance.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from index.embedding.base import DEFAULT_EMBEDDER_NAME, DIMENSION, bundled_model_path

__all__ = ["MAX_TOKENS", "OnnxEmbedder", "Preparing", "default_cache_folder", "export_onnx"]

logger = logging.getLogger(__name__)

MAX_TOKENS = 256  # the model's max_seq_length: what sentence-transformers truncates to
EXPORT_VERSION = 1


def default_cache_folder() -> Path:
    """Where the exported model lives unless an OnnxEmbedder is given a `cache_folder`: the user cache folder."""
    from platformdirs import user_cache_path

    return user_cache_path("quotebot") / "models"


def _fingerprint(model_path: Path) -> str:
    weights = model_path / "model.safetensors"
    stat = weights.stat()
    return hashlib.sha256(f"{EXPORT_VERSION}:{stat.st_size}:{weights.name}".encode()).hexdigest()[:12]


Preparing = Callable[[str, int, int], None]
"""progress(step, done, total) of the one-time export: called as each step starts, and with done == total."""


def export_onnx(folder: Path, *, quantized: bool = True, progress: Preparing | None = None) -> Path:
    """Export the bundled model to `folder` (once; later calls return the existing file) and return its path."""
    from filelock import FileLock

    model_path = bundled_model_path()
    kind = "int8" if quantized else "fp32"
    target = folder / f"all-MiniLM-L6-v2-{kind}-{_fingerprint(model_path)}.onnx"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)

    def step(description: str, done: int, total: int) -> None:
        if progress is not None:
            progress(description, done, total)

    with FileLock(str(target) + ".lock"):
        if target.exists():
            return target
        full = folder / f"all-MiniLM-L6-v2-fp32-{_fingerprint(model_path)}.onnx"
        steps = (0 if full.exists() else 1) + (1 if quantized else 0)
        done = 0
        if not full.exists():
            step("exporting the bundled model to ONNX", done, steps)
            _export_fp32(model_path, full)
            done += 1
        if quantized:
            from onnxruntime.quantization import QuantType, quantize_dynamic  # type: ignore[import-untyped]

            step("quantising it to int8", done, steps)
            temporary = target.with_suffix(".tmp.onnx")
            # Per-channel int8 on the MatMuls only: per-tensor or quantised embeddings cost ~3 points of cosine.
            # quantize_dynamic logs advice about pre-processing on the root logger; it is for model authors.
            with _root_warnings_silenced():
                quantize_dynamic(
                    full, temporary, weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"]
                )
            temporary.replace(target)
        step("ready", steps, steps)
    return target


@contextmanager
def _root_warnings_silenced() -> Iterator[None]:
    """Records logged straight on the root logger (as onnxruntime.quantization does) are dropped meanwhile;
    a logger's filters see only its own records, so every named logger's still pass."""

    def not_on_root(record: logging.LogRecord) -> bool:
        return record.name != "root"

    root = logging.getLogger()
    root.addFilter(not_on_root)
    try:
        yield
    finally:
        root.removeFilter(not_on_root)


def _export_fp32(model_path: Path, target: Path) -> None:
    import torch
    import transformers
    from transformers import AutoModel

    logger.info("exporting %s to ONNX in %s (once)", DEFAULT_EMBEDDER_NAME, target.parent)
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    model = AutoModel.from_pretrained(str(model_path), local_files_only=True).eval()

    class Pooled(torch.nn.Module):
        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    example = torch.ones(2, 16, dtype=torch.long)
    temporary = target.with_suffix(".tmp.onnx")
    axes = {name: {0: "batch", 1: "tokens"} for name in ("input_ids", "attention_mask", "token_type_ids")}
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Pooled(model),
            (example, example, torch.zeros_like(example)),
            str(temporary),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["embedding"],
            dynamic_axes={**axes, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    temporary.replace(target)


class OnnxEmbedder:
    """all-MiniLM-L6-v2 through ONNX Runtime on the CPU, int8 by default; the same name and space as the torch one."""

    def __init__(
        self,
        *,
        quantized: bool = True,
        threads: int | None = None,
        batch_size: int = 32,
        cache_folder: Path | None = None,
        preparing: Preparing | None = None,
    ) -> None:
        self.quantized = quantized
        self._preparing = preparing
        self._threads = threads
        self._batch_size = batch_size
        self._cache_folder = cache_folder
        self._session: Any = None
        self._batch_session: Any = None
        self._tokenizer: Any = None
        self._path: Path | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return DEFAULT_EMBEDDER_NAME

    @property
    def dimension(self) -> int:
        return DIMENSION

    @property
    def description(self) -> str:
        return f"onnxruntime {'int8' if self.quantized else 'fp32'} (CPU)"

    @property
    def cache_folder(self) -> Path:
        """Where the one-time export is kept (and looked for)."""
        return self._cache_folder or default_cache_folder()

    def prepare(self) -> None:
        """Export (the first time on this machine) and load the model now, rather than on the first encode."""
        self._load(batch=False)

    def _load(self, *, batch: bool) -> tuple[Any, Any]:
        """(session, tokenizer): one thread for single questions, all cores for batches."""
        with self._lock:
            if self._tokenizer is None:
                from tokenizers import Tokenizer

                self._path = export_onnx(self.cache_folder, quantized=self.quantized, progress=self._preparing)
                tokenizer = Tokenizer.from_file(str(bundled_model_path() / "tokenizer.json"))
                tokenizer.enable_truncation(MAX_TOKENS)
                tokenizer.enable_padding()
                self._tokenizer = tokenizer
            if batch:
                if self._batch_session is None:
                    self._batch_session = self._session_with(self._threads or (os.cpu_count() or 1))
                return self._batch_session, self._tokenizer
            if self._session is None:
                # A single question is ~2 ms on one thread; more threads only add hand-over costs.
                self._session = self._session_with(1)
            return self._session, self._tokenizer

    def _session_with(self, threads: int) -> Any:
        import onnxruntime  # type: ignore[import-untyped]

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Spinning threads steal the cores that other processes (and other askers) need on a small machine.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        return onnxruntime.InferenceSession(str(self._path), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        session, tokenizer = self._load(batch=len(texts) > 1)
        result = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Batches of similar length waste no work on padding.
        order = np.argsort([len(text) for text in texts], kind="stable")
        for begin in range(0, len(texts), self._batch_size):
            rows = order[begin : begin + self._batch_size]
            encodings = tokenizer.encode_batch([texts[row] for row in rows])
            ids = np.array([encoding.ids for encoding in encodings], dtype=np.int64)
            mask = np.array([encoding.attention_mask for encoding in encodings], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            result[rows] = session.run(None, feed)[0]
        return result
