"""`quotebot add` reports every item: what was added, unchanged and skipped, and why."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from made_files import scan_pdf
from test_cli import run

from bot.reports import add_failed, add_summary
from index import AddReport, SourceError, UnsupportedSource


def test_the_summary_names_each_skipped_item_with_its_reason() -> None:
    report = AddReport(added=["a"] * 12, unchanged=["b"] * 3, chunks=40)
    errors = [
        SourceError("'scan.pdf' has no text layer", item="scan.pdf", reason="no text layer"),
        UnsupportedSource("'a.xyz' was skipped", item="a.xyz", reason="unsupported"),
    ]
    assert add_summary(report, errors) == (
        "Added 12, replaced 0, unchanged 3, skipped 2: scan.pdf (no text layer), a.xyz (unsupported); 40 new chunk(s)."
    )
    assert add_failed(report, errors)
    assert not add_failed(report, errors[1:])


def test_a_folder_batch_reports_every_item_and_adds_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "good.txt").write_text("The dam was finished in 1936.", encoding="utf-8")
    scan_pdf(folder / "scan.pdf")
    (folder / "a.xyz").write_text("what is this", encoding="utf-8")
    lines = ['{"text": "First record."}', '{"text": "Second record."}', "{not json", '{"text": "Fourth record."}']
    (folder / "records.jsonl").write_text("\n".join(lines), encoding="utf-8")
    result = run("add", str(folder), library=tmp_path / "library")
    assert result.returncode == 1
    assert result.stdout.strip() == (
        "Added 4, replaced 0, unchanged 0, skipped 3: a.xyz (unsupported), records.jsonl line 3 (not valid JSON), "
        "scan.pdf (no text layer); 4 new chunk(s)."
    )
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: line 3 of 'records.jsonl' is not valid JSON (Expecting property name enclosed in double quotes); "
        "fix or re-export it",
        "error: 'scan.pdf' has no text layer (a scan?); quotebot does no OCR: run OCR on it (e.g. ocrmypdf) and add "
        "the result",
    ]
    again = run("add", str(folder / "good.txt"), "--json", library=tmp_path / "library")
    assert again.returncode == 0
    assert len(json.loads(again.stdout)["unchanged"]) == 1


def test_a_folder_with_only_unsupported_files_says_so_and_fails(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "one.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (folder / "two.xlsx").write_bytes(b"PK")
    result = run("add", str(folder), library=tmp_path / "library")
    assert result.returncode == 1
    assert result.stdout.strip() == (
        "Added 0, replaced 0, unchanged 0, skipped 2: one.png (unsupported), two.xlsx (unsupported); 0 new chunk(s). "
        "Nothing was added: none of the files is of a kind quotebot reads."
    )


def stored_articles(database: Path) -> int:
    if not database.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        try:
            return int(connection.execute("SELECT count(*) FROM articles").fetchone()[0])
        except sqlite3.OperationalError:  # the schema is not written yet
            return 0


def test_ctrl_c_during_an_add_says_how_many_articles_were_kept(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for number in range(3000):
        sentences = " ".join(f"Note {number} records the value {number * step} on day {step}." for step in range(12))
        (folder / f"note-{number:04}.txt").write_text(sentences, encoding="utf-8")
    library = tmp_path / "library"
    database = library / "library.sqlite3"
    environment = {**os.environ, "QUOTEBOT_LIBRARY": str(library), "PYTHONPATH": str(Path(__file__).parent.parent)}
    process = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "add", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None and stored_articles(database) == 0:
        time.sleep(0.2)
    assert process.poll() is None, "the add finished before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    found = re.search(r"Interrupted; the (\d+) article\(s\) saved before this point are kept\.", stderr)
    assert found is not None, stderr
    assert int(found.group(1)) == stored_articles(database) > 0
    assert "Traceback" not in stderr
