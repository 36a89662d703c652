"""The conversation test set (tests/corpus_conversation/): follow-ups answered with and without the conversation.

Each conversation is a first question and a follow-up, each with a sentence its first quote must contain. The
first question is asked alone; the follow-up is asked twice: alone (what quotebot did before conversations),
and with the first turn exactly as the engine answered it. Only the dev half may be used to set weights; the
README reports the test half. Run ``python tests/conversation_set.py [dev|test|all]`` to print the figures.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from index import Answer, Conversation, Library

__all__ = ["ARTICLES", "Outcome", "conversations", "right", "run"]

FOLDER = Path(__file__).parent / "corpus_conversation"
ARTICLES = FOLDER / "articles.jsonl"


@dataclass(frozen=True)
class Outcome:
    first: str
    follow_up: str
    first_right: bool
    alone_right: bool
    with_conversation_right: bool
    alone: Answer
    with_conversation: Answer


def conversations(split: str) -> list[dict[str, dict[str, str]]]:
    items: list[dict[str, dict[str, str]]] = json.loads((FOLDER / "conversations.json").read_text("utf-8"))[
        "conversations"
    ]
    return [item for item in items if split == "all" or item["split"] == split]


def right(answer: Answer, sentence: str) -> bool:
    """The first quote holds the expected sentence (a quote may add the sentence it leans on)."""
    return answer.found and bool(answer.quotes) and sentence in answer.quotes[0].text


def run(library: Library, split: str) -> list[Outcome]:
    outcomes = []
    for item in conversations(split):
        first, follow = item["first"], item["follow_up"]
        answer = library.ask(first["question"])
        alone = library.ask(follow["question"])
        together = library.ask(follow["question"], conversation=Conversation().then(answer))
        outcomes.append(
            Outcome(
                first["question"],
                follow["question"],
                right(answer, first["quote"]),
                right(alone, follow["quote"]),
                right(together, follow["quote"]),
                alone,
                together,
            )
        )
    return outcomes


def main(split: str) -> None:
    import tempfile

    from index.articles import read_sources

    with tempfile.TemporaryDirectory() as folder:
        seeds = Path(__file__).parent.parent / "seeds"
        library = Library.open(Path(folder) / "library", seeds=seeds)
        library.add(read_sources([str(ARTICLES)]))
        outcomes = run(library, split)
        for outcome in outcomes:
            marks = "".join(
                "+" if flag else "-"
                for flag in (outcome.first_right, outcome.alone_right, outcome.with_conversation_right)
            )
            quoted = outcome.with_conversation.quotes[0].text[:80] if outcome.with_conversation.quotes else "(none)"
            print(f"{marks} {outcome.first} -> {outcome.follow_up} :: {quoted}")
        count = len(outcomes)
        print(
            f"{split}: {count} conversations; first questions right {sum(o.first_right for o in outcomes)}/{count}; "
            f"follow-ups right alone {sum(o.alone_right for o in outcomes)}/{count}, with the conversation "
            f"{sum(o.with_conversation_right for o in outcomes)}/{count}"
        )
        library.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "dev")
