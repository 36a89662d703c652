"""`quotebot bench`: ingest throughput, query latency, ANN recall, memory and cold start, each beside its reference.

Libraries of the requested sizes (in chunks) are built from real text: the SQuAD v2.0 dev contexts and the
Wikinews articles go in first, as they are; past their ~2,000 chunks, new articles are made of their sentences
drawn at random (seeded) and joined, ~12 to an article, until the size is reached. So every vector is
a real MiniLM vector of real sentences, and every SQuAD question has its paragraph in every library that is
larger than the real text.

Encoding is the slow part: the real model encodes each distinct sentence of the pool once (~8,000
sentences) and a recombined article takes its sentences' vectors from that cache. Throughput is therefore
measured in parts, all in this run: the encoder on a sample of real chunks (our encoder on their sentences,
and the reference, plain `SentenceTransformer.encode` with torch, on the chunk texts), and our own work
(chunking, SQLite, FAISS) on the whole library. Ingest throughput = 1 / (encode time + own time) per chunk.

Each size runs in a fresh process, so its peak RSS is its own. Nothing here is imported by `add` or `ask`.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from index.models import Document

__all__ = ["BenchmarkReport", "SizeReport", "format_report", "run_benchmark"]

logger = logging.getLogger(__name__)

DEFAULT_SIZES = [100, 10_000, 100_000]
LARGE_SIZE = 1_000_000
FULL_LIMIT = 200_000
SENTENCES_PER_ARTICLE = 12
ENCODE_SAMPLE_CHUNKS = 256
TARGETS = {
    "ingest_ratio_to_raw_encode": ">= 0.9",
    "ask_ms_p50": "<= 30 at 100,000; <= 50 at 1,000,000",
    "ask_ms_p95": "<= 80 at 100,000",
    "ann_recall_at_10": ">= 0.95",
    "cold_start_s": "<= 3",
    "peak_rss_mb": "< 2,500 at 1,000,000",
    "encode_speedup": ">= 1.5",
}


class EncodeReport(BaseModel):
    """Encoder throughput on the same real chunks: ours (sentences, as ingest does) against plain torch."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    encoder: str
    sample_chunks: int
    sample_tokens: int
    raw_encode_chunks_per_s: float
    raw_encode_tokens_per_s: float
    our_encode_chunks_per_s: float
    encode_speedup: float
    raw_query_ms: float
    our_query_ms: float
    cosine_mean: float
    cosine_min: float


class SizeReport(BaseModel):
    """One library size on one backend. On PostgreSQL `sqlite_s` is the database's whole write (rows, full-text
    and HNSW index in one transaction per batch) and `faiss_s` is 0; `peak_rss_mb` is the client's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: str = "local"
    chunks: int
    articles: int
    vectors: str
    index_type: str
    ingest_chunks_per_s: float
    ingest_tokens_per_s: float
    raw_encode_chunks_per_s: float
    ingest_ratio_to_raw_encode: float
    ingest_ratio_to_own_encode: float
    own_chunks_per_s: float
    measured_add_chunks_per_s: float
    chunking_s: float
    sqlite_s: float
    faiss_s: float
    add_one_article_s: float
    remove_one_article_s: float
    questions: int
    ask_ms_p50: float
    ask_ms_p95: float
    ask_ms_p99: float
    encode_ms_p50: float
    dense_ms_p50: float
    lexical_ms_p50: float
    quotes_ms_p50: float
    reader_ms_p50: float
    exact_ask_ms_p50: float
    exact_ask_ms_p95: float
    exact_dense_ms_p50: float
    ann_recall_at_10: float
    peak_rss_mb: float
    disk_bytes_per_chunk: float


class VectorSizeReport(BaseModel):
    """The vector index alone at a size too big to ingest through SQLite in a benchmark run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    chunks: int
    vectors: str
    index_type: str
    build_s: float
    dense_ms_p50: float
    dense_ms_p95: float
    exact_dense_ms_p50: float
    ann_recall_at_10: float
    add_one_article_s: float
    remove_one_article_s: float
    save_delta_s: float
    peak_rss_mb: float
    build_matrix_mb: float
    serving_rss_mb: float
    index_rss_mb: float
    index_bytes_per_chunk: float


class BenchmarkReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    machine: str
    load_average: float
    encoder: str
    cold_start_s: float
    cold_start_torch_s: float | None
    encode: EncodeReport
    sizes: list[SizeReport]
    vector_sizes: list[VectorSizeReport]
    targets: dict[str, str]
    notes: list[str]


# The corpus


def load_corpus(data: Path) -> tuple[list[Document], list[str]]:
    """Real documents (SQuAD contexts, Wikinews articles) and the answerable SQuAD questions, in file order."""
    squad = json.loads((data / "squad-v2.0-dev.json").read_text(encoding="utf-8"))
    documents: list[Document] = []
    questions: list[str] = []
    for article in squad["data"]:
        for number, paragraph in enumerate(article["paragraphs"]):
            documents.append(
                Document(
                    text=paragraph["context"],
                    source=f"squad:{article['title']}#{number}",
                    title=article["title"].replace("_", " "),
                )
            )
            questions.extend(qa["question"] for qa in paragraph["qas"] if not qa.get("is_impossible"))
    news = data / "wikinews" / "articles.jsonl"
    if news.exists():
        for line in news.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                documents.append(
                    Document(text=record["text"], source=f"wikinews:{record['id']}", title=record["title"])
                )
    return documents, questions


def sentence_pool(documents: Sequence[Document]) -> list[str]:
    from index.chunking import sentence_spans

    pool: dict[str, None] = {}
    for document in documents:
        for start, stop in sentence_spans(document.text):
            pool[document.text[start:stop]] = None
    return list(pool)


