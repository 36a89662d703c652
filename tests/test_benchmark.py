"""The benchmark: its corpus builder and a tiny end-to-end run (HashingEmbedder, no timing assertions)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from postgres_server import PostgresServer

from benchmarks.harness import (
    BenchmarkReport,
    build_documents,
    format_report,
    load_corpus,
    machine_description,
    recall_at_10,
    run_benchmark,
    sentence_pool,
)
from index.errors import LibraryError

PARAGRAPHS = [
    (
        "The lighthouse at Cape Wrath was built in 1828 by Robert Stevenson. It stands on cliffs above the sea. "
        "Its light can be seen for 22 nautical miles. The keepers left in 1998, when it was automated.",
        ["Who built the lighthouse at Cape Wrath?", "When was the lighthouse automated?"],
    ),
    (
        "Coffee was first roasted in Yemen in the 15th century. Traders carried it to Cairo and Istanbul. "
        "By 1650 coffee houses had opened in Oxford and London. Dr. Johnson wrote many essays in them.",
        ["Where was coffee first roasted?", "When did coffee houses open in Oxford?"],
    ),
    (
        "The river floods every spring. Farmers plant rice after the water recedes. The delta feeds 20 million "
        "people. In 2011 the flood reached the capital for the first time in fifty years.",
        ["When did the flood reach the capital?", "How many people does the delta feed?"],
    ),
]


def _write_data(folder: Path) -> Path:
    squad = {
        "version": "v2.0",
        "data": [
            {
                "title": f"Article_{number}",
                "paragraphs": [
                    {
                        "context": context,
                        "qas": [
                            {"id": f"{number}-{position}", "question": question, "answers": [], "is_impossible": False}
                            for position, question in enumerate(questions)
                        ],
                    }
                ],
            }
            for number, (context, questions) in enumerate(PARAGRAPHS)
        ],
    }
    (folder / "squad-v2.0-dev.json").write_text(json.dumps(squad), encoding="utf-8")
    (folder / "wikinews").mkdir()
    record = {"id": "news1", "title": "A news report", "text": "Rain fell all week.\n\nThe match was postponed."}
    (folder / "wikinews" / "articles.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    return folder


def test_documents_reach_the_size_from_real_sentences(tmp_path: Path) -> None:
    real, questions = load_corpus(_write_data(tmp_path))
    assert len(real) == 4
    assert len(questions) == 6
    pool = sentence_pool(real)
    documents = build_documents(40, real, pool)
    assert documents[: len(real)] == real
    pool_set = set(pool)
    assert len(documents) > len(real)
    for document in documents[len(real) :]:
        # Recombined articles are pool sentences joined by single spaces: every sentence is a real one.
        remaining = document.text
        while remaining:
            sentence = next(sentence for sentence in pool_set if remaining.startswith(sentence))
            remaining = remaining[len(sentence) :].removeprefix(" ")
    assert build_documents(40, real, pool) == documents  # seeded: the same libraries every run


@pytest.mark.slow
def test_tiny_benchmark_reports_every_figure(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    data = _write_data(tmp_path / "data")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "seed.txt").write_text("Sweden applied to join NATO. Hungary has not approved it yet.", encoding="utf-8")
    report = run_benchmark([3, 30], data=data, work=tmp_path / "work", encoder="hashing", questions=4, seeds=seeds)
    assert isinstance(report, BenchmarkReport)
    dumped = json.loads(report.model_dump_json())
    assert {"cold_start_s", "sizes"} <= dumped.keys()
    required = {
        "chunks",
        "ingest_chunks_per_s",
        "raw_encode_chunks_per_s",
        "ingest_ratio_to_raw_encode",
        "ask_ms_p50",
        "ask_ms_p95",
        "ask_ms_p99",
        "exact_ask_ms_p50",
        "ann_recall_at_10",
        "index_type",
        "peak_rss_mb",
        "disk_bytes_per_chunk",
    }
    assert [size["chunks"] >= wanted for size, wanted in zip(dumped["sizes"], [3, 30], strict=True)] == [True, True]
    for size in dumped["sizes"]:
        assert required <= size.keys()
        assert size["ann_recall_at_10"] == 1.0  # small libraries use exact search
        assert size["index_type"] == "IndexIDMap2(IndexFlatIP)"
        assert "Hashing" in size["vectors"]
    assert report.cold_start_s > 0
    table = format_report(report)
    assert "recall@10" in table
    assert table.count("\n| ") >= 3


@pytest.mark.slow
def test_the_benchmark_measures_postgres_beside_local_and_refuses_a_user_who_cannot_create_databases(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    import psycopg

    (tmp_path / "data").mkdir()
    data = _write_data(tmp_path / "data")
    url = postgres_server.new_database()
    report = run_benchmark([30], data=data, work=tmp_path / "work", encoder="hashing", questions=4, database_url=url)
    local, postgres = report.sizes
    assert (local.backend, postgres.backend) == ("local", "postgresql")
    # The same documents in both homes: the same chunks, every question asked on each.
    assert postgres.chunks == local.chunks >= 30 and postgres.questions == local.questions == 4
    assert postgres.index_type.startswith("PostgreSQL ") and postgres.faiss_s == 0.0
    assert postgres.ann_recall_at_10 == 1.0  # 30 chunks: HNSW (or exact search) finds the whole top 10
    assert postgres.ask_ms_p50 > 0 and postgres.exact_ask_ms_p50 > 0 and postgres.disk_bytes_per_chunk > 0
    database = url.partition("?")[0].rpartition("/")[2]
    with psycopg.connect(postgres_server.url(f"{database}_bench_30"), autocommit=True) as connection:
        row = connection.execute("SELECT count(*) FROM chunks").fetchone()
    assert row is not None and row[0] == postgres.chunks
    assert "PostgreSQL hnsw" in format_report(report) or "PostgreSQL exact" in format_report(report)

    with psycopg.connect(postgres_server.url(), autocommit=True) as connection:
        connection.execute("CREATE ROLE bench_reader LOGIN")
    plain = url.replace("postgresql://postgres@", "postgresql://bench_reader@")
    with pytest.raises(LibraryError, match=r"may not create databases.*ALTER ROLE name CREATEDB"):
        run_benchmark([30], data=data, work=tmp_path / "work", encoder="hashing", questions=4, database_url=plain)


def test_a_failed_step_names_its_database_without_the_password(tmp_path: Path) -> None:
    from benchmarks.harness import _run_child

    arguments = {
        "size": 3,
        "url": "postgresql://me:s3cret@/nowhere?host=/nonexistent",
        "data": str(tmp_path),  # no SQuAD file here: the step fails before any connection
        "work": str(tmp_path),
        "encoder": "hashing",
        "questions": 1,
        "encode_chunks_per_s": 1.0,
        "encode_tokens_per_chunk": 1.0,
        "raw_chunks_per_s": 1.0,
    }
    with pytest.raises(RuntimeError, match="failed") as failure:
        _run_child(arguments)
    assert "s3cret" not in str(failure.value)
    assert "postgresql://me@/nowhere" in str(failure.value) and "squad-v2.0-dev.json" in str(failure.value)


def test_recall_counts_ties_as_found() -> None:
    matrix = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    ids = np.array([10, 11, 12, 13], dtype=np.int64)
    queries = np.array([[1.0, 0.0]], dtype=np.float32)
    # Exact top 2 is {10, 11} (a tie); returning 11 then 10 or 10 then 11 is full recall, 13 is not.
    assert recall_at_10(queries, ids, matrix, np.array([[11, 10, 13, 12]])) == 1.0
    assert recall_at_10(queries, ids, matrix, np.array([[13, 12, -1, -1]])) == 0.5


def test_the_report_names_the_cpu_and_its_widest_int8_instructions(tmp_path: Path) -> None:
    # The int8 encoder and reader run several times faster with VNNI than on AVX2 alone: a figure without the
    # instruction set cannot be compared with another machine's.
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n"
        "processor\t: 1\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n",
        encoding="utf-8",
    )
    assert "(AMD EPYC, AVX-512 VNNI)" in machine_description(cpuinfo)
    cpuinfo.write_text("model name\t: Intel Xeon\nflags\t\t: fpu sse2 avx avx2 fma\n", encoding="utf-8")
    assert "(Intel Xeon, AVX2)" in machine_description(cpuinfo)
    bare = machine_description(tmp_path / "missing")
    assert bare.endswith(f" CPUs, {sys.platform}")
    assert "(" not in bare
