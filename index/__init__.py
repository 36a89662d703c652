"""quotebot's engine: articles in, exact quotes out. Knows nothing of Telegram or terminals."""

from __future__ import annotations

from index.errors import (
    ArticleNotFound,
    CorruptLibrary,
    DiskFull,
    EmbedderMismatch,
    InvalidQuestion,
    LibraryBusy,
    LibraryError,
    NotALibrary,
    QuotebotError,
    ReadOnlyLibrary,
    SourceError,
    UnsupportedSource,
)
from index.library import Library
from index.models import (
    AddReport,
    Answer,
    Article,
    ArticleSummary,
    Document,
    Duplicate,
    LibraryStats,
    Quote,
    ShortAnswer,
)
from index.syncing import SyncPlan, SyncReport, sync_folder

__all__ = [
    "AddReport",
    "Answer",
    "Article",
    "ArticleNotFound",
    "ArticleSummary",
    "CorruptLibrary",
    "DiskFull",
    "Document",
    "Duplicate",
    "EmbedderMismatch",
    "InvalidQuestion",
    "Library",
    "LibraryBusy",
    "LibraryError",
    "LibraryStats",
    "NotALibrary",
    "Quote",
    "QuotebotError",
    "ReadOnlyLibrary",
    "ShortAnswer",
    "SourceError",
    "SyncPlan",
    "SyncReport",
    "UnsupportedSource",
    "sync_folder",
]