def build_documents(size: int, real: Sequence[Document], pool: Sequence[str]) -> list[Document]:
    """Documents that chunk to about `size` chunks: real ones first, then recombined sentences."""
    from index.chunking import chunk_spans, sentence_spans

    documents: list[Document] = []
    total = 0
    for document in real:
        if total >= size:
            return documents
        documents.append(document)
        total += len(chunk_spans(sentence_spans(document.text)))
    generator = random.Random(size)
    number = 0
    while total < size:
        picked = [pool[generator.randrange(len(pool))] for _ in range(SENTENCES_PER_ARTICLE)]
        text = " ".join(picked)
        # Chunks of the joined spans: what Library.add will make (the splitter sees the same sentences).
        spans: list[tuple[int, int]] = []
        offset = 0
        for sentence in picked:
            spans.append((offset, offset + len(sentence)))
            offset += len(sentence) + 1
        total += len(chunk_spans(spans))
        documents.append(Document(text=text, source=f"mix:{size}:{number}", title=f"Recombined {number}"))
        number += 1
    return documents


# Instrumented parts: real implementations of our interfaces that keep time.


class CachedEmbedder:
    """Sentence vectors from a cache of the pool (real model vectors); anything else through the real model."""

    def __init__(self, inner: Any, cache: dict[str, NDArray[np.float32]]) -> None:
        self._inner = inner
        self._cache = cache
        self.seconds = 0.0
        self.last_seconds = 0.0

    @property
    def name(self) -> str:
        return str(self._inner.name)

    @property
    def dimension(self) -> int:
        return int(self._inner.dimension)

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        began = time.perf_counter()
        missing = [text for text in dict.fromkeys(texts) if text not in self._cache]
        if len(texts) == 1 and missing:
            # A question: always through the model (its own single-text path), never the cache.
            uncached = getattr(self._inner, "_encode", self._inner.encode)
            result: NDArray[np.float32] = uncached(list(texts))
        else:
            if missing:
                self._cache.update(zip(missing, self._inner.encode(missing), strict=True))
            result = np.stack([self._cache[text] for text in texts]).astype(np.float32)
        self.last_seconds = time.perf_counter() - began
        self.seconds += self.last_seconds
        return result


def _timed_index(dimension: int) -> Any:
    from index.vectors import VectorIndex

    class TimedVectorIndex(VectorIndex):
        """The real index, keeping time of writes and of the last search."""

        write_seconds = 0.0
        last_search_seconds = 0.0

        def add(self, ids: NDArray[np.int64], vectors: NDArray[np.float32], *, grow: bool = True) -> None:
            began = time.perf_counter()
            super().add(ids, vectors, grow=grow)
            self.write_seconds += time.perf_counter() - began

        def grow(self) -> bool:
            began = time.perf_counter()
            grown = super().grow()
            self.write_seconds += time.perf_counter() - began
            return grown

        def prepare_base(self, folder: Path) -> None:
            began = time.perf_counter()
            super().prepare_base(folder)
            self.write_seconds += time.perf_counter() - began

        def remove(self, ids: NDArray[np.int64]) -> None:
            began = time.perf_counter()
            super().remove(ids)
            self.write_seconds += time.perf_counter() - began

        def save(self, folder: Path) -> None:
            began = time.perf_counter()
            super().save(folder)
            self.write_seconds += time.perf_counter() - began

        def search(self, query: NDArray[np.float32], k: int) -> list[tuple[int, float]]:
            began = time.perf_counter()
            hits = super().search(query, k)
            self.last_search_seconds = time.perf_counter() - began
            return hits

    return TimedVectorIndex(dimension)


class TimedBackend:
    """A backend (our Protocol) that keeps time of its writes and of its last dense and lexical searches."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.write_seconds = 0.0
        self.last_dense_seconds = 0.0
        self.last_lexical_seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def store(self, articles: Sequence[Any]) -> int:
        began = time.perf_counter()
        stored = int(self._inner.store(articles))
        self.write_seconds += time.perf_counter() - began
        return stored

    def dense(self, query: NDArray[np.float32], k: int, *, scope: Any = None) -> list[tuple[int, float]]:
        began = time.perf_counter()
        hits: list[tuple[int, float]] = self._inner.dense(query, k, scope=scope)
        self.last_dense_seconds = time.perf_counter() - began
        return hits

    def lexical(self, terms: Sequence[str], k: int, *, scope: Any = None) -> list[tuple[int, float]]:
        began = time.perf_counter()
        hits: list[tuple[int, float]] = self._inner.lexical(terms, k, scope=scope)
        self.last_lexical_seconds = time.perf_counter() - began
        return hits


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the parent at exec)."""
    return _status_mb("VmHWM")


def rss_mb() -> float:
    return _status_mb("VmRSS")


def _status_mb(field: str) -> float:
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentile(values: Sequence[float], share: float) -> float:
    return float(np.percentile(np.array(values, dtype=np.float64), share * 100)) if values else 0.0


def _token_count(texts: Sequence[str]) -> int:
    from tokenizers import Tokenizer

    from index.embedding import bundled_model_path

    tokenizer = Tokenizer.from_file(str(bundled_model_path() / "tokenizer.json"))
    tokenizer.enable_truncation(256)
    return sum(len(encoding.ids) for encoding in tokenizer.encode_batch(list(texts)))


def _make_encoder(encoder: str) -> Any:
    from index.embedding import SentenceTransformerEmbedder, default_embedder

    if encoder == "torch":
        return SentenceTransformerEmbedder(device="cpu")
    if encoder == "hashing":
        from index.embedding import HashingEmbedder

        return HashingEmbedder(dimension=384)
    return default_embedder("cpu")


# One size, in its own process


