"""Typed errors of the engine; front ends turn them into one-line messages.

    QuotebotError
    ├── InvalidQuestion       empty or over-long question
    ├── InvalidFilter         a filter (source, title, article, dates) that cannot hold
    ├── SourceError           a file, folder or URL that cannot be read as articles
    │   └── UnsupportedSource a file in a folder of a kind quotebot does not read (skipped, not a failure)
    ├── LibraryError          the library folder itself
    │   ├── NotALibrary       a folder that holds something else (left untouched)
    │   ├── LibraryNotFound   a library folder named explicitly that does not exist (a typo?)
    │   ├── CorruptLibrary    a database that SQLite cannot read
    │   ├── EmbedderMismatch  the library was built by another embedder
    │   ├── LibraryBusy       another process is writing
    │   ├── LibraryUnreachable  a library's database server that cannot be reached or refuses the login
    │   ├── ReadOnlyLibrary   a write to a folder this process may only read
    │   └── DiskFull          no space left on the library's disk
    ├── DeviceUnavailable     a device (cuda, cuda:1, mps) that this machine does not have
    └── ArticleNotFound       no article with that id (or id prefix)
        └── AmbiguousArticleId  an id prefix that several articles share

Every message is one sentence: what was wrong, the value, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousArticleId",
    "ArticleNotFound",
    "CorruptLibrary",
    "DeviceUnavailable",
    "DiskFull",
    "EmbedderMismatch",
    "InvalidFilter",
    "InvalidQuestion",
    "LibraryBusy",
    "LibraryError",
    "LibraryNotFound",
    "LibraryUnreachable",
    "NotALibrary",
    "QuotebotError",
    "ReadOnlyLibrary",
    "SourceError",
    "UnsupportedSource",
]


class QuotebotError(Exception):
    """Base of every error the engine raises on purpose."""


class InvalidQuestion(QuotebotError):
    """The question is empty or longer than the limit."""


class InvalidFilter(QuotebotError):
    """A filter of `ask` (a date, an empty field, until before since) that cannot be applied."""


class SourceError(QuotebotError):
    """A source (file, folder, URL, record) cannot be read as articles.

    `item` names the source (a file name, a URL, "records.jsonl line 3") and `reason` says in a few words why
    ("no text layer"), for a batch's summary; the message says it in full, with how to fix it.
    """

    def __init__(self, message: str, *, item: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.item = item
        self.reason = reason


class UnsupportedSource(SourceError):
    """A file met in a folder is of a kind quotebot does not read; it is skipped and reported, not a failure."""


class LibraryError(QuotebotError):
    """The library folder cannot be used."""


class NotALibrary(LibraryError):
    """The folder exists and holds something that is not a quotebot library."""


class LibraryNotFound(LibraryError):
    """The folder asked for holds no library, and opening it was not allowed to create one."""


class CorruptLibrary(LibraryError):
    """The library's database cannot be read."""


class EmbedderMismatch(LibraryError):
    """The library was built with another embedder than the one given."""


class LibraryBusy(LibraryError):
    """Another process holds the library's write lock."""


class LibraryUnreachable(LibraryError):
    """The database server of a library (a postgresql:// URL) cannot be reached, or it refuses the login."""


class ReadOnlyLibrary(LibraryError):
    """The library can be read but not written: the folder or its files are read-only."""


class DiskFull(LibraryError):
    """The disk holding the library has no space left (SQLITE_FULL or ENOSPC)."""


class ArticleNotFound(QuotebotError):
    """No article has that id."""


class AmbiguousArticleId(ArticleNotFound):
    """An id prefix that more than one article's id starts with."""


class DeviceUnavailable(QuotebotError):
    """The device asked for is not on this machine, or this build of torch cannot use it."""
