"""A separate process on one library, for the concurrency and crash tests of tests/test_backends.py.

python tests/backend_worker.py write KIND LOCATION NAME BATCHES PER_BATCH
    store BATCHES batches of PER_BATCH articles (sources NAME-b-i), one `writing()` and one `store` each,
    printing "stored B" after each commit
python tests/backend_worker.py read KIND LOCATION ARTICLES
    print "ready" once the library is open, then read it over and over until it holds N articles (at most 60 s),
    checking that every article it sees is whole; prints "reads N" and exits 1 on the first partial article
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from backend_articles import make_article, open_for_test, sentence_spans

SENTENCES_PER_ARTICLE = 24


def article_text(name: str, batch: int, number: int) -> str:
    return " ".join(
        f"Writer {name} batch {batch} article {number} sentence {index} mentions harbour{index % 5}."
        for index in range(SENTENCES_PER_ARTICLE)
    )


def write(kind: str, location: str, name: str, batches: int, per_batch: int) -> int:
    backend = open_for_test(kind, location)

    def batch_of(batch: int) -> list[Any]:
        return [
            make_article(article_text(name, batch, number), source=f"{name}-{batch}-{number}", added=batch)
            for number in range(per_batch)
        ]

    try:
        items = batch_of(0)
        for batch in range(batches):
            with backend.writing():
                backend.store(items)
                backend.persist()
            # The next batch is ready before the line goes out, so that a kill soon after it lands inside a store.
            items = batch_of(batch + 1)
            print(f"stored {batch}", flush=True)
    finally:
        backend.close()
    return 0


def whole(backend: object, summary: object) -> bool:
    """Whether an article seen has all its chunks, sentences and text."""
    article = backend.article(summary.id)  # type: ignore[attr-defined]
    expected = sentence_spans(article.text)
    spans = backend.sentence_spans(summary.id)  # type: ignore[attr-defined]
    return spans == expected and summary.chunks == (len(expected) + 1) // 2  # type: ignore[attr-defined]


def read(kind: str, location: str, articles: int) -> int:
    backend = open_for_test(kind, location)
    print("ready", flush=True)
    reads = 0
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            summaries = backend.summaries()
            for summary in summaries:
                try:
                    if not whole(backend, summary):
                        print(f"partial {summary.id}", flush=True)
                        return 1
                except Exception as error:
                    if type(error).__name__ != "ArticleNotFound":  # replaced or removed since the listing
                        raise
            statistics, chunks = backend.term_statistics(["harbour0"])
            if chunks and statistics.get("harbour0", 0) > chunks:
                print("statistics ahead of chunks", flush=True)
                return 1
            reads += 1
            if len(summaries) >= articles:
                break
    finally:
        backend.close()
    print(f"reads {reads}", flush=True)
    return 0


def main(arguments: list[str]) -> int:
    command, kind, location = arguments[:3]
    if command == "write":
        return write(kind, location, arguments[3], int(arguments[4]), int(arguments[5]))
    return read(kind, location, int(arguments[3]))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
