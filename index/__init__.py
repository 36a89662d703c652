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
)
from index.library import Library
from index.models import (
    AddReport,
    Answer,
    Article,
    ArticleSummary,
    Document,
    LibraryStats,
    Quote,
    ShortAnswer,
)

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
    "available_devices",
    "default_embedder",
]
