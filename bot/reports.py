"""What one `add` did, for people: a summary line that counts every outcome and names what was skipped and why,
shared by the CLI and the REPL."""

from __future__ import annotations

from collections.abc import Sequence

from index import AddReport, SourceError, SyncReport, UnsupportedSource

__all__ = ["add_failed", "add_summary", "skipped_items", "sync_summary"]

_NAMED = 10


def skipped_items(errors: Sequence[SourceError]) -> list[str]:
    """Each skipped source as "name (reason)": "scan.pdf (no text layer)", "a.xyz (unsupported)"."""
    return [f"{error.item or 'a source'} ({error.reason or 'see the error above'})" for error in errors]


def add_summary(report: AddReport, errors: Sequence[SourceError]) -> str:
    """The summary line, e.g. 'Added 12, replaced 1, unchanged 3, skipped 2: scan.pdf (no text layer), a.xyz
    (unsupported); 40 new chunk(s).', saying so plainly when nothing could be added; "" when every input failed."""
    done = report.added or report.replaced or report.unchanged or report.duplicates
    if not done and any(not isinstance(error, UnsupportedSource) for error in errors):
        return ""  # every input failed: its errors say so, and a count of nothing would read like success
    counts = f"Added {len(report.added)}, replaced {len(report.replaced)}, unchanged {len(report.unchanged)}"
    if errors:
        items = skipped_items(errors)
        named = ", ".join(items[:_NAMED]) + (f" and {len(items) - _NAMED} more" if len(items) > _NAMED else "")
        counts += f", skipped {len(errors)}: {named}"
    if report.duplicates:
        repeats = ", ".join(
            f"{_short_source(duplicate.source)} (repeats {duplicate.title!r}, {duplicate.duplicate_of})"
            for duplicate in report.duplicates[:_NAMED]
        )
        more = f" and {len(report.duplicates) - _NAMED} more" if len(report.duplicates) > _NAMED else ""
        counts += f", not added as near-duplicates {len(report.duplicates)}: {repeats}{more}"
    summary = f"{counts}; {report.chunks} new chunk(s)."
    if not (report.added or report.replaced or report.unchanged or report.duplicates):
        if errors and all(isinstance(error, UnsupportedSource) for error in errors):
            summary += " Nothing was added: none of the files is of a kind quotebot reads."
        elif not errors:
            summary += " Nothing was added: no file quotebot reads was found there."
    return summary


def add_failed(report: AddReport, errors: Sequence[SourceError]) -> bool:
    """Whether `add` should exit non-zero: a source failed, or nothing at all could be read. Unsupported files
    beside articles in a folder (photos, spreadsheets) are only reported."""
    if any(not isinstance(error, UnsupportedSource) for error in errors):
        return True
    return not (report.added or report.replaced or report.unchanged or report.duplicates)


def _short_source(source: str) -> str:
    """A file's name, or a URL as it is."""
    return source if "://" in source else source.rstrip("/").rsplit("/", 1)[-1]


def sync_summary(report: SyncReport, errors: Sequence[SourceError]) -> str:
    """One sync as lines: what it added, replaced and removed (or, on a dry run, would), each file named."""
    plan = report.plan
    verb = "would " if report.added is None else ""
    lines = [f"{'Dry run: ' if report.added is None else ''}sync of {plan.folder}"]
    for label, sources in (("add", plan.add), ("replace", plan.replace), ("remove", plan.remove)):
        if sources:
            named = ", ".join(_short_source(source) for source in sources[:_NAMED])
            more = f" and {len(sources) - _NAMED} more" if len(sources) > _NAMED else ""
            lines.append(f"  {verb}{label} {len(sources)}: {named}{more}")
    lines.append(f"  unchanged {len(plan.unchanged)}")
    if report.added is not None:
        lines.append((add_summary(report.added, errors) or "Nothing was added.") + f" Removed {len(report.removed)}.")
    elif errors:
        lines.append(f"  skipped {len(errors)}: " + ", ".join(skipped_items(errors)[:_NAMED]))
    return "\n".join(lines)
