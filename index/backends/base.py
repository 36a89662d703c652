"""The storage seam: the few verbs the library needs from wherever its articles live.

`LocalBackend` (SQLite as the truth, FAISS derived from it, in one folder) is the default; `PostgresBackend`
(PostgreSQL with pgvector, for a library that several processes and machines share) is the other. The
`Library` talks to this Protocol only, so a third home (OpenSearch, Qdrant) is one more class.

Every write happens inside `writing()`, which one process at a time holds; `store` and `delete` are each one
transaction, so a crash leaves every article in its old or its new state. Reads may run in several threads at
once, during a write too, and see the last committed state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from index.filtering import Where
from index.models import Article, ArticleSummary
from index.types import BackendStats, CandidateSentence, NewArticle, Scope

__all__ = ["Backend"]


@runtime_checkable
class Backend(Protocol):
    """Where one library's articles, sentences, chunks, vectors and lexical index live."""

    @property
    def location(self) -> str:
        """Where the library is, for people: a folder, or a database URL without its password."""
        ...

    @property
    def created(self) -> bool:
        """True when opening made this library just now."""
        ...

    @property
    def embedder(self) -> str:
        """The name of the embedder the library was built with (a library refuses any other)."""
        ...

    # Writing

    def writing(self) -> AbstractContextManager[None]:
        """Hold the library's write lock, across processes (and machines, where the backend is shared), for a
        run of writes; LibraryBusy when another writer holds it too long, ReadOnlyLibrary where nothing may be
        written."""
        ...

    def find(self, *, source: str, content_hash: str) -> tuple[str | None, str | None, str | None]:
        """(id of an article with this exact text, preferring this source's; its source; id of the article from
        this source)."""
        ...

    def store(self, articles: Sequence[NewArticle]) -> int:
        """Store `articles` in one transaction, each replacing its older version; the number of chunks stored.
        Call inside `writing()`."""
        ...

    def delete(self, article_ids: Sequence[str]) -> None:
        """Remove these articles and everything derived from them in one transaction. Call inside `writing()`."""
        ...

    def maintain(self) -> None:
        """Slow upkeep of what is derived that needs no write lock (the local backend retrains its FAISS index
        as the library grows, and writes the next base file ahead of `persist`). Call outside `writing()`,
        before a `persist`, so that the lock is held for milliseconds, not for the upkeep."""
        ...

    def persist(self) -> None:
        """Bring what is derived from the stored rows up to date where other processes read it (the local
        backend's FAISS files); a failure here costs a rebuild later, never an article. Call inside `writing()`."""
        ...

    # Searching

    def dense(self, query: NDArray[np.float32], k: int, *, scope: Scope | None = None) -> list[tuple[int, float]]:
        """The `k` chunks nearest `query` (a unit vector) by cosine, best first, as (chunk id, cosine)."""
        ...

    def lexical(self, terms: Sequence[str], k: int, *, scope: Scope | None = None) -> list[tuple[int, float]]:
        """The `k` chunks holding any of `terms` (stems of `index.lexical`), best first by BM25, as (chunk id,
        score > 0)."""
        ...

    def term_statistics(self, terms: Iterable[str]) -> tuple[dict[str, int], int]:
        """How many chunks hold each term, and the number of chunks."""
        ...

    def chunk_vectors(self, chunk_ids: Sequence[int]) -> dict[int, NDArray[np.float32]]: ...

    def sentences_of_chunks(self, chunk_ids: Sequence[int]) -> list[CandidateSentence]: ...

    def neighbours(self, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], tuple[int, int, str]]:
        """(start, stop, text) of the sentence at each (article id, position) that exists."""
        ...

    def sentence_spans(self, article_id: str) -> list[tuple[int, int]]:
        """(start, stop) of an article's sentences, in order."""
        ...

    def matching(self, where: Where) -> list[str]:
        """The ids of the articles `where` allows."""
        ...

    # Articles

    def article(self, article_id: str) -> Article:
        """The whole article; ArticleNotFound when there is none with this id."""
        ...

    def article_slice(self, article_id: str, start: int, stop: int) -> tuple[str, str, str | None, str]:
        """(title, source, url, text[start:stop]) of an article, without reading the whole text where the
        backend can avoid it."""
        ...

    def article_details(self, article_id: str) -> tuple[str | None, str | None]:
        """(date, author) of an article."""
        ...

    def band_matches(self, bands: Sequence[int], *, least: int = 1) -> list[str]:
        """Ids of up to 20 articles sharing at least `least` MinHash bands (index.duplicates) with `bands`,
        most shared first."""
        ...

    def sources_under(self, prefix: str) -> dict[str, tuple[str, str]]:
        """{source: (article id, content hash)} of the articles whose source starts with `prefix`."""
        ...

    def article_ids(self) -> set[str]: ...

    def ids_starting_with(self, prefix: str, *, limit: int) -> list[str]: ...

    def summaries(self) -> list[ArticleSummary]: ...

    def stats(self) -> BackendStats: ...

    def close(self) -> None: ...
