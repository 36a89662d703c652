"""The near-duplicate threshold, measured: Jaccard similarity of 5-word shingles (index.duplicates) between
distinct articles, and between an article and a copy of it as a second source would give it.

    python benchmarks/near_duplicates.py ../shared/data/wikinews/articles.jsonl

Copies: a changed footer (the last line replaced by a site's footer), an added header ("Skip to content",
a menu line, a byline), both, and a copy whose last paragraph was cut off. Prints the highest similarity between
distinct articles and the lowest of each kind of copy (of the articles with at least five lines).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.duplicates import NEAR_DUPLICATE, fingerprint, similarity

FOOTER = "Follow us on Twitter and Facebook. © 2024 Example News. All rights reserved. Privacy policy."
HEADER = "Skip to content\nHome News World Sport\nBy Staff Reporter, Example News"


def copies(text: str) -> dict[str, str]:
    lines = text.rstrip().split("\n")
    paragraphs = text.rstrip().split("\n\n")
    return {
        "changed footer": "\n".join([*lines[:-1], FOOTER]),
        "added header": f"{HEADER}\n{text}",
        "header and footer": f"{HEADER}\n" + "\n".join([*lines[:-1], FOOTER]),
        "last paragraph cut": "\n\n".join(paragraphs[:-1]) if len(paragraphs) > 3 else text,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("articles", type=Path)
    arguments = parser.parse_args()
    texts = [json.loads(line)["text"] for line in arguments.articles.read_text(encoding="utf-8").splitlines() if line]
    prints = [fingerprint(text) for text in texts]
    distinct = max(similarity(first, second) for first, second in itertools.combinations(prints, 2))
    print(f"{len(texts)} articles; highest similarity between two distinct articles: {distinct:.3f}")
    lowest: dict[str, float] = {}
    for text, original in zip(texts, prints, strict=True):
        if text.count("\n") < 4:
            continue  # a one-paragraph article has no footer to change
        for kind, copy in copies(text).items():
            lowest[kind] = min(lowest.get(kind, 1.0), similarity(original, fingerprint(copy)))
    for kind, value in lowest.items():
        print(f"lowest similarity of a copy with {kind}: {value:.3f}")
    print(f"threshold in use: {NEAR_DUPLICATE}")


if __name__ == "__main__":
    main()
