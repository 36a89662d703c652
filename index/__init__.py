"""quotebot's engine: articles in, exact quotes out. Knows nothing of Telegram or terminals."""

from __future__ import annotations

from index.errors import (
    ArticleNotFound,
    CorruptLibrary,
    EmbedderMismatch,
    InvalidQuestion,
    LibraryBusy,
    LibraryError,
    NotALibrary,
    QuotebotError,
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
    "Answer",
    "Article",
    "ArticleNotFound",
    "ArticleSummary",
    "CorruptLibrary",
    "Document",
    "EmbedderMismatch",
    "InvalidQuestion",
    "Library",
    "LibraryBusy",
    "LibraryError",
    "LibraryStats",
    "NotALibrary",
    "Quote",
    "QuotebotError",
    "ShortAnswer",
    "SourceError",
]
