"""quotebot's engine: articles in, exact quotes out. Knows nothing of Telegram or terminals."""

from __future__ import annotations

from index.devices import available_devices
from index.embedding import default_embedder
from index.errors import (
    AmbiguousArticleId,
    ArticleNotFound,
    CorruptLibrary,
    DeviceUnavailable,
    DiskFull,
    EmbedderMismatch,
    InvalidQuestion,
    LibraryBusy,
    LibraryError,
    LibraryNotFound,
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
    "AmbiguousArticleId",
    "Answer",
    "Article",
    "ArticleNotFound",
    "ArticleSummary",
    "CorruptLibrary",
    "DeviceUnavailable",
    "DiskFull",
    "Document",
    "Duplicate",
    "EmbedderMismatch",
    "InvalidQuestion",
    "Library",
    "LibraryBusy",
    "LibraryError",
    "LibraryNotFound",
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
    "available_devices",
    "default_embedder",
    "sync_folder",
]
