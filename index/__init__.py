"""quotebot's engine: articles in, exact quotes out. Knows nothing of Telegram or terminals."""

from __future__ import annotations

from index.conversation import Conversation, Turn
from index.errors import (
    ArticleNotFound,
    CorruptLibrary,
    DiskFull,
    EmbedderMismatch,
    InvalidFilter,
    InvalidQuestion,
    LibraryBusy,
    LibraryError,
    NotALibrary,
    QuotebotError,
    ReadOnlyLibrary,
    SourceError,
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
    LibraryStats,
    Quote,
    ShortAnswer,
)

__all__ = [
    "AddReport",
    "Answer",
    "Article",
    "ArticleNotFound",
    "ArticleSummary",
    "Candidate",
    "Conversation",
    "CorruptLibrary",
    "DiskFull",
    "Document",
    "EmbedderMismatch",
    "Explanation",
    "InvalidFilter",
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
    "Turn",
    "Where",
]
