"""The REPL as a person uses it: a real `quotebot repl` in a pseudo-terminal (pexpect), prompt_toolkit and all."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import HUNGARY_SENTENCE, SWEDEN_QUESTION

from index.embedding import default_cache_folder

pexpect = pytest.importorskip("pexpect")

ROOT = Path(__file__).parent.parent
# prompt_toolkit draws the prompt's space as a cursor move.
PROMPT = "quotebot>"
# Colours, cursor moves and the like, which a terminal shows but a test reads past.
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def plain(text: str) -> str:
    return _ESCAPES.sub("", text)


def spawn_repl(home: Path) -> Any:
    """`quotebot repl` on the default library of a user data folder in `home` (made with the demo articles)."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("QUOTEBOT_")}
    environment.update(
        PYTHONPATH=str(ROOT),
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        QUOTEBOT_MODEL_CACHE=str(default_cache_folder()),
        TERM="xterm-256color",
        # pexpect's terminal never answers prompt_toolkit's cursor position requests.
        PROMPT_TOOLKIT_NO_CPR="1",
    )
    child = pexpect.spawn(
        sys.executable,
        ["-c", "from bot.cli import main; main()", "repl"],
        env=environment,
        cwd=str(home),
        dimensions=(50, 220),
        encoding="utf-8",
        codec_errors="replace",
        timeout=120,
    )
    child.expect("article\\(s\\) in")
    child.expect_exact(PROMPT)
    return child


def say(child: Any, line: str, expected: str) -> str:
    """Type `line`, wait for `expected` and then the next prompt, and return what was shown, escapes removed.

    The prompt is redrawn as the line is typed, so only a prompt after the answer's own text is the next one."""
    return plain(say_raw(child, line, expected))


def say_raw(child: Any, line: str, expected: str) -> str:
    child.sendline(line)
    child.expect_exact(expected)
    seen = child.before + child.after
    child.expect_exact(PROMPT)
    return str(seen + child.before)


@pytest.mark.slow
def test_a_session_in_a_terminal(tmp_path: Path) -> None:
    notes = tmp_path / "x"
    notes.mkdir()
    for number in range(1, 13):
        (notes / f"river-{number}.txt").write_text(
            f"Article number {number} says that the river Zorn{number} flows north into the lake of Brill{number}.",
            encoding="utf-8",
        )
    child = spawn_repl(tmp_path)

    shown = say(child, "help", "without the slash too.")
    assert "/context [N]" in shown and "/remove ID..." in shown and "—" not in shown

    assert "Added 12, replaced 0, unchanged 0; 12 new chunk(s)." in say(child, "/add ~/x", "new chunk(s).")

    first_page = say(child, "/sources", "for the next.")
    assert "Page 1 of 2 (13 articles); /sources 2 for the next." in first_page
    assert len(re.findall(r"│ [0-9a-f]{12} │", first_page)) == 10
    second_page = say(child, "/sources 2", "Page 2 of 2")
    assert len(re.findall(r"│ [0-9a-f]{12} │", second_page)) == 3
    rows = dict(re.findall(r"│ ([0-9a-f]{12}) │ (river \d+) ", first_page + second_page))
    river = next(article_id for article_id, title in rows.items() if title == "river 7")

    # The spinner runs while the first answer loads the reader.
    child.sendline(SWEDEN_QUESTION)
    child.expect_exact("Looking through your articles")
    child.expect_exact("(/more for the next quotes)")
    answer = plain(child.before + child.after)
    child.expect_exact(PROMPT)
    answer += plain(child.before)
    assert HUNGARY_SENTENCE in answer
    lines = answer.split("\n")
    credits = [number for number, line in enumerate(lines) if line.startswith("  — ")]
    assert len(credits) == 3
    # Each quote's credit line is followed by a blank line before the next quote; the /more hint, by one too.
    assert all(lines[number + 1].strip() == "" for number in credits[:-1])
    assert lines[credits[-1] + 1].startswith("(/more for the next quotes)") and lines[credits[-1] + 2].strip() == ""

    more = say(child, "/more", "(/more for the next quotes)")
    assert more.count("  — ") == 3 and HUNGARY_SENTENCE not in more

    raw = say_raw(child, "/context", "  — ")
    assert HUNGARY_SENTENCE in plain(raw) and "China’s security guarantees" in plain(raw)
    assert "\x1b[4m" in raw  # the quoted sentence is underlined inside its paragraph
    assert "/context 1 to /context" in say(child, "/context 99", "/context 1 to")

    shown = say(child, f"/show {river[:6]}", f"id {river}")
    assert "Article number 7 says that the river Zorn7 flows north" in shown
    assert f"Removed 1 article(s): {river}." in say(child, f"/remove {river[:6]}", "Removed")
    assert "(12 articles)" in say(child, "/sources", "Page 1 of 2")

    assert "\x1b[2J" in say_raw(child, "clear", "\x1b[2J")

    child.sendline("quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


@pytest.mark.slow
@pytest.mark.parametrize("word", ["exit", "quit"])
def test_a_bare_word_leaves(tmp_path: Path, word: str) -> None:
    child = spawn_repl(tmp_path)
    child.sendline(word)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "Not found" not in plain(child.before or "")
