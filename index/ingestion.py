"""Adding documents to a library: clean, deduplicate, split into sentences and chunks, embed in batches, and
store each batch through the backend in one transaction.

The expensive part (embedding) runs without the write lock; only the check that nothing changed meanwhile and
the write itself hold it, so other writers progress during a long add, and a crash keeps every batch committed
before it (whole articles).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from index.backends.base import Backend
from index.chunking import ChunkSpan, chunk_spans, sentence_spans
from index.duplicates import MIN_SHARED_BANDS, MIN_WORDS, NEAR_DUPLICATE, Fingerprint, fingerprint, similarity
from index.embedding import Embedder
from index.errors import SourceError
from index.formats.storable import storable
from index.models import AddReport, Article, Document, Duplicate
from index.store import now
from index.types import NewArticle, NewChunk

__all__ = ["Ingestion"]

# Articles are embedded together until this many sentences are waiting: big batches keep the model busy.
_ENCODE_BATCH_SENTENCES = 512
# During a long add the derived index is brought up to date this often (and at the end).
_SAVE_SECONDS = 30.0


@dataclass(slots=True)
class _Tally:
    """What one `add` has done so far."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    chunks: int = 0
    unsaved: bool = False
    saved_at: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class _Prepared:
    document: Document
    article_id: str
    content_hash: str
    replaces: str | None
    sentences: list[tuple[int, int]]
    chunks: list[ChunkSpan]
    fingerprint: Fingerprint


class Ingestion:
    """One `Library.add`: documents in, an AddReport out."""

    def __init__(self, backend: Backend, embedder: Embedder, *, max_article_characters: int) -> None:
        self._backend = backend
        self._embedder = embedder
        self._max_article_characters = max_article_characters

    def add(
        self,
        documents: Iterable[Document],
        *,
        progress: Callable[[int], None] | None = None,
        errors: list[SourceError] | None = None,
    ) -> AddReport:
        """See `Library.add`."""
        tally = _Tally()
        # The lock once up front, so that a busy or read-only library says so before anything is read.
        with self._backend.writing():
            pass
        pending: list[_Prepared] = []
        seen_hashes: dict[str, str] = {}
        for document in documents:
            if len(document.text) > self._max_article_characters:
                error = SourceError(
                    f"{document.source!r} is {len(document.text):,} characters, over the library's limit of "
                    f"{self._max_article_characters:,} (max_article_characters); split it into smaller articles"
                )
                if errors is None:
                    raise error
                errors.append(error)
                continue
            if any(item.document.source == document.source for item in pending):
                # The same source twice in one call: the later text wins, so write the earlier first.
                self._flush(pending, tally, progress)
                pending = []
            prepared = self._prepare(document, seen_hashes, pending)
            if isinstance(prepared, Duplicate):
                tally.duplicates.append(prepared)
                if progress:
                    progress(1)
                continue
            if isinstance(prepared, str):
                tally.unchanged.append(prepared)
                if progress:
                    progress(1)
                continue
            seen_hashes[prepared.content_hash] = prepared.article_id
            pending.append(prepared)
            if sum(len(item.sentences) for item in pending) >= _ENCODE_BATCH_SENTENCES:
                self._flush(pending, tally, progress)
                pending = []
                # Committed texts are found in the database from now on: a million-line add keeps no hash of each.
                seen_hashes.clear()
        self._flush(pending, tally, progress, last=True)
        return AddReport(
            added=tally.added,
            replaced=tally.replaced,
            unchanged=tally.unchanged,
            chunks=tally.chunks,
            duplicates=tally.duplicates,
        )

    def _flush(
        self, batch: list[_Prepared], tally: _Tally, progress: Callable[[int], None] | None, *, last: bool = False
    ) -> None:
        """Encode `batch` (without the lock), then write it as one transaction under the lock."""
        texts = [item.document.text[start:stop] for item in batch for start, stop in item.sentences]
        vectors = self._embedder.encode(texts) if texts else np.empty((0, self._embedder.dimension), np.float32)
        if batch:
            with self._backend.writing():
                tally.chunks += self._write(batch, vectors, tally, progress)
                tally.unsaved = True
        # What is derived is kept fresh during a long add, so other processes need not rebuild it; its slow
        # upkeep (retraining, writing a new base file) runs between the two holds of the lock.
        if tally.unsaved and (last or time.monotonic() - tally.saved_at > _SAVE_SECONDS):
            self._backend.maintain()
            with self._backend.writing():
                self._backend.persist()
            tally.unsaved = False
            tally.saved_at = time.monotonic()

    def _prepare(
        self, document: Document, seen_hashes: dict[str, str], pending: Sequence[_Prepared]
    ) -> _Prepared | Duplicate | str:
        # A Document made by any caller may hold lone surrogates (pydantic checks only `source`), which cannot be
        # stored as UTF-8: each becomes "?" before the article gets an id, in every field.
        fields = {"text": document.text, "source": document.source, "title": document.title}
        optional = (
            ("url", document.url),
            ("date", document.date),
            ("author", document.author),
            ("site", document.site),
        )
        fields.update({name: value for name, value in optional if value})
        cleaned = {name: storable(value) for name, value in fields.items()}
        if cleaned != fields:
            document = document.model_copy(update=cleaned)
        text = document.text
        content_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if content_hash in seen_hashes:
            return seen_hashes[content_hash]
        same_text, text_source, same_source = self._backend.find(source=document.source, content_hash=content_hash)
        # The same text under another source (a page saved as a file and added by its URL) is one article. Not so
        # for another record or part of the same file: a record inserted at the top of a JSON Lines file shifts
        # every record to the next number, and each must replace the text its number held, or that text is lost.
        if same_text is not None and _known(same_text, text_source, same_source, document.source):
            return same_text
        marks = fingerprint(text)
        if same_source is None and marks.words >= MIN_WORDS:
            duplicate = self._near_duplicate(document, marks, pending)
            if duplicate is not None:
                return duplicate
        sentences = sentence_spans(text)
        return _Prepared(
            document=document,
            article_id=same_source or hashlib.sha256(document.source.encode("utf-8")).hexdigest()[:12],
            content_hash=content_hash,
            replaces=same_source,
            sentences=sentences,
            chunks=chunk_spans(sentences),
            fingerprint=marks,
        )

    def _near_duplicate(self, document: Document, marks: Fingerprint, pending: Sequence[_Prepared]) -> Duplicate | None:
        """The article (stored, or waiting in this add) whose text is nearly `document`'s, if there is one."""
        bands = set(marks.bands)
        candidates: list[tuple[str, str, Fingerprint]] = [
            (item.article_id, item.document.title or item.document.source, item.fingerprint)
            for item in pending
            if item.fingerprint.words >= MIN_WORDS
            and len(bands.intersection(item.fingerprint.bands)) >= MIN_SHARED_BANDS
        ]
        for article_id in self._backend.band_matches(marks.bands, least=MIN_SHARED_BANDS):
            article = self._backend.article(article_id)
            other = fingerprint(article.text)
            if other.words >= MIN_WORDS:
                candidates.append((article.id, article.title, other))
        for article_id, title, other in candidates:
            score = similarity(marks, other)
            if score >= NEAR_DUPLICATE:
                return Duplicate(
                    source=document.source, duplicate_of=article_id, title=title, similarity=round(score, 3)
                )
        return None

    def _write(
        self,
        batch: Sequence[_Prepared],
        vectors: NDArray[np.float32],
        tally: _Tally,
        progress: Callable[[int], None] | None,
    ) -> int:
        """Store `batch` (its sentences' `vectors` in order) in one transaction; call under the lock."""
        offset = 0
        written: list[_Prepared] = []
        stored: list[NewArticle] = []
        for item in batch:
            sentence_vectors = vectors[offset : offset + len(item.sentences)]
            offset += len(item.sentences)
            # Prepared without the lock: another writer may have added this text or source since.
            same_text, text_source, same_source = self._backend.find(
                source=item.document.source, content_hash=item.content_hash
            )
            if same_text is not None and _known(same_text, text_source, same_source, item.document.source):
                tally.unchanged.append(same_text)
                continue
            item.replaces = same_source
            item.article_id = same_source or item.article_id
            article = Article(
                id=item.article_id,
                text=item.document.text,
                source=item.document.source,
                title=item.document.title or item.document.source,
                url=item.document.url,
                date=item.document.date,
                content_hash=item.content_hash,
                added_at=now(),
                author=item.document.author,
                site=item.document.site,
            )
            chunks = [_new_chunk(item, chunk, sentence_vectors) for chunk in item.chunks]
            stored.append(
                NewArticle(article=article, chunks=chunks, bands=item.fingerprint.bands, replaces=item.replaces)
            )
            written.append(item)
        count = self._backend.store(stored) if stored else 0
        for item in written:
            (tally.replaced if item.replaces else tally.added).append(item.article_id)
        if progress:
            for _ in batch:
                progress(1)
        return count


