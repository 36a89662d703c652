"""Write the paragraphs of a SQuADShifts file that the reader never saw: no question of theirs was drawn for
training or calibration by ``scripts/train_reader.py collect`` (same --questions and --seed), as a SQuAD file.

    python scripts/heldout_squadshifts.py ../shared/data/squadshifts/reddit.json --questions 3000 --seed 1 \\
        --output /tmp/reddit-heldout.json
    quotebot eval /tmp/reddit-heldout.json --limit 1000

Every question of a held-out paragraph is kept, and only held-out paragraphs are in the library the evaluation
builds, so none of its text was read in training.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.evaluation import load_squad, sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", help="a SQuADShifts file the reader was trained on")
    parser.add_argument("--questions", type=int, required=True, help="--questions given to collect for this file")
    parser.add_argument("--seed", type=int, default=1, help="--seed given to collect")
    parser.add_argument("--output", required=True)
    arguments = parser.parse_args()
    path = Path(arguments.file)
    _, questions = load_squad(path)
    drawn = {question.id for question in sample(questions, arguments.questions, arguments.seed)}
    data = json.loads(path.read_text(encoding="utf-8"))
    kept = []
    paragraphs = questions_kept = 0
    for article in data["data"]:
        unseen = [
            paragraph
            for paragraph in article["paragraphs"]
            if not any(str(qa["id"]) in drawn for qa in paragraph["qas"])
        ]
        if unseen:
            kept.append({**article, "paragraphs": unseen})
            paragraphs += len(unseen)
            questions_kept += sum(len(paragraph["qas"]) for paragraph in unseen)
    Path(arguments.output).write_text(json.dumps({"version": "heldout", "data": kept}), encoding="utf-8")
    print(f"{paragraphs} paragraphs, {questions_kept} questions never drawn for training -> {arguments.output}")


if __name__ == "__main__":
    main()
