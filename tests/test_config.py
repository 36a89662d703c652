"""Every limit is a setting: read once in bot/config.py, validated with one line, passed to the engine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import DEFAULT_FETCH_THREADS, ConfigError, Settings, load_settings
from index.articles import MAX_SOURCE_BYTES
from index.embedding import HashingEmbedder
from index.library import DEFAULT_ARTICLE_CHARACTERS, Library
from index.quoting import DEFAULT_QUOTE_CHARACTERS
from index.streaming import DEFAULT_PART_CHARACTERS

QUOTEBOT = [sys.executable, "-c", "from bot.cli import main; main()"]


def _settings(**values: object) -> Settings:
    return load_settings(_env_file=None, **values)


def test_the_settings_defaults_are_the_engines_own() -> None:
    settings = _settings()
    assert settings.library_limits() == {
        "max_article_characters": DEFAULT_ARTICLE_CHARACTERS,
        "max_quote_characters": DEFAULT_QUOTE_CHARACTERS,
        "part_characters": DEFAULT_PART_CHARACTERS,
        "max_file_bytes": MAX_SOURCE_BYTES,
    }
    assert settings.fetch_threads == DEFAULT_FETCH_THREADS == 3


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("QUOTEBOT_MAX_QUOTE_CHARACTERS", "12", "greater than or equal to 40"),
        ("QUOTEBOT_MAX_ARTICLE_CHARACTERS", "lots", "a valid integer"),
        ("QUOTEBOT_ARTICLE_PART_CHARACTERS", "10", "greater than or equal to 1000"),
        ("QUOTEBOT_MAX_FILE_BYTES", "0", "greater than or equal to 1"),
        ("QUOTEBOT_FETCH_THREADS", "0", "greater than or equal to 1"),
        ("QUOTEBOT_FETCH_DEADLINE", "-1", "greater than 0"),
        ("QUOTEBOT_MAX_DOWNLOAD_BYTES", "0", "greater than 0"),
        ("QUOTEBOT_QUESTIONS_IN_FLIGHT", "0", "greater than or equal to 1"),
        ("QUOTEBOT_QUESTIONS_PER_MINUTE", "x", "a valid integer"),
        ("QUOTEBOT_STORED_ANSWERS_PER_USER", "0", "greater than or equal to 1"),
    ],
)
def test_a_bad_limit_is_one_line_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        load_settings(_env_file=None)
    message = str(raised.value)
    assert message.startswith(f"{variable} is invalid: Input should be {reason}") and "\n" not in message


def test_the_limits_reach_the_library_and_a_long_text_is_cut_at_the_part_size(tmp_path: Path) -> None:
    settings = _settings(max_quote_characters=50, max_article_characters=5000, article_part_characters=2000)
    text = "".join(f"Paragraph {number} says the crane was mended.\n\n" for number in range(300))
    (tmp_path / "log.txt").write_text(text, encoding="utf-8")
    with Library.open(tmp_path / "library", embedder=HashingEmbedder(), **settings.library_limits()) as library:
        assert (library.max_quote_characters, library.max_article_characters) == (50, 5000)
        library.add(library.read_sources([str(tmp_path / "log.txt")]))
        articles = library.articles()
        assert len(articles) > len(text) // 2000
        assert all(len(library.article(article.id).text) <= 2000 for article in articles)


def test_the_cli_takes_its_limits_from_the_environment(tmp_path: Path) -> None:
    # A .md is read whole (a long .txt would be cut into parts instead), so the article limit refuses it.
    (tmp_path / "long.md").write_text("A long article. " * 20, encoding="utf-8")
    (tmp_path / "page.html").write_text("<html><body><p>" + "A page. " * 80 + "</p></body></html>", encoding="utf-8")
    environment = {
        **os.environ,
        "QUOTEBOT_LIBRARY": str(tmp_path / "library"),
        "PYTHONPATH": str(Path(__file__).parent.parent),
        "QUOTEBOT_MAX_ARTICLE_CHARACTERS": "100",
        "QUOTEBOT_MAX_FILE_BYTES": "400",
    }
    result = subprocess.run(
        [*QUOTEBOT, "add", str(tmp_path / "long.md"), str(tmp_path / "page.html")],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = [" ".join(line.split()) for line in result.stderr.strip().split("error:")[1:]]
    assert len(lines) == 2
    # The CLI names each limit by the setting that changes it.
    assert "characters, over the library's limit of 100 (QUOTEBOT_MAX_ARTICLE_CHARACTERS)" in lines[0]
    assert "page.html' is" in lines[1] and "the limit is 400 (QUOTEBOT_MAX_FILE_BYTES)" in lines[1]
    bad = subprocess.run(
        [*QUOTEBOT, "sources"],
        capture_output=True,
        text=True,
        env={**environment, "QUOTEBOT_MAX_QUOTE_CHARACTERS": "ten"},
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith(
        "error: QUOTEBOT_MAX_QUOTE_CHARACTERS is invalid: Input should be a valid integer"
    )
    assert len(bad.stderr.strip().splitlines()) == 1