def _size_setup(size: int, *, data: Path, work: Path, encoder: str) -> tuple[list[Document], CachedEmbedder, float]:
    """The documents of a library of `size` chunks, an embedder over the pool's cached vectors, and the seconds
    that splitting them into sentences and chunks takes."""
    from index.chunking import chunk_spans, sentence_spans

    real, _ = load_corpus(data)
    pool = sentence_pool(real)
    matrix = np.load(work / f"pool-{encoder}.npy")
    documents = build_documents(size, real, pool)
    embedder = CachedEmbedder(_make_encoder(encoder), dict(zip(pool, matrix, strict=True)))
    began = time.perf_counter()
    for document in documents:
        chunk_spans(sentence_spans(document.text))
    return documents, embedder, time.perf_counter() - began


def _questions_in(documents: Sequence[Document], *, data: Path, questions: int) -> list[str]:
    """Up to `questions` SQuAD questions (seeded) whose paragraph is among `documents` (all, past the real text)."""
    sources = {document.source for document in documents}
    in_library = [question for document, question in _question_paragraphs(data) if document in sources]
    return random.Random(0).sample(in_library, min(questions, len(in_library)))


class _Ingest(NamedTuple):
    """The timings of building a library: all documents but one, then the last one in and out again."""

    chunks: int  # in the library at the end
    added_chunks: int  # by the timed add
    add_s: float
    encode_s: float
    add_one_s: float
    remove_one_s: float


def _ingest(library: Any, documents: Sequence[Document], embedder: CachedEmbedder) -> _Ingest:
    """Add `documents` but the last (timed), then the last one into the full library and out again (incremental,
    no rebuild), and in once more; the chunks the library then holds."""
    extra, held_back = documents[:-1], documents[-1]
    began = time.perf_counter()
    chunks = library.add(extra).chunks
    add_s = time.perf_counter() - began
    encode_s = embedder.seconds
    began = time.perf_counter()
    one = library.add([held_back])
    add_one_s = time.perf_counter() - began - (embedder.seconds - encode_s)
    began = time.perf_counter()
    library.remove(one.added)
    remove_one_s = time.perf_counter() - began
    library.add([held_back])
    return _Ingest(chunks + one.chunks, chunks, add_s, encode_s, add_one_s, remove_one_s)


class _Asks(NamedTuple):
    """Milliseconds per question: the whole `ask` and its parts."""

    totals: list[float]
    encodes: list[float]
    denses: list[float]
    lexicals: list[float]
    quotes: list[float]
    readings: list[float]


def _ask_all(
    library: Any,
    questions: Sequence[str],
    embedder: CachedEmbedder,
    reader: Any,
    searches: Callable[[str], tuple[float, float]],
) -> _Asks:
    """Ask every question; `searches(question)` gives the seconds of its dense and its lexical search."""
    asks = _Asks([], [], [], [], [], [])
    for question in questions:
        began = time.perf_counter()
        library.ask(question)
        total = time.perf_counter() - began
        reading_s = getattr(reader, "last_seconds", 0.0) if library.scoring.reader else 0.0
        dense_s, lexical_s = searches(question)
        parts = (embedder.last_seconds, dense_s, lexical_s, reading_s)
        for figures, seconds in zip((asks.encodes, asks.denses, asks.lexicals, asks.readings), parts, strict=True):
            figures.append(seconds * 1000)
        asks.totals.append(total * 1000)
        asks.quotes.append(max(total - sum(parts), 0.0) * 1000)
    return asks


def _size_report(
    *,
    backend: str,
    index_type: str,
    articles: int,
    encoder: str,
    ingest: _Ingest,
    chunking_s: float,
    store_s: float,
    faiss_s: float,
    encode_chunks_per_s: float,
    encode_tokens_per_chunk: float,
    raw_chunks_per_s: float,
    questions: int,
    asks: _Asks,
    exact: _Asks,
    recall: float,
    peak_rss: float,
    disk_bytes: int,
) -> SizeReport:
    """The report of one size: ingest throughput from the measured parts, latency percentiles of `asks` (and of
    `exact`, asked with exact search)."""
    added = ingest.added_chunks
    own_per_chunk = (ingest.add_s - ingest.encode_s) / max(added, 1)
    encode_per_chunk = 1.0 / encode_chunks_per_s
    ingest_per_s = 1.0 / (encode_per_chunk + own_per_chunk)
    return SizeReport(
        backend=backend,
        chunks=ingest.chunks,
        articles=articles,
        vectors="real model (cached per sentence)" if encoder != "hashing" else "HashingEmbedder (not the real model)",
        index_type=index_type,
        ingest_chunks_per_s=round(ingest_per_s, 1),
        ingest_tokens_per_s=round(ingest_per_s * encode_tokens_per_chunk, 0),
        raw_encode_chunks_per_s=round(raw_chunks_per_s, 1),
        ingest_ratio_to_raw_encode=round(ingest_per_s / raw_chunks_per_s, 3),
        ingest_ratio_to_own_encode=round(ingest_per_s * encode_per_chunk, 3),
        own_chunks_per_s=round(1.0 / own_per_chunk, 1),
        measured_add_chunks_per_s=round(added / ingest.add_s, 1),
        chunking_s=round(chunking_s, 3),
        sqlite_s=round(store_s, 3),
        faiss_s=round(faiss_s, 3),
        add_one_article_s=round(ingest.add_one_s, 4),
        remove_one_article_s=round(ingest.remove_one_s, 4),
        questions=questions,
        ask_ms_p50=round(_percentile(asks.totals, 0.5), 2),
        ask_ms_p95=round(_percentile(asks.totals, 0.95), 2),
        ask_ms_p99=round(_percentile(asks.totals, 0.99), 2),
        encode_ms_p50=round(_percentile(asks.encodes, 0.5), 2),
        dense_ms_p50=round(_percentile(asks.denses, 0.5), 3),
        lexical_ms_p50=round(_percentile(asks.lexicals, 0.5), 2),
        quotes_ms_p50=round(_percentile(asks.quotes, 0.5), 2),
        reader_ms_p50=round(_percentile(asks.readings, 0.5), 2),
        exact_ask_ms_p50=round(_percentile(exact.totals, 0.5), 2),
        exact_ask_ms_p95=round(_percentile(exact.totals, 0.95), 2),
        exact_dense_ms_p50=round(_percentile(exact.denses, 0.5), 3),
        ann_recall_at_10=round(recall, 4),
        peak_rss_mb=round(peak_rss, 1),
        disk_bytes_per_chunk=round(disk_bytes / max(added, 1), 1),
    )


