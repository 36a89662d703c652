"""quotebot's engine: articles in, exact quotes out. Knows nothing of Telegram or terminals."""

from __future__ import annotations

from index.conversation import Conversation, Turn
from index.devices import available_devices
from index.embedding import default_embedder
from index.errors import (
    AmbiguousArticleId,
    ArticleNotFound,
    CorruptLibrary,
    DeviceUnavailable,
    DiskFull,
    EmbedderMismatch,
    InvalidFilter,
    InvalidQuestion,
    LibraryBusy,
    LibraryError,
    LibraryNotFound,
    LibraryUnreachable,
    NotALibrary,
    QuotebotError,
    ReadOnlyLibrary,
    SourceError,
    UnsupportedSource,
)
from index.explaining import Candidate, Explanation
from index.filtering import Where
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
    "Candidate",
    "Conversation",
    "CorruptLibrary",
    "DeviceUnavailable",
    "DiskFull",
    "Document",
    "Duplicate",
    "EmbedderMismatch",
    "Explanation",
    "InvalidFilter",
    "InvalidQuestion",
    "Library",
    "LibraryBusy",
    "LibraryError",
    "LibraryNotFound",
    "LibraryStats",
    "LibraryUnreachable",
    "NotALibrary",
    "Quote",
    "QuotebotError",
    "ReadOnlyLibrary",
    "ShortAnswer",
    "SourceError",
    "SyncPlan",
    "SyncReport",
    "Turn",
    "UnsupportedSource",
    "Where",
    "available_devices",
    "default_embedder",
    "sync_folder",
]
