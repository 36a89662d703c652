"""Add a very large .txt and a very large .jsonl, and print memory and write-lock figures.

    python benchmarks/large_inputs.py [--text-mb 200] [--lines 1000000] [--encoder hashing|default] [--work DIR]

Each file is generated (seeded), then added to a new library by `Library.add(read_sources(...))`, as `quotebot add`
does. While it runs, a probe thread takes the library's write lock every 50 ms, as a second writer would, and
records how long it waited: the longest wait is how long the adder held the lock at a stretch. It also samples
the process's RSS and notes when the first articles were committed (visible to a reader).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index import Library
from index.articles import read_sources
from index.embedding import Embedder, HashingEmbedder, default_embedder
from index.errors import SourceError

_WORDS = (
    "harbour council tower river bridge minister report station village market museum winter summer engineer "
    "railway school hospital festival island mountain library garden factory election budget storm coast "
    "archive painter teacher doctor farmer captain mayor century northern southern repaired opened closed built "
    "moved measured announced described visited"
).split()


def _sentence(generator: random.Random) -> str:
    words = generator.choices(_WORDS, k=generator.randint(8, 22))
    return f"{' '.join(words).capitalize()} in {generator.randint(1800, 2025)}."


def write_text(path: Path, megabytes: int, *, seed: int = 0) -> None:
    """A text file of paragraphs (3-8 sentences, blank lines between) of about `megabytes` MB."""
    generator = random.Random(seed)
    pool = [_sentence(generator) for _ in range(20_000)]
    target = megabytes * 1024 * 1024
    written = 0
    with path.open("w", encoding="utf-8") as file:
        while written < target:
            paragraph = " ".join(generator.choices(pool, k=generator.randint(3, 8))) + "\n\n"
            file.write(paragraph)
            written += len(paragraph)


def write_lines(path: Path, lines: int, *, seed: int = 0) -> None:
    """A JSON Lines file of `lines` small articles, each text distinct."""
    generator = random.Random(seed)
    pool = [_sentence(generator) for _ in range(20_000)]
    with path.open("w", encoding="utf-8") as file:
        for number in range(lines):
            text = f"Record {number} says this. " + " ".join(generator.choices(pool, k=generator.randint(1, 3)))
            file.write(json.dumps({"title": f"Record {number}", "text": text}) + "\n")


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class _Probe(threading.Thread):
    """A second writer that takes the write lock every `interval` seconds and notes each wait, and the RSS."""

    def __init__(self, folder: Path, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.folder = folder
        self.interval = interval
        self.waits: list[float] = []
        self.peak_rss = 0
        self.first_commit: float | None = None
        self.started_at = time.monotonic()
        self.done = threading.Event()

    def run(self) -> None:
        from filelock import FileLock

        lock = FileLock(self.folder / "write.lock")
        database = sqlite3.connect(self.folder / "library.sqlite3", timeout=60)
        while not self.done.is_set():
            began = time.monotonic()
            with lock.acquire(timeout=3600):
                self.waits.append(time.monotonic() - began)
            self.peak_rss = max(self.peak_rss, _rss_bytes())
            if self.first_commit is None and database.execute("SELECT count(*) FROM articles").fetchone()[0]:
                self.first_commit = time.monotonic() - self.started_at
            self.done.wait(self.interval)
        database.close()


def measure(source: Path, folder: Path, embedder: Embedder) -> dict[str, Any]:
    """Add `source` to a new library in `folder` and return the figures."""
    library = Library.open(folder, embedder=embedder)
    embedder.encode(["warm up the model before measuring"])
    before = _rss_bytes()
    probe = _Probe(folder)
    errors: list[SourceError] = []
    started = time.monotonic()
    probe.start()
    report = library.add(read_sources([str(source)], errors=errors))
    elapsed = time.monotonic() - started
    probe.done.set()
    probe.join()
    stats = library.stats()
    library.close()
    waits = sorted(probe.waits)
    return {
        "file": source.name,
        "file_bytes": source.stat().st_size,
        "encoder": embedder.name,
        "articles": stats.articles,
        "chunks": stats.chunks,
        "errors": len(errors),
        "added": len(report.added),
        "seconds": round(elapsed, 1),
        "first_commit_seconds": None if probe.first_commit is None else round(probe.first_commit, 1),
        "rss_before_add_mb": round(before / 2**20),
        "rss_peak_during_add_mb": round(max(probe.peak_rss, _rss_bytes()) / 2**20),
        "process_max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "lock_probes": len(waits),
        "lock_wait_p50_s": round(waits[len(waits) // 2], 3) if waits else None,
        "lock_wait_max_s": round(waits[-1], 3) if waits else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text-mb", type=int, default=200, help="size of the generated .txt (0: skip it)")
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines of the generated .jsonl (0: skip it)")
    parser.add_argument(
        "--encoder",
        choices=["hashing", "default"],
        default="hashing",
        help="hashing: no model, so the figures are the reading and committing alone; default: the bundled model",
    )
    parser.add_argument("--work", type=Path, default=None, help="folder for the files and libraries")
    arguments = parser.parse_args(argv)
    work = arguments.work or Path(tempfile.mkdtemp(prefix="quotebot-large-"))
    work.mkdir(parents=True, exist_ok=True)
    jobs = []
    if arguments.text_mb:
        text = work / f"large-{arguments.text_mb}mb.txt"
        if not text.exists():
            write_text(text, arguments.text_mb)
        jobs.append(text)
    if arguments.lines:
        lines = work / f"large-{arguments.lines}-lines.jsonl"
        if not lines.exists():
            write_lines(lines, arguments.lines)
        jobs.append(lines)
    for number, source in enumerate(jobs):
        embedder = HashingEmbedder(384) if arguments.encoder == "hashing" else default_embedder("cpu")
        figures = measure(source, work / f"library-{number}-{time.time_ns()}", embedder)
        print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
