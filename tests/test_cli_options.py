"""The rough edges of `quotebot` a new user hits first: mistyped folders and devices, options on either side,
id prefixes, JSON on failure, an honest add summary, the help and the README's table of commands."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CORPUS

from bot.cli import app
from index import available_devices
from index.embedding import default_cache_folder

ROOT = Path(__file__).parent.parent
QUOTEBOT = [sys.executable, "-c", "from bot.cli import main; main()"]
MISSING_LIBRARY = "there is no quotebot library in"


def quotebot(*arguments: str, environment: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real command in a clean environment: no QUOTEBOT_ setting but those given, a wide terminal for help."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("QUOTEBOT_")}
    clean.update(PYTHONPATH=str(ROOT), COLUMNS="200", **(environment or {}))
    return subprocess.run(
        [*QUOTEBOT, *arguments], capture_output=True, text=True, env=clean, timeout=300, check=False, cwd=ROOT
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def corpus_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library made by `quotebot add` of the test corpus (six articles), shared by the tests that only read."""
    folder = tmp_path_factory.mktemp("cli-options") / "library"
    result = quotebot("add", str(CORPUS), "--library", str(folder))
    assert result.returncode == 0, result.stderr
    return folder


@pytest.mark.parametrize(
    "arguments",
    [["ask", "Who?"], ["sources"], ["sources", "--stats"], ["show", "2bff"], ["remove", "2bff"], ["repl"]],
    ids=lambda arguments: " ".join(arguments),
)
@pytest.mark.parametrize("how", ["flag", "flag before the command", "environment"])
def test_a_mistyped_library_is_an_error_not_a_new_library(tmp_path: Path, arguments: list[str], how: str) -> None:
    typo = tmp_path / "quotebot-libary"
    if how == "flag":
        result = quotebot(*arguments, "-l", str(typo))
    elif how == "flag before the command":
        result = quotebot("--library", str(typo), *arguments)
    else:
        result = quotebot(*arguments, environment={"QUOTEBOT_LIBRARY": str(typo)})
    assert one_line_error(result) == (
        f"error: {MISSING_LIBRARY} '{typo}'; check the folder's name, or create a library there by adding "
        "articles to it"
    )
    assert result.returncode == 1 and not typo.exists()


def test_an_empty_folder_is_no_library_either_but_add_makes_one(tmp_path: Path) -> None:
    folder = tmp_path / "library"
    folder.mkdir()
    assert MISSING_LIBRARY in one_line_error(quotebot("sources", "-l", str(folder)))
    note = tmp_path / "note.txt"
    note.write_text("The harbour of Brill was dredged in 1911.", encoding="utf-8")
    added = quotebot("add", str(note), "-l", str(folder))
    assert added.returncode == 0, added.stderr
    assert "Creating a new, empty library" in added.stderr
    assert added.stdout == "Added 1, replaced 0, unchanged 0; 1 new chunk(s).\n"
    listed = json.loads(quotebot("sources", "--json", "-l", str(folder)).stdout)
    assert [item["title"] for item in listed] == ["note"]


@pytest.mark.parametrize("place", ["after the command", "before the command"])
def test_a_device_that_is_not_there_names_the_devices_that_are(tmp_path: Path, place: str) -> None:
    here = available_devices(probe=True)
    missing = f"cuda:{sum(device.startswith('cuda') for device in here)}"
    library = ["-l", str(tmp_path / "library")]
    if place == "after the command":
        result = quotebot("ask", "--device", missing, "Who?", *library)
    else:
        result = quotebot("--device", missing, "ask", "Who?", *library)
    line = one_line_error(result)
    assert line.startswith(f"error: the device {missing!r} is not on this machine")
    assert line.endswith(f"use one of: {', '.join(here)}")


def test_global_options_work_on_either_side_of_the_command(corpus_folder: Path) -> None:
    after = quotebot("sources", "--json", "--device", "cpu", "--library", str(corpus_folder))
    before = quotebot("--device", "cpu", "-l", str(corpus_folder), "sources", "--json")
    assert after.returncode == 0 and before.returncode == 0, after.stderr + before.stderr
    assert json.loads(after.stdout) == json.loads(before.stdout)
    assert len(json.loads(after.stdout)) == 6


