"""`quotebot add --sync FOLDER`: the library's articles from a folder follow the folder; --dry-run only tells."""

from __future__ import annotations

import json
from pathlib import Path

from test_cli import run

from index import sync_folder
from index.articles import read_sources
from index.embedding import HashingEmbedder
from index.library import Library


def make_folder(root: Path) -> Path:
    folder = root / "notes"
    folder.mkdir()
    (folder / "keep.txt").write_text("The ferry leaves at nine.", encoding="utf-8")
    (folder / "edit.txt").write_text("The museum opens at ten.", encoding="utf-8")
    (folder / "delete.txt").write_text("The bakery closes at six.", encoding="utf-8")
    return folder


def test_sync_adds_new_and_changed_files_removes_deleted_ones_and_leaves_the_rest(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    elsewhere = tmp_path / "other.txt"
    elsewhere.write_text("A note from elsewhere.", encoding="utf-8")
    with Library.open(tmp_path / "library", embedder=HashingEmbedder()) as library:
        first = sync_folder(library, folder)
        assert first.added is not None and len(first.added.added) == 3
        library.add(read_sources([str(elsewhere)]))
        keep_id = next(a.id for a in library.articles() if a.source.endswith("keep.txt"))
        (folder / "edit.txt").write_text("The museum opens at eleven.", encoding="utf-8")
        (folder / "delete.txt").unlink()
        (folder / "new.txt").write_text("The library lends bicycles.", encoding="utf-8")
        plan = sync_folder(library, folder, dry_run=True).plan
        root = str(folder.resolve())
        assert (plan.add, plan.replace, plan.remove, plan.unchanged) == (
            [f"{root}/new.txt"],
            [f"{root}/edit.txt"],
            [f"{root}/delete.txt"],
            [f"{root}/keep.txt"],
        )
        assert len(library.articles()) == 4  # the dry run changed nothing
        report = sync_folder(library, folder)
        texts = sorted(library.article(article.id).text for article in library.articles())
        assert report.added is not None and len(report.added.added) == 1 and len(report.added.replaced) == 1
        assert len(report.removed) == 1
        assert keep_id in {article.id for article in library.articles()}
    assert texts == [
        "A note from elsewhere.",
        "The ferry leaves at nine.",
        "The library lends bicycles.",
        "The museum opens at eleven.",
    ]


def test_the_cli_dry_run_names_what_it_would_do(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    library = tmp_path / "library"
    assert run("add", "--sync", str(folder), library=library).returncode == 0
    (folder / "delete.txt").unlink()
    result = run("add", "--sync", str(folder), "--dry-run", library=library)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"Dry run: sync of {folder.resolve()}/",
        "  would remove 1: delete.txt",
        "  unchanged 2",
    ]
    listed = json.loads(run("sources", "--json", library=library).stdout)
    assert str(folder.resolve() / "delete.txt") in {article["source"] for article in listed}


def test_dry_run_without_sync_is_refused(tmp_path: Path) -> None:
    result = run("add", str(tmp_path), "--dry-run", library=tmp_path / "library")
    assert result.returncode != 0
    assert "--dry-run goes with --sync" in result.stderr
