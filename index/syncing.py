"""Keeping the articles from one folder in step with it: new and changed files added, deleted ones removed,
the others untouched; or, on a dry run, only the plan.

An article belongs to a folder when its source is a path inside it (a file, or a record of a JSON file there:
`path#3`). A JSON record that names its own URL is stored under that URL, so it is added like any other but
never removed by a sync. A file that cannot be read this time keeps its articles: only a file that is gone, or a
record gone from a file that was read, is removed.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from index.articles import storable
from index.errors import SourceError
from index.library import Library
from index.models import AddReport, Document

__all__ = ["SyncPlan", "SyncReport", "sync_folder"]


class SyncPlan(BaseModel):
    """What a sync does (or would do), by source."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    folder: str
    add: list[str] = Field(default_factory=list)
    replace: list[str] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)


class SyncReport(BaseModel):
    """The plan, and what carrying it out did (None on a dry run)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    plan: SyncPlan
    added: AddReport | None = None
    removed: list[str] = Field(default_factory=list, description="ids of the articles removed")


def sync_folder(
    library: Library,
    folder: Path,
    *,
    dry_run: bool = False,
    errors: list[SourceError] | None = None,
    progress: Callable[[int], None] | None = None,
) -> SyncReport:
    """Make the library's articles from `folder` match the folder; with `dry_run`, only say what that takes."""
    root = folder.expanduser()
    if not root.is_dir():
        raise SourceError(f"{str(folder)!r} is not a folder; --sync keeps the articles of one folder in step with it")
    prefix = os.fsencode(root.resolve()).decode("utf-8", "backslashreplace").rstrip(os.sep) + os.sep
    collected = errors if errors is not None else []
    documents: list[Document] = []
    troubled: set[str] = set()  # files read only in part (a bad JSON Lines line): none of their articles goes
    since: list[Document] = []
    seen_errors = [len(collected)]

    def finished() -> None:
        if len(collected) > seen_errors[0]:
            troubled.update(_file_of(document.source) for document in since)
        seen_errors[0] = len(collected)
        since.clear()

    for document in library.read_sources([str(root)], errors=collected, finished=finished):
        documents.append(document)
        since.append(document)
    stored = library.sources_under(prefix)
    plan_add: list[str] = []
    plan_replace: list[str] = []
    unchanged: list[str] = []
    changed: list[Document] = []
    present: set[str] = set()
    for document in documents:
        present.add(document.source)
        known = stored.get(document.source)
        if known is None:
            plan_add.append(document.source)
            changed.append(document)
        elif known[1] != hashlib.sha256(storable(document.text).encode("utf-8")).hexdigest():
            plan_replace.append(document.source)
            changed.append(document)
        else:
            unchanged.append(document.source)
    read_files = {_file_of(source) for source in present} - troubled
    gone = sorted(
        source
        for source in stored
        if source not in present
        and _file_of(source) not in troubled
        and (not Path(_file_of(source)).exists() or _file_of(source) in read_files)
    )
    plan = SyncPlan(folder=prefix, add=plan_add, replace=plan_replace, remove=gone, unchanged=unchanged)
    if dry_run:
        return SyncReport(plan=plan)
    # Gone sources go first: a renamed file (or a .txt grown into parts) holds the text of one that is gone,
    # and would otherwise count as "unchanged" beside it just before it is removed.
    removed = library.remove([stored[source][0] for source in gone]) if gone else []
    added = library.add(changed, errors=errors, progress=progress)
    return SyncReport(plan=plan, added=added, removed=removed)


_RECORD = re.compile(r"#(?:\d+|part-\d+)$")


def _file_of(source: str) -> str:
    """The file a stored source comes from: "notes.jsonl#3" and "log.txt#part-2" name their file; a path with a
    "#" of its own ("~/code/C#/a.txt") is a file as it is."""
    return _RECORD.sub("", source)