def test_show_and_remove_take_a_unique_id_prefix(tmp_path: Path, corpus_folder: Path) -> None:
    listed = json.loads(quotebot("sources", "--json", "-l", str(corpus_folder)).stdout)
    coffee = next(item for item in listed if item["title"] == "How coffee reached Europe")
    prefix = next(
        coffee["id"][:length]
        for length in range(4, 13)
        if sum(item["id"].startswith(coffee["id"][:length]) for item in listed) == 1
    )
    shown = quotebot("show", prefix, "--json", "-l", str(corpus_folder))
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["id"] == coffee["id"]
    assert "Coffee arrived in Venice in 1615" in quotebot("show", prefix, "-l", str(corpus_folder)).stdout

    # Any one hex digit starts several of six ids only by chance; a digit that starts two of them must be refused.
    firsts = [item["id"][0] for item in listed]
    shared = next((digit for digit in firsts if firsts.count(digit) > 1), None)
    if shared is not None:
        assert "starts more than one article's id" in one_line_error(quotebot("show", shared, "-l", str(corpus_folder)))


def test_remove_by_prefix(tmp_path: Path) -> None:
    folder = tmp_path / "library"
    quotebot("add", str(CORPUS / "lighthouse.md"), "-l", str(folder))
    [article] = json.loads(quotebot("sources", "--json", "-l", str(folder)).stdout)
    removed = quotebot("remove", article["id"][:5], "--json", "-l", str(folder))
    assert json.loads(removed.stdout) == {"removed": [article["id"]]}
    assert json.loads(quotebot("sources", "--json", "-l", str(folder)).stdout) == []


@pytest.mark.parametrize(
    ("arguments", "kind", "message"),
    [
        (["remove", "--json", "zzz"], "ArticleNotFound", "no article has id 'zzz'"),
        (["show", "zzz", "--json"], "ArticleNotFound", "no article has id 'zzz'"),
        (["ask", "   ", "--json"], "InvalidQuestion", "the question is empty"),
        (["sources", "--json", "--device", "tpu"], "DeviceUnavailable", "'tpu' is not a device"),
        (["ask", "--json", "-k", "0", "Who?"], "BadParameter", "Invalid value for '-k' / '--quotes'"),
    ],
)
def test_every_json_failure_is_json_on_stdout(
    corpus_folder: Path, arguments: list[str], kind: str, message: str
) -> None:
    result = quotebot(*arguments, "-l", str(corpus_folder))
    assert result.returncode in (1, 2)
    printed = json.loads(result.stdout)
    assert printed["kind"] == kind and printed["exit_code"] == result.returncode
    assert printed["error"].startswith(message) or message in printed["error"]
    assert message in one_line_error(result)


def test_a_missing_library_with_json_is_json_too(tmp_path: Path) -> None:
    result = quotebot("sources", "--json", "-l", str(tmp_path / "typo"))
    assert json.loads(result.stdout)["kind"] == "LibraryNotFound"


def test_an_add_where_every_input_failed_prints_no_summary(tmp_path: Path) -> None:
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x00\x01\x02\x03" * 100)
    result = quotebot("add", str(binary), str(tmp_path / "missing.md"), "-l", str(tmp_path / "library"))
    assert result.returncode == 1
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and "binary file" in errors[0] and "does not exist" in errors[1]
    as_json = quotebot("add", str(binary), "--json", "-l", str(tmp_path / "library"))
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["added"] == [] and len(json.loads(as_json.stdout)["errors"]) == 1