def measure_size(
    size: int,
    *,
    data: Path,
    work: Path,
    encoder: str,
    questions: int,
    encode_chunks_per_s: float,
    encode_tokens_per_chunk: float,
    raw_chunks_per_s: float,
) -> SizeReport:
    """Build a library of `size` chunks, time its parts, ask, and measure recall, memory and disk."""
    from index import lexical
    from index.backends.local import LocalBackend
    from index.library import Library
    from index.reader import load_reader

    documents, embedder, chunking_s = _size_setup(size, data=data, work=work, encoder=encoder)

    folder = work / f"library-{size}"
    shutil.rmtree(folder, ignore_errors=True)
    library = Library.open(folder, embedder=embedder)
    backend = library.backend
    assert isinstance(backend, LocalBackend)
    timed = _timed_index(embedder.dimension)
    backend.vectors = timed  # the benchmark's own window into the index: same class, with timers
    ingest = _ingest(library, documents, embedder)
    faiss_s = timed.write_seconds
    sqlite_s = max(ingest.add_s - chunking_s - ingest.encode_s - faiss_s, 0.0)

    chosen = _questions_in(documents, data=data, questions=questions)
    reader = load_reader()

    def searches(question: str) -> tuple[float, float]:
        # FTS5 is timed again alone; FAISS's last search was the question's.
        began = time.perf_counter()
        backend.lexical(lexical.question_terms(question), 40)
        searched: Any = backend.vectors  # a timed index: the one measured, or the exact one after it
        return searched.last_search_seconds, time.perf_counter() - began

    library.ask(chosen[0])  # first-use costs (marker, caches) are cold start's, not latency's
    asks = _ask_all(library, chosen, embedder, reader, searches)
    index_type = timed.index_type
    # Before the recall check, which holds every vector twice over.
    peak_rss = peak_rss_mb()

    ids, stored = backend.database.all_chunk_vectors()
    query_vectors = np.stack([embedder.encode([question])[0] for question in chosen]).astype(np.float32)
    _, ann_ids = timed.search_many(query_vectors, 10)
    recall = recall_at_10(query_vectors, ids, stored, ann_ids)

    exact_asks = asks
    if timed.kind != "flat":
        exact = _timed_index(embedder.dimension)
        exact.rebuild(ids, stored, generation=backend.database.generation(), kind="flat")
        backend.vectors = exact
        exact_asks = _ask_all(library, chosen, embedder, reader, searches)
    del stored
    library.close()
    return _size_report(
        backend="local",
        index_type=index_type,
        articles=len(documents),
        encoder=encoder,
        ingest=ingest,
        chunking_s=chunking_s,
        store_s=sqlite_s,
        faiss_s=faiss_s,
        encode_chunks_per_s=encode_chunks_per_s,
        encode_tokens_per_chunk=encode_tokens_per_chunk,
        raw_chunks_per_s=raw_chunks_per_s,
        questions=len(chosen),
        asks=asks,
        exact=exact_asks,
        recall=recall,
        peak_rss=peak_rss,
        disk_bytes=sum(path.stat().st_size for path in folder.iterdir() if path.is_file()),
    )


def cpu_details(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, set[str]]:
    """The first CPU's model name and flags ("", empty where the system does not say)."""
    model, flags = "", set[str]()
    try:
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name" and not model:
                model = value.strip()
            elif name.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return model, flags


INT8_INSTRUCTIONS = (("avx512_vnni", "AVX-512 VNNI"), ("avx_vnni", "AVX-VNNI"), ("avx2", "AVX2"))


def int8_instructions(flags: set[str]) -> str | None:
    """The widest int8 instructions among `flags`: VNNI (int8 dot products), else AVX2, else None."""
    return next((label for flag, label in INT8_INSTRUCTIONS if flag in flags), None)


