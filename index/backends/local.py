"""The default home of a library: one folder, SQLite the truth (`index.store`), FAISS derived from it
(`index.vectors`).

The FAISS index is stamped with the database generation it was built from. Every read first brings the index
in memory up to the database's generation: it loads (or catches up from the delta of) the saved index, checked
against the database, or rebuilds it from SQLite when it is stale, missing or damaged, and then saves what it
rebuilt, so that the next process need not.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from index.errors import LibraryError
from index.filtering import Where
from index.models import Article, ArticleSummary
from index.store import WRITE_WAIT_SECONDS, Store
from index.types import BackendStats, CandidateSentence, NewArticle, Scope
from index.vectors import DamagedIndex, VectorIndex

__all__ = ["LocalBackend"]

logger = logging.getLogger(__name__)


class LocalBackend:
    """A library folder: SQLite for everything stored, a FAISS index derived from it for dense search."""

    def __init__(
        self, folder: Path, *, embedder: str, dimension: int, write_wait_seconds: float = WRITE_WAIT_SECONDS
    ) -> None:
        self._store = Store(folder, embedder=embedder, dimension=dimension, write_wait_seconds=write_wait_seconds)
        self.vectors = VectorIndex(dimension)
        self._vectors_lock = threading.Lock()

    @property
    def folder(self) -> Path:
        return self._store.folder

    @property
    def location(self) -> str:
        return str(self._store.folder)

    @property
    def created(self) -> bool:
        return self._store.created

    @property
    def embedder(self) -> str:
        return self._store.manifest.embedder

    @property
    def database(self) -> Store:
        """The SQLite side, for benchmarks and checks that measure it."""
        return self._store

    def close(self) -> None:
        self._store.close()

    # Writing

    def writing(self) -> AbstractContextManager[None]:
        return self._store.writing()

    def find(self, *, source: str, content_hash: str) -> tuple[str | None, str | None, str | None]:
        return self._store.find(source=source, content_hash=content_hash)

    def store(self, articles: Sequence[NewArticle]) -> int:
        self.refresh()
        new_ids: list[int] = []
        new_vectors: list[NDArray[np.float32]] = []
        removed: list[int] = []
        try:
            with self._store.transaction() as connection:
                for item in articles:
                    if item.replaces:
                        removed.extend(self._store.delete_article(connection, item.replaces))
                    new_ids.extend(self._store.insert_article(connection, item.article, item.chunks))
                    self._store.insert_bands(connection, item.article.id, item.bands)
                    new_vectors.extend(chunk.vector for chunk in item.chunks)
        except sqlite3.IntegrityError as error:
            # The library checks sources and ids under the lock before it stores, so this is a caller's bug.
            raise LibraryError(
                f"the batch was not stored, nothing of it ({error}); each source may be stored once"
            ) from error
        self.vectors.remove(np.array(removed, dtype=np.int64))
        if new_ids:
            # Retraining waits for `maintain`, outside the write lock.
            self.vectors.add(np.array(new_ids, dtype=np.int64), np.stack(new_vectors), grow=False)
        self.vectors.generation = self._store.generation()
        return len(new_ids)

    def delete(self, article_ids: Sequence[str]) -> None:
        self.refresh()
        removed: list[int] = []
        with self._store.transaction() as connection:
            for article_id in article_ids:
                removed.extend(self._store.delete_article(connection, article_id))
        self.vectors.remove(np.array(removed, dtype=np.int64))
        self.vectors.generation = self._store.generation()

    def maintain(self) -> None:
        self.vectors.grow()
        self.vectors.prepare_base(self._store.folder)

    def persist(self) -> None:
        """Save the index; SQLite already holds every change, so a failure only costs a rebuild later."""
        # Another writer may have committed since this one's last write (the lock was let go for `maintain`):
        # catch up first, or its newer saved index would be replaced by an older one.
        self.refresh()
        self._save()

    def _save(self) -> None:
        try:
            self.vectors.save(self._store.folder)
        except (OSError, LibraryError) as error:
            logger.warning("the vector index of %s was not saved (%s); it will be rebuilt", self._store.folder, error)

    # Searching

    def dense(self, query: NDArray[np.float32], k: int, *, scope: Scope | None = None) -> list[tuple[int, float]]:
        self.refresh()
        if scope is None:
            return self.vectors.search(query, k)
        allowed = np.array(self._store.chunk_ids_of(scope.article_ids) if scope.article_ids else [], dtype=np.int64)
        return self.vectors.search_within(query, k, allowed)

    def lexical(self, terms: Sequence[str], k: int, *, scope: Scope | None = None) -> list[tuple[int, float]]:
        if scope is None:
            return self._store.lexical(terms, limit=k)
        return self._store.lexical_within(terms, scope.article_ids, limit=k)

    def term_statistics(self, terms: Iterable[str]) -> tuple[dict[str, int], int]:
        return self._store.document_frequencies(terms)

    def chunk_vectors(self, chunk_ids: Sequence[int]) -> dict[int, NDArray[np.float32]]:
        return self._store.chunk_vectors(chunk_ids)

    def sentences_of_chunks(self, chunk_ids: Sequence[int]) -> list[CandidateSentence]:
        return self._store.sentences_of_chunks(chunk_ids)

    def neighbours(self, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], tuple[int, int, str]]:
        return self._store.neighbours(keys)

    def sentence_spans(self, article_id: str) -> list[tuple[int, int]]:
        return self._store.sentence_spans(article_id)

    def matching(self, where: Where) -> list[str]:
        return where.allowed(self._store.article_fields())

    # Articles

    def article(self, article_id: str) -> Article:
        return self._store.article(article_id)

    def article_slice(self, article_id: str, start: int, stop: int) -> tuple[str, str, str | None, str]:
        return self._store.article_slice(article_id, start, stop)

    def article_details(self, article_id: str) -> tuple[str | None, str | None]:
        return self._store.article_details(article_id)

    def band_matches(self, bands: Sequence[int], *, least: int = 1) -> list[str]:
        return self._store.band_matches(bands, least=least)

    def sources_under(self, prefix: str) -> dict[str, tuple[str, str]]:
        return self._store.sources_under(prefix)

    def article_ids(self) -> set[str]:
        return self._store.article_ids()

    def ids_starting_with(self, prefix: str, *, limit: int) -> list[str]:
        return self._store.ids_starting_with(prefix, limit=limit)

    def summaries(self) -> list[ArticleSummary]:
        return self._store.summaries()

    def stats(self) -> BackendStats:
        self.refresh()
        articles, chunks, sentences = self._store.counts()
        return BackendStats(
            articles=articles,
            chunks=chunks,
            sentences=sentences,
            index_type=self.vectors.index_type,
            vectors=len(self.vectors),
            database_bytes=self._store.database_bytes(),
            index_bytes=self.vectors.nbytes(self._store.folder),
        )

    # The derived index

    def refresh(self) -> None:
        """Make the FAISS index match the database (see the module's docstring)."""
        generation = self._store.generation()
        if self.vectors.generation == generation:
            return
        with self._vectors_lock:
            if self.vectors.generation == generation:
                return
            folder = self._store.folder
            try:
                chunks = self._store.counts()[1]
                lookup = self._store.chunk_vectors
                if self.vectors.load(folder, generation=generation, count=chunks, vectors_of=lookup):
                    return
                logger.info("building the vector index of %s from its database", folder)
            except DamagedIndex as damage:
                # A writer that commits while this reads makes the files disagree for a moment: not damage.
                if self._store.generation() == generation:
                    logger.warning("the vector index in %s is damaged (%s); rebuilding it from SQLite", folder, damage)
            ids, vectors = self._store.all_chunk_vectors()
            self.vectors.rebuild(ids, vectors, generation=generation)
            if not len(self.vectors):
                return  # nothing to save: an empty index costs nothing to rebuild
            self.vectors.prepare_base(folder)
            with self._store.try_writing() as locked:
                # Under the lock nobody commits, so an unchanged generation means the rows read were of it.
                if locked and self._store.generation() == generation:
                    self._save()
