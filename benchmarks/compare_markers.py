"""Does the rule-based spaCy marker still add anything next to the reader? Both mark the same quote.

    python benchmarks/compare_markers.py ../shared/data/squad-v2.0-dev.json --split test --limit 800 \\
        --library /tmp/squad-test-lib

For each answerable question, quotebot's first quote (the reader on) is marked twice: by the reader's span (what
users get) and by `index.marking.mark` (spaCy entities and noun phrases, the marker before the reader). Prints
the short-answer F1 of each over the questions whose first quote holds a gold answer, and over all answered.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index import marking
from index.evaluation import f1_score, load_squad, quote_hit, sample, squad_split
from index.library import Library


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("--split", default="test", choices=["all", "train", "test"])
    parser.add_argument("--limit", type=int, default=800)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--library", required=True, help="a library of the file's articles (quotebot eval -l)")
    arguments = parser.parse_args()
    documents, questions = squad_split(*load_squad(Path(arguments.file)), arguments.split)
    chosen = [question for question in sample(questions, arguments.limit, arguments.seed) if question.answerable]
    reader_scores: list[float] = []
    rule_scores: list[float] = []
    on_hits: list[tuple[float, float]] = []
    with Library.open(arguments.library) as library:
        library.add(documents)
        for question in chosen:
            answer = library.ask(question.question, k=1)
            if not answer.found:
                continue
            quote = answer.quotes[0]
            by_reader = quote.answer.text if quote.answer is not None else ""
            span = marking.mark(question.question, quote.text)
            by_rules = quote.text[span[0] : span[1]] if span else ""
            pair = (f1_score(by_reader, question.answers), f1_score(by_rules, question.answers))
            reader_scores.append(pair[0])
            rule_scores.append(pair[1])
            if quote_hit([quote.text], question.answers, 1):
                on_hits.append(pair)

    def percent(values: list[float]) -> float:
        return round(100.0 * sum(values) / max(len(values), 1), 1)

    print(f"answered {len(reader_scores)} of {len(chosen)} answerable questions")
    print(f"F1 over answered: reader {percent(reader_scores)}, spaCy rules {percent(rule_scores)}")
    print(
        f"F1 where quote 1 holds the answer ({len(on_hits)}): reader {percent([a for a, _ in on_hits])}, "
        f"spaCy rules {percent([b for _, b in on_hits])}"
    )


if __name__ == "__main__":
    main()