def _new_chunk(item: _Prepared, chunk: ChunkSpan, sentence_vectors: NDArray[np.float32]) -> NewChunk:
    members = sentence_vectors[chunk.first : chunk.last]
    # A chunk's vector is the normalised mean of its sentences' vectors: one encoding pass serves both levels.
    mean = members.mean(axis=0)
    norm = float(np.linalg.norm(mean)) or 1.0
    return NewChunk(
        start=chunk.start,
        stop=chunk.end,
        vector=(mean / norm).astype(np.float32),
        text=item.document.text[chunk.start : chunk.end],
        sentences=[
            (start, stop, sentence_vectors[chunk.first + position])
            for position, (start, stop) in enumerate(item.sentences[chunk.first : chunk.last])
        ],
    )


def _known(same_text: str | None, text_source: str | None, same_source: str | None, source: str) -> bool:
    """Whether a text found stored (as `same_text`, under `text_source`) is this source's article already."""
    return same_text is not None and (
        same_text == same_source or (same_source is None and not _same_file(text_source, source))
    )


_RECORD_OR_PART = re.compile(r"(.*)#(?:\d+|part-\d+)")


def _same_file(first: str | None, second: str) -> bool:
    """Whether two sources are records or parts of one file ("notes.jsonl#2", "notes.jsonl#3")."""
    one, other = _RECORD_OR_PART.fullmatch(first or ""), _RECORD_OR_PART.fullmatch(second)
    return one is not None and other is not None and one.group(1) == other.group(1)
