"""A real REPL in a pseudo-terminal (pexpect) and the `ask` command: follow-ups, /new, /filter, /why, --explain."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from conversation_set import ARTICLES

pytestmark = pytest.mark.slow

QUOTEBOT = [sys.executable, "-c", "from bot.cli import main; main()"]
ROOT = Path(__file__).parent.parent
PROMPT = "quotebot> "


def _environment(library: Path, home: Path) -> dict[str, str]:
    # TERM=dumb: prompt_toolkit and rich write plain text, so the screen can be matched as text.
    return {
        **os.environ,
        "QUOTEBOT_LIBRARY": str(library),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home),
        "TERM": "dumb",
        "PYTHONPATH": str(ROOT),
    }


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A library holding only the eight conversation articles, built by `quotebot add`, and a home folder."""
    library = tmp_path_factory.mktemp("repl") / "library"
    home = tmp_path_factory.mktemp("home")
    added = subprocess.run(
        [*QUOTEBOT, "add", str(ARTICLES)], env=_environment(library, home), capture_output=True, text=True, check=False
    )
    assert added.returncode == 0, added.stderr
    yield library, home


def _ask(child: pexpect.spawn, line: str) -> str:
    child.sendline(line)
    child.expect_exact(PROMPT)
    return " ".join(str(child.before).split())


def test_the_repl_keeps_its_turns_until_new_and_explains_with_why(folders: tuple[Path, Path]) -> None:
    library, home = folders
    child = pexpect.spawn(
        QUOTEBOT[0], [*QUOTEBOT[1:], "repl"], env=_environment(library, home), encoding="utf-8", timeout=180
    )
    try:
        child.expect_exact(PROMPT)
        first = _ask(child, "Who won the Halden marathon?")
        assert first.index("Karl Osei won the Halden marathon") < first.index("sure")
        born = _ask(child, "Where was he born?")
        assert born.index("Osei was born in 1992 in Accra") < born.index("sure")
        why = _ask(child, "/why")
        assert "Why this answer to 'Where was he born?'" in why
        assert "searched as 'Where was Karl Osei born?'" in why
        assert "1. quoted: “Osei was born in 1992 in Accra" in why and "threshold is" in why
        assert "A new conversation" in _ask(child, "/new")
        assert "Not found in your articles." in _ask(child, "Why?")
        assert "Searching only articles matching since:2015-01-01 until:2015-12-31" in _ask(
            child, "/filter since:2015 until:2015"
        )
        flood = _ask(child, "How many people were hurt?")
        assert flood.index("Forty people were hurt") < flood.index("sure")
        assert "Twelve people" not in flood and "Three runners" not in flood
        assert "No filter" in _ask(child, "/filter off")
        bad = _ask(child, "/ask until:someday Who won?")
        assert "error: the filter until is not valid" in bad and "Traceback" not in bad
        one_off = _ask(child, "/ask source:*sport.example.com* How many were hurt?")
        assert "Three runners were hurt" in one_off
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


def _run(*arguments: str, folders: tuple[Path, Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QUOTEBOT, *arguments], env=_environment(*folders), capture_output=True, text=True, timeout=300, check=False
    )


def test_ask_filters_and_explain(folders: tuple[Path, Path]) -> None:
    filtered = _run(
        "ask", "How many people were hurt?", "--since", "2015", "--until", "2015", "--json", folders=folders
    )
    assert filtered.returncode == 0, filtered.stderr
    quotes = json.loads(filtered.stdout)["quotes"]
    assert quotes[0]["text"].startswith("Forty people were hurt")
    assert {quote["title"] for quote in quotes} == {"Tamsin flood hits Port Avery"}
    sport = _run("ask", "How many were hurt?", "--source", "sport.example", "-k", "2", "--json", folders=folders)
    assert {quote["title"] for quote in json.loads(sport.stdout)["quotes"]} == {"Karl Osei wins the Halden marathon"}

    explained = _run("ask", "Who built the Northline railway?", "--explain", folders=folders)
    assert explained.returncode == 0, explained.stderr
    assert explained.stdout.startswith("Answer: ")
    assert "It was built by the engineer Samuel Pryce" in explained.stdout
    assert "Why this answer to 'Who built the Northline railway?':" in explained.stdout
    assert "1. quoted: “It was built by the engineer Samuel Pryce" in explained.stdout
    assert "why it lost:" in explained.stdout and "threshold is" in explained.stdout
    as_json = json.loads(_run("ask", "Who built the Northline railway?", "--explain", "--json", folders=folders).stdout)
    assert "It was built by the engineer Samuel Pryce" in as_json["answer"]["quotes"][0]["text"]
    assert as_json["candidates"][0]["outcome"] == "quoted" and "coverage" in as_json["candidates"][0]["features"]

    bad = _run("ask", "Who won?", "--since", "2020", "--until", "2019", folders=folders)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith("error: the filter") and "before since" in bad.stderr and "Traceback" not in bad.stderr
