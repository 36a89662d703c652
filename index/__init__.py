"""quotebot's engine: articles in, exact quotes out. Knows nothing of Telegram or terminals."""

from __future__ import annotations

from index.answer import Scoring
from index.articles import SUFFIXES as SOURCE_SUFFIXES
from index.articles import count_inputs, documents_from_bytes, is_url
from index.backends import is_database_url
from index.conversation import Conversation, Turn
from index.devices import available_devices
from index.embedding import Embedder, default_embedder
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
from index.evaluation import EvaluationReport
from index.evaluation import Split as EvaluationSplit
from index.evaluation import evaluate as evaluate_squad
from index.explaining import Candidate, Explanation
from index.fetching import FetchPolicy
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
    "SOURCE_SUFFIXES",
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
    "Embedder",
    "EmbedderMismatch",
    "EvaluationReport",
    "EvaluationSplit",
    "Explanation",
    "FetchPolicy",
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
    "Scoring",
    "ShortAnswer",
    "SourceError",
    "SyncPlan",
    "SyncReport",
    "Turn",
    "UnsupportedSource",
    "Where",
    "available_devices",
    "count_inputs",
    "default_embedder",
    "documents_from_bytes",
    "evaluate_squad",
    "is_database_url",
    "is_url",
    "sync_folder",
]
