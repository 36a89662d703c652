"""The Library facade: open a library folder, add, remove, list and ask.

Reads are safe from several threads at once; writes are serialised in this process and, through the
folder's lock, across processes.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from index import lexical, marking
from index.answer import ScoredSentence, Scoring, rank_sentences
from index.articles import read_sources
from index.chunking import ChunkSpan, chunk_spans, sentence_spans
from index.embedding import Embedder, default_embedder
from index.errors import ArticleNotFound, InvalidQuestion
from index.models import AddReport, Answer, Article, ArticleSummary, Document, LibraryStats, Quote
from index.search import Retrieval, retrieve
from index.store import NewChunk, Store, now
from index.vectors import VectorIndex

__all__ = ["MAX_QUESTION_CHARACTERS", "Library"]

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARACTERS = 2000
# Articles are embedded together until this many sentences are waiting: big batches keep the model busy.
_ENCODE_BATCH_SENTENCES = 512
_CONTEXT_CHARACTERS = 1500


@dataclass(slots=True)
class _Prepared:
    document: Document
    article_id: str
    content_hash: str
    replaces: str | None
    sentences: list[tuple[int, int]]
    chunks: list[ChunkSpan]


class Library:
    """A folder of articles you can ask questions of."""

    def __init__(self, store: Store, embedder: Embedder, *, scoring: Scoring | None = None) -> None:
        self._store = store
        self._embedder = embedder
        self._vectors = VectorIndex(embedder.dimension)
        self._vectors_lock = threading.Lock()
        self.scoring = scoring or Scoring()
        # Questions repeat (More quotes, the same question in several chats, evaluation's baselines): each
        # is encoded once per library.
        self._question_vector = functools.lru_cache(maxsize=1024)(self._encode_question)

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        seeds: Path | None = None,
        embedder: Embedder | None = None,
        scoring: Scoring | None = None,
    ) -> Library:
        """Open the library in `path`, creating it if needed; a new library gets the articles in `seeds`."""
        embedder = embedder or default_embedder()
        store = Store(Path(path).expanduser(), embedder=embedder.name, dimension=embedder.dimension)
        library = cls(store, embedder, scoring=scoring)
        if store.created and seeds is not None and seeds.exists():
            library.add(read_sources([str(seeds)]))
        return library

    @staticmethod
    def exists(path: Path | str) -> bool:
        return (Path(path).expanduser() / "quotebot.json").exists()

    @property
    def path(self) -> Path:
        return self._store.folder

    @property
    def created(self) -> bool:
        """True when `open` made this library just now."""
        return self._store.created

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # Adding and removing

    def add(self, documents: Iterable[Document], *, progress: Callable[[int], None] | None = None) -> AddReport:
        """Add documents; the same text again changes nothing, new text from a known source replaces it."""
        added: list[str] = []
        replaced: list[str] = []
        unchanged: list[str] = []
        chunk_total = 0
        with self._store.writing():
            self._ensure_vectors()
            pending: list[_Prepared] = []
            seen_hashes: dict[str, str] = {}
            for document in documents:
                if any(item.document.source == document.source for item in pending):
                    # The same source twice in one call: the later text wins, so write the earlier first.
                    chunk_total += self._write(pending, added, replaced, progress)
                    pending = []
                prepared = self._prepare(document, seen_hashes)
                if isinstance(prepared, str):
                    unchanged.append(prepared)
                    if progress:
                        progress(1)
                    continue
                seen_hashes[prepared.content_hash] = prepared.article_id
                pending.append(prepared)
                if sum(len(item.sentences) for item in pending) >= _ENCODE_BATCH_SENTENCES:
                    chunk_total += self._write(pending, added, replaced, progress)
                    pending = []
            if pending:
                chunk_total += self._write(pending, added, replaced, progress)
            if added or replaced:
                self._vectors.save(self._store.folder)
        return AddReport(added=added, replaced=replaced, unchanged=unchanged, chunks=chunk_total)

    def _prepare(self, document: Document, seen_hashes: dict[str, str]) -> _Prepared | str:
        # Lone surrogates (possible in JSON) cannot be stored as UTF-8; fix them before the text gets an id.
        text = document.text.encode("utf-8", "replace").decode("utf-8")
        if text != document.text:
            document = document.model_copy(update={"text": text})
        content_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if content_hash in seen_hashes:
            return seen_hashes[content_hash]
        same_text, same_source = self._store.find(source=document.source, content_hash=content_hash)
        if same_text is not None:
            return same_text
        sentences = sentence_spans(text)
        return _Prepared(
            document=document,
            article_id=same_source or hashlib.sha256(document.source.encode("utf-8")).hexdigest()[:12],
            content_hash=content_hash,
            replaces=same_source,
            sentences=sentences,
            chunks=chunk_spans(sentences),
        )

    def _write(
        self,
        batch: Sequence[_Prepared],
        added: list[str],
        replaced: list[str],
        progress: Callable[[int], None] | None,
    ) -> int:
        texts = [item.document.text[start:stop] for item in batch for start, stop in item.sentences]
        vectors = self._embedder.encode(texts)
        new_ids: list[int] = []
        new_vectors: list[NDArray[np.float32]] = []
        removed: list[int] = []
        offset = 0
        with self._store.transaction() as connection:
            for item in batch:
                sentence_vectors = vectors[offset : offset + len(item.sentences)]
                offset += len(item.sentences)
                chunks = [_new_chunk(item, chunk, sentence_vectors) for chunk in item.chunks]
                if item.replaces:
                    removed.extend(self._store.delete_article(connection, item.replaces))
                article = Article(
                    id=item.article_id,
                    text=item.document.text,
                    source=item.document.source,
                    title=item.document.title or item.document.source,
                    url=item.document.url,
                    date=item.document.date,
                    content_hash=item.content_hash,
                    added_at=now(),
                )
                new_ids.extend(self._store.insert_article(connection, article, chunks))
                new_vectors.extend(chunk.vector for chunk in chunks)
        self._vectors.remove(np.array(removed, dtype=np.int64))
        if new_ids:
            self._vectors.add(np.array(new_ids, dtype=np.int64), np.stack(new_vectors))
        self._vectors.generation = self._store.generation()
        for item in batch:
            (replaced if item.replaces else added).append(item.article_id)
            if progress:
                progress(1)
        return len(new_ids)

    def remove(self, article_ids: Iterable[str]) -> list[str]:
        """Remove articles completely: text, sentences, chunks, vectors."""
        wanted = list(dict.fromkeys(article_ids))
        with self._store.writing():
            self._ensure_vectors()
            known = self._store.article_ids()
            for article_id in wanted:
                if article_id not in known:
                    raise ArticleNotFound(f"no article has id {article_id!r}; `quotebot sources` lists the ids")
            removed: list[int] = []
            with self._store.transaction() as connection:
                for article_id in wanted:
                    removed.extend(self._store.delete_article(connection, article_id))
            self._vectors.remove(np.array(removed, dtype=np.int64))
            self._vectors.generation = self._store.generation()
            self._vectors.save(self._store.folder)
        return wanted

    # Reading

    def articles(self) -> list[ArticleSummary]:
        return self._store.summaries()

    def article(self, article_id: str) -> Article:
        return self._store.article(article_id)

    def stats(self) -> LibraryStats:
        self._ensure_vectors()
        articles, chunks, sentences = self._store.counts()
        return LibraryStats(
            path=str(self._store.folder),
            articles=articles,
            chunks=chunks,
            sentences=sentences,
            embedder=self._embedder.name,
            dimension=self._embedder.dimension,
            index_type=self._vectors.index_type,
            vectors=len(self._vectors),
            database_bytes=self._store.database_bytes(),
            index_bytes=self._vectors.nbytes(self._store.folder),
        )

    def ask(self, question: str, *, k: int = 3, method: Retrieval = "hybrid") -> Answer:
        """The best `k` quotes for `question`, or found=False when no sentence scores above the threshold."""
        cleaned = _validate(question)
        # "hi" or "who is she?" names nothing to look for; a quote found for it would only be a coincidence,
        # so nothing is encoded or searched.
        if not lexical.question_terms(cleaned):
            return Answer(question=cleaned, found=False, quotes=[])
        ranked = self.rank(cleaned, method=method)
        if not ranked or ranked[0].score < self.scoring.threshold:
            return Answer(question=cleaned, found=False, quotes=[])
        return Answer(question=cleaned, found=True, quotes=self._quotes(cleaned, _distinct(ranked)[: max(k, 1)]))

    def rank(self, question: str, *, method: Retrieval = "hybrid", rerank: bool = True) -> list[ScoredSentence]:
        """Every candidate sentence for `question`, scored, best first (for `ask` and for evaluation); with
        rerank=False, by the first-stage scorer only (no reranker: the baselines of evaluation)."""
        cleaned = _validate(question)
        self._ensure_vectors()
        query = self._question_vector(cleaned)
        terms = lexical.question_terms(cleaned)
        hits = retrieve(self._store, self._vectors, query, terms, method=method)
        if not hits:
            return []
        candidates = self._store.sentences_of_chunks([hit.chunk_id for hit in hits])
        frequencies, documents = self._store.document_frequencies(terms)
        idfs = {term: lexical.idf(frequencies.get(term, 0), documents) for term in terms}
        return rank_sentences(query, terms, candidates, hits, idfs, self.scoring, question=cleaned, rerank_head=rerank)

    def _encode_question(self, question: str) -> NDArray[np.float32]:
        vector: NDArray[np.float32] = self._embedder.encode([question])[0]
        vector.flags.writeable = False  # shared by every caller of the cache
        return vector

    def _quotes(self, question: str, items: Sequence[ScoredSentence]) -> list[Quote]:
        # Slices come from the database's copy of each article, so a long article is never loaded whole.
        slices = [
            self._store.article_slice(item.sentence.article_id, item.sentence.start, item.sentence.stop)
            for item in items
        ]
        answers = marking.short_answers(
            question, [(text, item.sentence.start) for (_, _, _, text), item in zip(slices, items, strict=True)]
        )
        return [
            Quote(
                text=text,
                start=item.sentence.start,
                end=item.sentence.stop,
                article_id=item.sentence.article_id,
                title=title,
                source=source,
                url=url,
                score=round(item.score, 4),
                answer=answer,
            )
            for (title, source, url, text), item, answer in zip(slices, items, answers, strict=True)
        ]

    def context(self, quote: Quote) -> Quote:
        """The paragraph around `quote` (at least one sentence either side), a verbatim slice of its article."""
        article = self._store.article(quote.article_id)
        text = article.text
        start = text.rfind("\n", 0, quote.start) + 1
        end = text.find("\n", quote.end)
        end = len(text) if end < 0 else end
        spans = self._store.sentence_spans(article.id)
        index = next((i for i, (begin, _) in enumerate(spans) if begin >= quote.start), None)
        if index is not None:
            # A one-sentence paragraph (common in news) says little more than the quote: add a neighbour each side.
            if index > 0:
                start = min(start, spans[index - 1][0])
            following = next((i for i, (begin, _) in enumerate(spans) if begin >= quote.end), None)
            if following is not None:
                end = max(end, spans[following][1])
        start = max(start, quote.start - _CONTEXT_CHARACTERS)
        end = min(end, quote.end + _CONTEXT_CHARACTERS)
        while start < quote.start and text[start].isspace():
            start += 1
        while end > quote.end and text[end - 1].isspace():
            end -= 1
        return quote.model_copy(update={"text": text[start:end], "start": start, "end": end})

    def _ensure_vectors(self) -> None:
        """Make the FAISS index match the database: load the saved one, or rebuild it if stale or missing."""
        generation = self._store.generation()
        if self._vectors.generation == generation:
            return
        with self._vectors_lock:
            if self._vectors.generation == generation:
                return
            if not self._vectors.load(self._store.folder, generation=generation):
                logger.info("building the vector index of %s from its database", self._store.folder)
                ids, vectors = self._store.all_chunk_vectors()
                self._vectors.rebuild(ids, vectors, generation=generation)


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


def _validate(question: str) -> str:
    cleaned = question.strip()
    if not cleaned:
        raise InvalidQuestion("the question is empty; type a question such as 'Which country has not approved Sweden?'")
    if len(cleaned) > MAX_QUESTION_CHARACTERS:
        raise InvalidQuestion(
            f"the question is {len(cleaned):,} characters; the limit is {MAX_QUESTION_CHARACTERS:,}: ask it shorter"
        )
    if not lexical.words(cleaned):
        raise InvalidQuestion(f"{cleaned[:40]!r} has no words to search for; ask a question in words")
    return cleaned


def _distinct(ranked: Sequence[ScoredSentence]) -> list[ScoredSentence]:
    """Drop repeats of the same sentence text (the same paragraph in two articles)."""
    seen: set[str] = set()
    result = []
    for item in ranked:
        key = " ".join(item.sentence.text.split()).lower()
        if key not in seen:
            seen.add(key)
            result.append(item)
    return result