def machine_description(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """CPUs, model and the widest int8 instructions: the int8 models' speed depends on them more than on clocks."""
    model, flags = cpu_details(cpuinfo)
    details = ", ".join(part for part in (model, int8_instructions(flags)) if part)
    return f"{os.cpu_count()} CPUs" + (f" ({details})" if details else "") + f", {sys.platform}"


def bench_database_url(url: str, size: int) -> str:
    """A fresh database `<name>_bench_<size>` beside the one `url` names (the benchmark's own: dropped first
    when it exists); its URL, with `url`'s parameters. A negative `size` only checks that the server answers and
    lets its user create databases."""
    import psycopg
    from psycopg import sql

    from index.backends.postgres.connection import (
        INDEX_PARAMETER,
        password_of,
        redacted,
        translated_errors,
        without_index_parameter,
    )
    from index.errors import LibraryError

    plain, index_kind = without_index_parameter(url)
    parts = urlsplit(plain)
    name = f"{parts.path.lstrip('/') or 'quotebot'}_bench_{size}"
    # A refused login or a missing server or database: one typed line, no password in it.
    with (
        translated_errors(location=redacted(plain), password=password_of(plain)),
        psycopg.connect(plain, autocommit=True, connect_timeout=10) as connection,
    ):
        row = connection.execute("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
        if not (row and row[0]):
            raise LibraryError(
                f"the user of {redacted(plain)!r} may not create databases, and the benchmark makes one per size; "
                "use a user with CREATEDB (ALTER ROLE name CREATEDB)"
            )
        if size < 0:
            return plain
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    made = urlunsplit(parts._replace(path="/" + name))
    if index_kind is None:
        return made
    return f"{made}{'&' if parts.query else '?'}{INDEX_PARAMETER}={index_kind}"


def measure_postgres_size(
    size: int,
    *,
    url: str,
    data: Path,
    work: Path,
    encoder: str,
    questions: int,
    encode_chunks_per_s: float,
    encode_tokens_per_chunk: float,
    raw_chunks_per_s: float,
) -> SizeReport:
    """`measure_size` for a library in a fresh PostgreSQL database on the server of `url`: the same documents,
    questions and reader; dense and lexical timed inside `ask` through `TimedBackend`, and exact search measured
    by asking again after the HNSW index is dropped."""
    import psycopg
    from pgvector.psycopg import register_vector

    from index.backends.postgres import PostgresBackend
    from index.backends.postgres.connection import without_index_parameter
    from index.backends.postgres.retrieval import as_array
    from index.library import Library
    from index.reader import load_reader

    documents, embedder, chunking_s = _size_setup(size, data=data, work=work, encoder=encoder)
    database = bench_database_url(url, size)
    backend = TimedBackend(PostgresBackend(database, embedder=embedder.name, dimension=embedder.dimension))
    library = Library(backend, embedder)
    ingest = _ingest(library, documents, embedder)
    store_s = backend.write_seconds

    chosen = _questions_in(documents, data=data, questions=questions)
    reader = load_reader()

    def searches(_: str) -> tuple[float, float]:
        return backend.last_dense_seconds, backend.last_lexical_seconds

    library.ask(chosen[0])  # first-use costs are cold start's, not latency's
    asks = _ask_all(library, chosen, embedder, reader, searches)
    peak_rss = peak_rss_mb()
    stats = backend.stats()

    query_vectors = np.stack([embedder.encode([question])[0] for question in chosen]).astype(np.float32)
    ann_ids = np.array(
        [[chunk for chunk, _ in backend.dense(query, 10)] + [-1] * 10 for query in query_vectors], dtype=np.int64
    )[:, :10]
    with psycopg.connect(without_index_parameter(database)[0], autocommit=True) as connection:
        register_vector(connection)
        rows = connection.execute("SELECT id, vector FROM chunks ORDER BY id", binary=True).fetchall()
        ids = np.array([int(row[0]) for row in rows], dtype=np.int64)
        stored = np.stack([as_array(row[1]) for row in rows])
        del rows
        connection.execute("DROP INDEX IF EXISTS chunks_by_vector")
    recall = recall_at_10(query_vectors, ids, stored, ann_ids)
    del stored
    exact_asks = _ask_all(library, chosen, embedder, reader, searches)
    library.close()
    return _size_report(
        backend="postgresql",
        index_type=f"PostgreSQL {stats.index_type}",
        articles=len(documents),
        encoder=encoder,
        ingest=ingest,
        chunking_s=chunking_s,
        store_s=store_s,
        faiss_s=0.0,
        encode_chunks_per_s=encode_chunks_per_s,
        encode_tokens_per_chunk=encode_tokens_per_chunk,
        raw_chunks_per_s=raw_chunks_per_s,
        questions=len(chosen),
        asks=asks,
        exact=exact_asks,
        recall=recall,
        peak_rss=peak_rss,
        disk_bytes=stats.database_bytes,
    )


def measure_vectors(size: int, *, data: Path, work: Path, encoder: str, questions: int) -> VectorSizeReport:
    """The vector index over `size` chunk vectors made like ingest makes them (means of real sentence vectors)."""
    from index.vectors import VectorIndex

    real, all_questions = load_corpus(data)
    pool_matrix = np.load(work / f"pool-{encoder}.npy").astype(np.float32)
    generator = np.random.default_rng(size)
    # A chunk of 1-5 sentences, as the chunker makes them from ~500 characters.
    vectors = np.empty((size, pool_matrix.shape[1]), dtype=np.float32)
    for start in range(0, size, 100_000):
        count = min(100_000, size - start)
        members = generator.integers(1, 6, count)
        sums = np.zeros((count, pool_matrix.shape[1]), dtype=np.float32)
        for slot in range(5):
            picked = pool_matrix[generator.integers(0, len(pool_matrix), count)]
            sums += picked * (members > slot)[:, None]
        vectors[start : start + count] = sums / np.linalg.norm(sums, axis=1, keepdims=True)
    ids = np.arange(1, size + 1, dtype=np.int64)
    embedder = _make_encoder(encoder)
    chosen = random.Random(0).sample(all_questions, min(questions, len(all_questions)))
    query_vectors = np.stack([embedder.encode([question])[0] for question in chosen]).astype(np.float32)
    del real

    index = VectorIndex(pool_matrix.shape[1])
    began = time.perf_counter()
    index.rebuild(ids, vectors, generation=1)
    build_s = time.perf_counter() - began
    folder = work / f"vectors-{size}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    index.save(folder)
    dense = []
    for query in query_vectors:
        began = time.perf_counter()
        index.search(query, 40)
        dense.append((time.perf_counter() - began) * 1000)
    build_peak = peak_rss_mb()
    _, ann_ids = index.search_many(query_vectors, 10)
    recall = recall_at_10(query_vectors, ids, vectors, ann_ids)
    new_ids = np.arange(size + 1, size + 5, dtype=np.int64)
    began = time.perf_counter()
    index.add(new_ids, vectors[:4])
    index.generation = 2
    add_s = time.perf_counter() - began
    began = time.perf_counter()
    index.save(folder)
    save_s = time.perf_counter() - began
    began = time.perf_counter()
    index.remove(new_ids)
    index.generation = 3
    index.save(folder)
    remove_s = time.perf_counter() - began
    index_type = index.index_type
    kind = index.kind
    # What a library process holds when serving: the index loaded from disk, no matrix of raw vectors.
    del index
    matrix_mb = vectors.nbytes / 2**20
    vectors_path = folder / "raw.npy"
    np.save(vectors_path, vectors)
    del vectors
    gc.collect()
    before = rss_mb()
    served = VectorIndex(pool_matrix.shape[1])
    served.load(folder, generation=3)
    serving_rss = rss_mb()
    index_rss = serving_rss - before
    del served
    vectors = np.load(vectors_path)
    vectors_path.unlink()
    exact_dense = []
    if kind != "flat":
        exact = VectorIndex(pool_matrix.shape[1], kind="flat")
        exact.rebuild(ids, vectors, generation=1)
        for query in query_vectors[:50]:
            began = time.perf_counter()
            exact.search(query, 40)
            exact_dense.append((time.perf_counter() - began) * 1000)
    return VectorSizeReport(
        chunks=size,
        vectors="means of 1-5 real sentence vectors (the pool), as ingest makes chunk vectors; no SQLite",
        index_type=index_type,
        build_s=round(build_s, 2),
        dense_ms_p50=round(_percentile(dense, 0.5), 3),
        dense_ms_p95=round(_percentile(dense, 0.95), 3),
        exact_dense_ms_p50=round(_percentile(exact_dense or dense, 0.5), 3),
        ann_recall_at_10=round(recall, 4),
        add_one_article_s=round(add_s, 4),
        remove_one_article_s=round(remove_s, 4),
        save_delta_s=round(save_s, 4),
        peak_rss_mb=round(build_peak, 1),
        build_matrix_mb=round(matrix_mb, 1),
        serving_rss_mb=round(serving_rss, 1),
        index_rss_mb=round(index_rss, 1),
        index_bytes_per_chunk=round(sum(path.stat().st_size for path in folder.iterdir()) / size, 1),
    )


def recall_at_10(
    queries: NDArray[np.float32], ids: NDArray[np.int64], matrix: NDArray[np.float32], ann_ids: NDArray[np.int64]
) -> float:
    """Share of the exact top 10 (by brute force over `matrix`) that the index returned; ties count as found.

    Recombined articles repeat some chunks word for word, so exact search has ties that any order may break.
    """
    wanted = min(10, len(ids))
    if not wanted or not len(queries):
        return 1.0
    position = {int(chunk): row for row, chunk in enumerate(ids.tolist())}
    found = 0
    for start in range(0, len(queries), 16):
        scores = queries[start : start + 16] @ matrix.T
        for offset, row in enumerate(scores):
            threshold = np.partition(row, -wanted)[-wanted] - 1e-5
            returned = [position[int(chunk)] for chunk in ann_ids[start + offset] if int(chunk) in position]
            found += min(wanted, sum(1 for column in returned if row[column] >= threshold))
    return found / (wanted * len(queries))


def _question_paragraphs(data: Path) -> list[tuple[str, str]]:
    squad = json.loads((data / "squad-v2.0-dev.json").read_text(encoding="utf-8"))
    return [
        (f"squad:{article['title']}#{number}", qa["question"])
        for article in squad["data"]
        for number, paragraph in enumerate(article["paragraphs"])
        for qa in paragraph["qas"]
        if not qa.get("is_impossible")
    ]


# The whole run


def measure_encoders(real: Sequence[Document], encoder: str, questions: Sequence[str]) -> EncodeReport:
    """Our encoder on the sentences of real chunks against plain torch `model.encode` on the chunk texts."""
    from index.chunking import chunk_spans, sentence_spans
    from index.embedding import SentenceTransformerEmbedder

    chunk_texts: list[str] = []
    chunk_sentences: list[str] = []
    for document in real[:: max(1, len(real) // ENCODE_SAMPLE_CHUNKS)]:
        sentences = sentence_spans(document.text)
        for chunk in chunk_spans(sentences)[:1]:
            chunk_texts.append(document.text[chunk.start : chunk.end])
            chunk_sentences.extend(document.text[start:stop] for start, stop in sentences[chunk.first : chunk.last])
    chunk_texts = chunk_texts[:ENCODE_SAMPLE_CHUNKS]
    torch_embedder = SentenceTransformerEmbedder(device="cpu")
    model = torch_embedder._load()
    model.encode(chunk_texts[:8])
    began = time.perf_counter()
    raw = model.encode(chunk_texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    raw_s = time.perf_counter() - began
    began = time.perf_counter()
    for question in questions[:30]:
        model.encode([question], normalize_embeddings=True, show_progress_bar=False)
    raw_query_ms = (time.perf_counter() - began) / 30 * 1000
    ours = _make_encoder(encoder)
    ours._encode(chunk_texts[:8])
    began = time.perf_counter()
    ours._encode(chunk_sentences[: len(chunk_sentences)])
    ours_s = time.perf_counter() - began
    began = time.perf_counter()
    for question in questions[30:60]:
        ours._encode([question])
    our_query_ms = (time.perf_counter() - began) / 30 * 1000
    agreement = np.sum(ours._encode(chunk_texts) * raw, axis=1)
    tokens = _token_count(chunk_texts)
    return EncodeReport(
        encoder=str(getattr(ours, "description", encoder)),
        sample_chunks=len(chunk_texts),
        sample_tokens=tokens,
        raw_encode_chunks_per_s=round(len(chunk_texts) / raw_s, 2),
        raw_encode_tokens_per_s=round(tokens / raw_s, 0),
        our_encode_chunks_per_s=round(len(chunk_texts) / ours_s, 2),
        encode_speedup=round(raw_s / ours_s, 2),
        raw_query_ms=round(raw_query_ms, 2),
        our_query_ms=round(our_query_ms, 2),
        cosine_mean=round(float(agreement.mean()), 4),
        cosine_min=round(float(agreement.min()), 4),
    )


_COLD_SCRIPT = """
import sys, time
began = float(sys.argv[1])
from index.library import Library
from benchmarks.harness import _make_encoder
embedder = _make_encoder(sys.argv[3])
library = Library.open(sys.argv[2], embedder=embedder)
answer = library.ask("Which country has not approved Sweden?")
print(time.time() - began)
"""


def cold_start(seeds: Path, work: Path, encoder: str) -> float:
    """Seconds from starting a Python process to its first answer, on a library of the seed articles."""
    from index.articles import read_sources
    from index.library import Library

    folder = work / f"seeds-{encoder}"
    if not folder.exists():
        with Library.open(folder, embedder=_make_encoder(encoder)) as library:
            library.add(read_sources([str(seeds)]))
    command = [sys.executable, "-c", _COLD_SCRIPT, repr(time.time()), str(folder), encoder]
    command[3] = repr(time.time())
    output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent)
    return float(output.stdout.strip().splitlines()[-1])


def run_benchmark(
    sizes: list[int],
    *,
    data: Path,
    json_output: bool = False,
    work: Path | None = None,
    encoder: str = "default",
    questions: int = 300,
    seeds: Path | None = None,
    progress: Callable[[str], None] | None = None,
    vector_sizes: Sequence[int] = (),
    full_limit: int = FULL_LIMIT,
    database_url: str | None = None,
) -> BenchmarkReport:
    """Measure every size in `sizes` (chunks) on libraries built from `data`; `json_output` is for the caller.

    With `database_url` (postgresql://...) each size is also measured on a PostgreSQL library in a database of
    its own made beside that one (`bench_database_url`), so the two backends stand side by side.

    Sizes above `full_limit` (and those in `vector_sizes`) measure the vector index alone: a full library of a
    million chunks takes about an hour to write through SQLite on two cores.
    """
    vector_sizes = sorted({*vector_sizes, *(size for size in sizes if size > full_limit)})
    sizes = [size for size in sizes if size <= full_limit]
    del json_output  # the report is the same; the CLI chooses how to print it
    say = progress or (lambda _: None)
    folder = Path(work) if work else Path(tempfile.mkdtemp(prefix="quotebot-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    if database_url:
        # Before the long part: the server answers and lets this user make the benchmark's databases.
        bench_database_url(database_url, -1)
    real, all_questions = load_corpus(data)
    pool = sentence_pool(real)
    say(f"encoding the pool of {len(pool):,} real sentences once")
    cache_file = folder / f"pool-{encoder}.npy"
    if not cache_file.exists():
        np.save(cache_file, _make_encoder(encoder).encode(pool))
    say("measuring encoders on real chunks")
    if encoder == "hashing":
        encode = EncodeReport(
            encoder="hashing",
            sample_chunks=0,
            sample_tokens=0,
            raw_encode_chunks_per_s=1.0,
            raw_encode_tokens_per_s=1.0,
            our_encode_chunks_per_s=1.0,
            encode_speedup=1.0,
            raw_query_ms=0.0,
            our_query_ms=0.0,
            cosine_mean=1.0,
            cosine_min=1.0,
        )
        tokens_per_chunk = 100.0
    else:
        encode = measure_encoders(real, encoder, all_questions)
        tokens_per_chunk = encode.sample_tokens / max(encode.sample_chunks, 1)
    reports: list[SizeReport] = []
    for size in sizes:
        say(f"size {size:,}")
        arguments = {
            "size": size,
            "data": str(data),
            "work": str(folder),
            "encoder": encoder,
            "questions": questions,
            "encode_chunks_per_s": encode.our_encode_chunks_per_s,
            "encode_tokens_per_chunk": tokens_per_chunk,
            "raw_chunks_per_s": encode.raw_encode_chunks_per_s,
        }
        reports.append(SizeReport.model_validate_json(_run_child(arguments)))
        say(reports[-1].model_dump_json())
        if database_url:
            say(f"size {size:,} on PostgreSQL")
            reports.append(SizeReport.model_validate_json(_run_child({**arguments, "url": database_url})))
            say(reports[-1].model_dump_json())
    vector_reports: list[VectorSizeReport] = []
    for size in vector_sizes:
        say(f"vectors only, size {size:,}")
        arguments = {"vectors": size, "data": str(data), "work": str(folder), "encoder": encoder}
        arguments["questions"] = questions
        vector_reports.append(VectorSizeReport.model_validate_json(_run_child(arguments)))
        say(vector_reports[-1].model_dump_json())
    seeds_folder = seeds or Path(__file__).parent.parent / "seeds"
    cold = cold_start(seeds_folder, folder, encoder) if seeds_folder.exists() else 0.0
    cold_torch = cold_start(seeds_folder, folder, "torch") if seeds_folder.exists() and encoder == "default" else None
    notes = [
        f"vectors: the real model ({encode.encoder}) encodes each of the {len(pool):,} distinct sentences once; "
        "recombined articles reuse those vectors, so ingest throughput = 1 / (encode + own time) per chunk, "
        "both measured in this run",
        "ask_ms split: encode (query), dense (FAISS), lexical (FTS5, timed again alone), reader (tokenising and "
        "the ONNX run over the candidates), rest (first-stage scoring, neighbours, slicing the quotes)",
        f"machine: {os.cpu_count()} CPUs; figures on a shared machine vary by ±30%, and the int8 models (encoder, "
        "reader) run several times faster where the CPU has VNNI (int8 dot products) than on AVX2 alone",
    ]
    if database_url:
        notes.append(
            "PostgreSQL rows: dense (pgvector) and lexical (full-text BM25) timed inside ask; the store column is "
            "the database's whole write (rows, full-text and HNSW index); exact = asked again after dropping the "
            "HNSW index; peak RSS is the client's, disk the library's tables and indexes"
        )
    return BenchmarkReport(
        machine=machine_description(),
        load_average=round(os.getloadavg()[0], 2),
        encoder=encode.encoder,
        cold_start_s=round(cold, 2),
        cold_start_torch_s=round(cold_torch, 2) if cold_torch is not None else None,
        encode=encode,
        sizes=reports,
        vector_sizes=vector_reports,
        targets=TARGETS,
        notes=notes,
    )


def _run_child(arguments: dict[str, Any]) -> str:
    """Run one measurement in a fresh process (so its peak RSS is its own); its JSON report."""
    output = subprocess.run(
        [sys.executable, "-m", "benchmarks.harness", json.dumps(arguments)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
        env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
    )
    if output.returncode != 0:
        shown, reason = dict(arguments), output.stderr[-2000:]
        if "url" in arguments:
            # A database URL may carry a password, which must reach no terminal or log.
            from index.backends.postgres.connection import password_of, redacted

            shown["url"] = redacted(str(arguments["url"]))
            password = password_of(str(arguments["url"]))
            reason = reason.replace(password, "***") if password else reason
        raise RuntimeError(f"benchmark step {shown} failed: {reason}")
    return output.stdout.strip().splitlines()[-1]


def format_report(report: BenchmarkReport) -> str:
    """The report as a plain-text table, each figure beside its reference."""
    encode = report.encode
    lines = [
        f"encoder: {report.encoder} — {encode.our_encode_chunks_per_s} chunks/s (as sentences) vs torch "
        f"model.encode {encode.raw_encode_chunks_per_s} chunks/s ({encode.raw_encode_tokens_per_s:.0f} tokens/s): "
        f"{encode.encode_speedup}x (target >= 1.5); query {encode.our_query_ms} ms vs {encode.raw_query_ms} ms; "
        f"cosine to torch mean {encode.cosine_mean} min {encode.cosine_min}",
        f"cold start to first answer: {report.cold_start_s} s (target <= 3; torch path {report.cold_start_torch_s} s)",
        "",
        "| chunks | index | ingest chunks/s (tokens/s) | raw encode chunks/s | ratio (>= 0.9) / to our encoder "
        "| chunking / SQLite (or PostgreSQL) / FAISS s "
        "| add one / remove one s | ask p50 / p95 / p99 ms | encode / dense / lexical / rest / reader p50 ms "
        "| exact ask p50 / p95 ms (dense) | recall@10 (>= 0.95) | peak RSS MB | disk B/chunk |",
        "|" + " --- |" * 13,
    ]
    for size in report.sizes:
        lines.append(
            f"| {size.chunks:,} | {size.index_type} | {size.ingest_chunks_per_s} ({size.ingest_tokens_per_s:.0f}) "
            f"| {size.raw_encode_chunks_per_s} | {size.ingest_ratio_to_raw_encode} / {size.ingest_ratio_to_own_encode} "
            f"| {size.chunking_s} / {size.sqlite_s} / {size.faiss_s} "
            f"| {size.add_one_article_s} / {size.remove_one_article_s} "
            f"| {size.ask_ms_p50} / {size.ask_ms_p95} / {size.ask_ms_p99} "
            f"| {size.encode_ms_p50} / {size.dense_ms_p50} / {size.lexical_ms_p50} / {size.quotes_ms_p50} "
            f"/ {size.reader_ms_p50} "
            f"| {size.exact_ask_ms_p50} / {size.exact_ask_ms_p95} ({size.exact_dense_ms_p50}) "
            f"| {size.ann_recall_at_10} | {size.peak_rss_mb} | {size.disk_bytes_per_chunk:.0f} |"
        )
    if report.vector_sizes:
        lines += [
            "",
            "| chunks (vectors only) | index | build s | dense p50 / p95 ms | exact dense p50 ms | recall@10 "
            "| add one / save delta / remove one s | peak RSS MB (build, incl. raw matrix) | serving RSS MB "
            "(index) | index B/chunk |",
            "|" + " --- |" * 10,
        ]
        for item in report.vector_sizes:
            lines.append(
                f"| {item.chunks:,} | {item.index_type} | {item.build_s} | {item.dense_ms_p50} / {item.dense_ms_p95} "
                f"| {item.exact_dense_ms_p50} | {item.ann_recall_at_10} "
                f"| {item.add_one_article_s} / {item.save_delta_s} / {item.remove_one_article_s} "
                f"| {item.peak_rss_mb} ({item.build_matrix_mb}) | {item.serving_rss_mb} ({item.index_rss_mb}) "
                f"| {item.index_bytes_per_chunk:.0f} |"
            )
    lines.append("")
    lines.append(f"load average during the run: {report.load_average} on {report.machine}")
    lines.extend(f"note: {note}" for note in report.notes)
    return "\n".join(lines)


def _child(arguments: dict[str, Any]) -> None:
    if "vectors" in arguments:
        vector_report = measure_vectors(
            int(arguments["vectors"]),
            data=Path(arguments["data"]),
            work=Path(arguments["work"]),
            encoder=str(arguments["encoder"]),
            questions=int(arguments["questions"]),
        )
        sys.stdout.write(vector_report.model_dump_json() + "\n")
        return
    if "url" in arguments:
        report = measure_postgres_size(
            int(arguments["size"]),
            url=str(arguments["url"]),
            data=Path(arguments["data"]),
            work=Path(arguments["work"]),
            encoder=str(arguments["encoder"]),
            questions=int(arguments["questions"]),
            encode_chunks_per_s=float(arguments["encode_chunks_per_s"]),
            encode_tokens_per_chunk=float(arguments["encode_tokens_per_chunk"]),
            raw_chunks_per_s=float(arguments["raw_chunks_per_s"]),
        )
        sys.stdout.write(report.model_dump_json() + "\n")
        return
    report = measure_size(
        int(arguments["size"]),
        data=Path(arguments["data"]),
        work=Path(arguments["work"]),
        encoder=str(arguments["encoder"]),
        questions=int(arguments["questions"]),
        encode_chunks_per_s=float(arguments["encode_chunks_per_s"]),
        encode_tokens_per_chunk=float(arguments["encode_tokens_per_chunk"]),
        raw_chunks_per_s=float(arguments["raw_chunks_per_s"]),
    )
    sys.stdout.write(report.model_dump_json() + "\n")


if __name__ == "__main__":
    _child(json.loads(sys.argv[1]))