def test_add_expands_a_tilde_the_shell_left_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "notes").mkdir(parents=True)
    (home / "notes" / "brill.txt").write_text("The harbour of Brill was dredged in 1911.", encoding="utf-8")
    result = quotebot(
        "add",
        "~/notes",
        "-l",
        str(tmp_path / "library"),
        environment={"HOME": str(home), "QUOTEBOT_MODEL_CACHE": str(default_cache_folder())},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Added 1,")


def _rows(help_text: str) -> dict[str, str]:
    """Each option's row of a rich help panel: its name(s) and what follows them, keyed by the long name."""
    rows = {}
    for line in help_text.splitlines():
        found = re.match(r"│ (--[\w-]+)\s+(?:-\w\s+)?(.*?)\s*│$", line)
        if found:
            rows[found.group(1)] = found.group(2)
    return rows


@pytest.mark.parametrize(
    ("command", "flags", "example"),
    [
        ("ask", ["--json", "--help"], 'quotebot ask "When did coffee reach Venice?" -k 5'),
        ("sources", ["--json", "--stats", "--help"], "quotebot sources --stats"),
        ("show", ["--json"], "quotebot show 2bff"),
        ("remove", ["--json"], "quotebot remove 2bff0110c089"),
        ("add", ["--json"], "quotebot add ~/saved-pages notes.md"),
        ("repl", ["--help"], "quotebot repl"),
        ("eval", ["--json"], "quotebot eval ../shared/data/squad-v2.0-dev.json --split test --limit 1500 -l"),
        ("bench", ["--million", "--json"], "quotebot bench --data ../shared/data --chunks 100"),
    ],
)
def test_help_shows_flags_as_flags_and_an_example(command: str, flags: list[str], example: str) -> None:
    result = quotebot(command, "--help")
    assert result.returncode == 0
    assert "<bool>" not in result.stdout
    rows = _rows(result.stdout)
    for flag in flags:
        assert flag in rows and not rows[flag].startswith("<"), rows.get(flag)
    # bench builds libraries of its own, and a database URL adds PostgreSQL ones beside them.
    expected = "URL " if command == "bench" else "DIR|URL "
    assert "--library" in rows and rows["--library"].startswith(expected)
    assert example in " ".join(result.stdout.split())


def test_eval_takes_l_and_the_environment_and_refuses_a_library_of_other_articles(
    tmp_path: Path, corpus_folder: Path
) -> None:
    help_text = quotebot("eval", "--help").stdout
    assert re.search(r"│ --library\s+-l\s+DIR\|URL ", help_text) and "[env var: QUOTEBOT_LIBRARY]" in help_text
    dataset = tmp_path / "tiny.json"
    paragraph = {
        "context": "Mount Etna is on Sicily.",
        "qas": [{"id": "1", "question": "Where is Etna?", "answers": []}],
    }
    dataset.write_text(json.dumps({"data": [{"title": "Volcanoes", "paragraphs": [paragraph]}]}), encoding="utf-8")
    before = json.loads(quotebot("sources", "--json", "-l", str(corpus_folder)).stdout)
    result = quotebot("eval", str(dataset), environment={"QUOTEBOT_LIBRARY": str(corpus_folder)})
    line = one_line_error(result)
    assert f"the library in '{corpus_folder}' holds 6 article(s) that are not in this file" in line
    assert json.loads(quotebot("sources", "--json", "-l", str(corpus_folder)).stdout) == before


def test_the_root_help_and_the_readme_list_every_command_with_an_example() -> None:
    commands = sorted(
        info.name or (info.callback.__name__ if info.callback else "") for info in app.registered_commands
    )
    assert commands == ["add", "ask", "bench", "eval", "remove", "repl", "show", "sources", "telegram"]
    root = " ".join(quotebot("--help").stdout.split())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = re.findall(r"^\| `quotebot (\w+)[^|]*\| [^|]+ \| `([^`]*quotebot [^`]+)` \|$", readme, re.M)
    # `add` has two rows (plain and --sync).
    assert sorted({name for name, _ in table}) == commands
    for name, _ in table:
        # The root help's examples, one per command, as the README's table has.
        assert re.search(rf"quotebot {name}\b", root.split("Examples", 1)[1]), name
    assert "<bool>" not in root


@pytest.mark.slow
def test_the_first_model_export_says_what_it_does_and_no_library_log_line_leaks(tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("The harbour of Brill was dredged in 1911.", encoding="utf-8")
    folder = tmp_path / "library"
    fresh = {"QUOTEBOT_MODEL_CACHE": str(tmp_path / "models")}
    result = quotebot("add", str(note), "-l", str(folder), environment=fresh)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[:3] == [
        "Preparing the language model for this machine; this happens once and takes up to a minute …",
        "  step 1 of 2: exporting the bundled model to ONNX …",
        "  step 2 of 2: quantising it to int8 …",
    ]
    assert re.fullmatch(r"The model is ready \(\d+ s\)\.", lines[3])
    # Nothing else: onnxruntime's "Please consider to run pre-processing" and torch's warnings stay out.
    assert lines[4:] == [f"Creating a new, empty library in {folder}."]
    assert result.stdout.startswith("Added 1,")
    again = quotebot("ask", "When was the harbour of Brill dredged?", "-l", str(folder), environment=fresh)
    assert again.returncode == 0 and again.stderr == "" and "1911" in again.stdout


def test_bench_takes_only_a_database_url_as_its_library(tmp_path: Path) -> None:
    result = quotebot("bench", "--chunks", "3", "--library", str(tmp_path / "library"), "--json")
    line = one_line_error(result)
    assert "is not a postgresql:// URL" in line and "--library" in line
    assert json.loads(result.stdout)["kind"] == "BadParameter"
    assert not (tmp_path / "library").exists()  # refused before anything was built
