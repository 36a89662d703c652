"""Typed errors of the engine; front ends turn them into one-line messages.

    QuotebotError
    ├── InvalidQuestion       empty or over-long question
    ├── InvalidFilter         a filter (source, title, article, dates) that cannot hold
    ├── SourceError           a file, folder or URL that cannot be read as articles
    ├── LibraryError          the library folder itself
    │   ├── NotALibrary       a folder that holds something else (left untouched)
    │   ├── CorruptLibrary    a database that SQLite cannot read
    │   ├── EmbedderMismatch  the library was built by another embedder
    │   ├── LibraryBusy       another process is writing
    │   ├── ReadOnlyLibrary   a write to a folder this process may only read
    │   └── DiskFull          no space left on the library's disk
    └── ArticleNotFound       no article with that id

Every message is one sentence: what was wrong, the value, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "ArticleNotFound",
    "CorruptLibrary",
    "DiskFull",
    "EmbedderMismatch",
    "InvalidFilter",
    "InvalidQuestion",
    "LibraryBusy",
    "LibraryError",
    "NotALibrary",
    "QuotebotError",
    "ReadOnlyLibrary",
    "SourceError",
]


class QuotebotError(Exception):
    """Base of every error the engine raises on purpose."""


class InvalidQuestion(QuotebotError):
    """The question is empty or longer than the limit."""


class InvalidFilter(QuotebotError):
    """A filter of `ask` (a date, an empty field, until before since) that cannot be applied."""


class SourceError(QuotebotError):
    """A source (file, folder, URL, record) cannot be read as articles."""


class LibraryError(QuotebotError):
    """The library folder cannot be used."""


class NotALibrary(LibraryError):
    """The folder exists and holds something that is not a quotebot library."""


class CorruptLibrary(LibraryError):
    """The library's database cannot be read."""


class EmbedderMismatch(LibraryError):
    """The library was built with another embedder than the one given."""


class LibraryBusy(LibraryError):
    """Another process holds the library's write lock."""


class ReadOnlyLibrary(LibraryError):
    """The library can be read but not written: the folder or its files are read-only."""


class DiskFull(LibraryError):
    """The disk holding the library has no space left (SQLITE_FULL or ENOSPC)."""


class ArticleNotFound(QuotebotError):
    """No article has that id."""
