"""Run the quotebot benchmark: `python benchmarks/bench.py --data ../shared/data [--chunks N ...] [--large] [--json]`.

The same measurement as `quotebot bench` (both call `benchmarks.harness.run_benchmark`); see README.md, Performance.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import DEFAULT_SIZES, LARGE_SIZE, format_report, run_benchmark


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="folder with squad-v2.0-dev.json")
    parser.add_argument("--chunks", type=int, nargs="+", default=DEFAULT_SIZES, help="library sizes, in chunks")
    parser.add_argument("--large", action="store_true", help=f"also the {LARGE_SIZE:,}-chunk vector index")
    parser.add_argument("--encoder", choices=["default", "torch", "hashing"], default="default")
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--work", type=Path, default=None, help="folder for the libraries (default: a temporary one)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    report = run_benchmark(
        arguments.chunks,
        data=arguments.data,
        json_output=arguments.json,
        work=arguments.work,
        encoder=arguments.encoder,
        questions=arguments.questions,
        vector_sizes=[LARGE_SIZE] if arguments.large else [],
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(report.model_dump_json(indent=2) if arguments.json else format_report(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
