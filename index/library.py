"""The Library facade: open a library folder, add, remove, list and ask.

Reads are safe from several threads at once; writes are serialised in this process and, through the
folder's lock, across processes.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from index import lexical, marking
from index.answer import ScoredSentence, Scoring, rank_sentences
from index.articles import MAX_SOURCE_BYTES, read_sources, storable
from index.chunking import ChunkSpan, chunk_spans, sentence_spans
from index.conversation import Conversation, follow_up
from index.duplicates import MIN_WORDS, NEAR_DUPLICATE, Fingerprint, fingerprint, similarity
from index.embedding import Embedder, default_embedder
from index.errors import (
    AmbiguousArticleId,
    ArticleNotFound,
    InvalidQuestion,
    LibraryError,
    LibraryNotFound,
    SourceError,
)
from index.explaining import Considered, Explanation, explanation
from index.fetching import FetchPolicy
from index.filtering import Where
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
from index.quoting import DEFAULT_QUOTE_CHARACTERS, window
from index.reader import BUNDLED_READER, Passage, load_reader
from index.search import Retrieval, Scope, retrieve
from index.store import CandidateSentence, NewChunk, Store, now
from index.streaming import DEFAULT_PART_CHARACTERS
from index.vectors import DamagedIndex, VectorIndex

__all__ = ["DEFAULT_ARTICLE_CHARACTERS", "MAX_QUESTION_CHARACTERS", "Library", "Neighbourhood"]

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARACTERS = 2000
# Articles are embedded together until this many sentences are waiting: big batches keep the model busy.
_ENCODE_BATCH_SENTENCES = 512
_CONTEXT_CHARACTERS = 1500
# During a long add the index on disk is brought up to date this often (and at the end).
_SAVE_SECONDS = 30.0
DEFAULT_ARTICLE_CHARACTERS = 50_000_000


@dataclass(frozen=True, slots=True)
class Neighbourhood:
    """A candidate sentence with its neighbours, and where the sentence before it starts in the article."""

    passage: Passage
    before_start: int | None


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


class Library:
    """A folder of articles you can ask questions of."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        *,
        scoring: Scoring | None = None,
        max_quote_characters: int = DEFAULT_QUOTE_CHARACTERS,
        max_article_characters: int = DEFAULT_ARTICLE_CHARACTERS,
        max_file_bytes: int = MAX_SOURCE_BYTES,
        part_characters: int = DEFAULT_PART_CHARACTERS,
    ) -> None:
        if max_file_bytes < 1 or part_characters < 1:
            raise ValueError(f"max_file_bytes and part_characters must be positive: {max_file_bytes} {part_characters}")
        if max_quote_characters < 1:
            raise ValueError(f"max_quote_characters must be at least 1, not {max_quote_characters!r}")
        if max_article_characters < 1:
            raise ValueError(f"max_article_characters must be at least 1, not {max_article_characters!r}")
        self._store = store
        self._embedder = embedder
        self._vectors = VectorIndex(embedder.dimension)
        self._vectors_lock = threading.Lock()
        self.scoring = scoring or Scoring()
        # A quote is at most this many characters: a longer sentence is cut to a window around its answer.
        self.max_quote_characters = max_quote_characters
        # An article longer than this is refused (SourceError): its sentences, vectors and FTS rows would be huge.
        self.max_article_characters = max_article_characters
        # What `read_sources` reads whole (other than .txt and .jsonl), and the parts a long .txt is cut into
        # (never over the article limit, or every part would be refused).
        self.max_file_bytes = max_file_bytes
        self.part_characters = min(part_characters, max_article_characters)
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
        max_quote_characters: int = DEFAULT_QUOTE_CHARACTERS,
        max_article_characters: int = DEFAULT_ARTICLE_CHARACTERS,
        create: bool = True,
        max_file_bytes: int = MAX_SOURCE_BYTES,
        part_characters: int = DEFAULT_PART_CHARACTERS,
    ) -> Library:
        """Open the library in `path`, creating it if needed; a new library gets the articles in `seeds`.

        With create=False a missing or empty folder raises LibraryNotFound (nothing is made); one that holds
        something else raises NotALibrary, as always."""
        folder = Path(path).expanduser()
        if not create and not cls.exists(folder) and not (folder.is_dir() and any(folder.iterdir())):
            raise LibraryNotFound(
                f"there is no quotebot library in {str(folder)!r}; check the folder's name, or "
                "create a library there by adding articles to it"
            )
        embedder = embedder or default_embedder()
        store = Store(Path(path).expanduser(), embedder=embedder.name, dimension=embedder.dimension)
        library = cls(
            store,
            embedder,
            scoring=scoring,
            max_quote_characters=max_quote_characters,
            max_article_characters=max_article_characters,
            max_file_bytes=max_file_bytes,
            part_characters=part_characters,
        )
        if store.created and seeds is not None and seeds.exists():
            library.add(library.read_sources([str(seeds)]))
        return library

    def read_sources(
        self,
        items: Iterable[str],
        *,
        errors: list[SourceError] | None = None,
        fetch: FetchPolicy | None = None,
        finished: Callable[[], None] | None = None,
    ) -> Iterator[Document]:
        """`index.articles.read_sources` under this library's limits: what to `add` from paths and URLs."""
        return read_sources(
            items,
            errors=errors,
            fetch=fetch,
            max_file_bytes=self.max_file_bytes,
            part_characters=self.part_characters,
            finished=finished,
        )

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

    def add(
        self,
        documents: Iterable[Document],
        *,
        progress: Callable[[int], None] | None = None,
        errors: list[SourceError] | None = None,
    ) -> AddReport:
        """Add documents; the same text again changes nothing, new text from a known source replaces it.

        Documents are committed in batches, each under the write lock, which is let go between batches: other
        writers progress during a long add, and a crash keeps every batch committed before it (whole articles).
        An article over `max_article_characters` raises SourceError, or with `errors` is appended there and
        skipped.
        """
        tally = _Tally()
        # The lock once up front, so that a busy or read-only library says so before anything is read.
        with self._store.writing():
            self._ensure_vectors()
        pending: list[_Prepared] = []
        seen_hashes: dict[str, str] = {}
        for document in documents:
            if len(document.text) > self.max_article_characters:
                error = SourceError(
                    f"{document.source!r} is {len(document.text):,} characters, over the library's limit of "
                    f"{self.max_article_characters:,} (max_article_characters); split it into smaller articles"
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
        if not batch and not (last and tally.unsaved):
            return
        with self._store.writing():
            self._ensure_vectors()
            if batch:
                tally.chunks += self._write(batch, vectors, tally, progress)
                tally.unsaved = True
            # The saved index is kept fresh during a long add, so other processes need not rebuild it.
            if tally.unsaved and (last or time.monotonic() - tally.saved_at > _SAVE_SECONDS):
                self._save_vectors()
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
        same_text, text_source, same_source = self._store.find(source=document.source, content_hash=content_hash)
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
            if item.fingerprint.words >= MIN_WORDS and bands.intersection(item.fingerprint.bands)
        ]
        for article_id in self._store.band_matches(marks.bands):
            article = self._store.article(article_id)
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
        """Write `batch` (its sentences' `vectors` in order) in one transaction; call under the lock."""
        new_ids: list[int] = []
        new_vectors: list[NDArray[np.float32]] = []
        removed: list[int] = []
        offset = 0
        written: list[_Prepared] = []
        with self._store.transaction() as connection:
            for item in batch:
                sentence_vectors = vectors[offset : offset + len(item.sentences)]
                offset += len(item.sentences)
                # Prepared without the lock: another writer may have added this text or source since.
                same_text, text_source, same_source = self._store.find(
                    source=item.document.source, content_hash=item.content_hash
                )
                if same_text is not None and _known(same_text, text_source, same_source, item.document.source):
                    tally.unchanged.append(same_text)
                    continue
                item.replaces = same_source
                item.article_id = same_source or item.article_id
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
                    author=item.document.author,
                    site=item.document.site,
                )
                new_ids.extend(self._store.insert_article(connection, article, chunks))
                self._store.insert_bands(connection, article.id, item.fingerprint.bands)
                new_vectors.extend(chunk.vector for chunk in chunks)
                written.append(item)
        self._vectors.remove(np.array(removed, dtype=np.int64))
        if new_ids:
            self._vectors.add(np.array(new_ids, dtype=np.int64), np.stack(new_vectors))
        self._vectors.generation = self._store.generation()
        for item in written:
            (tally.replaced if item.replaces else tally.added).append(item.article_id)
        if progress:
            for _ in batch:
                progress(1)
        return len(new_ids)

    def remove(self, article_ids: Iterable[str]) -> list[str]:
        """Remove articles completely: text, sentences, chunks, vectors."""
        # Every id (or unique prefix) is checked before anything is removed: a typo removes nothing.
        wanted = list(dict.fromkeys(self.resolve(article_id) for article_id in article_ids))
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
            self._save_vectors()
        return wanted

    # Reading

    def articles(self) -> list[ArticleSummary]:
        return self._store.summaries()

    def article(self, article_id: str) -> Article:
        """The article with this id, or with the only id that starts with it."""
        return self._store.article(self.resolve(article_id))

    def resolve(self, article_id: str) -> str:
        """The full id of the one article whose id is or starts with `article_id` (as `git` takes a short hash);
        ArticleNotFound when none does, AmbiguousArticleId when several do."""
        prefix = article_id.strip()
        matches = self._store.ids_starting_with(prefix, limit=4) if prefix else []
        if prefix in matches:
            return prefix
        if not matches:
            raise ArticleNotFound(f"no article has id {article_id!r}; `quotebot sources` lists the ids")
        if len(matches) > 1:
            shown = ", ".join(matches[:3]) + (", ..." if len(matches) > 3 else "")
            raise AmbiguousArticleId(f"{article_id!r} starts more than one article's id ({shown}); give more of the id")
        return matches[0]

    def sources_under(self, prefix: str) -> dict[str, tuple[str, str]]:
        """{source: (article id, content hash)} of the articles whose source starts with `prefix` (for sync)."""
        return self._store.sources_under(prefix)

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

    def ask(
        self,
        question: str,
        *,
        k: int = 3,
        method: Retrieval = "hybrid",
        reader: bool = True,
        threshold: float | None = None,
        conversation: Conversation | None = None,
        where: Where | None = None,
    ) -> Answer:
        """The best `k` quotes for `question`, or found=False when nothing answers it well enough; with
        reader=False, by the first stage and the rule-based marker only (the `no-reader` system of evaluation).

        With `conversation` (the turns before, see index.conversation) a follow-up ("When was she born?") is
        searched in their light; a question that stands on its own is answered exactly as without one. With
        `where`, only the articles it allows are searched. `threshold` replaces the calibrated "not found"
        threshold (0.0: the best guesses, whatever their score)."""
        return self._ask(
            question,
            k=k,
            method=method,
            reader=reader,
            threshold=threshold,
            conversation=conversation,
            where=where,
        )

    def explain(
        self, question: str, *, k: int = 3, conversation: Conversation | None = None, where: Where | None = None
    ) -> Explanation:
        """Why `ask` gives what it gives: the best candidates' first-stage features, the reader's scores, the
        thresholds and what each candidate's fate was (index.explaining), with the answer itself."""
        trace: list[Considered] = []
        answer = self._ask(
            question,
            k=k,
            method="hybrid",
            reader=True,
            threshold=None,
            conversation=conversation,
            where=where,
            trace=trace,
        )
        plan = follow_up(answer.question, conversation) if conversation is not None else None
        return explanation(
            answer,
            trace,
            self.scoring,
            searched=plan.searched if plan else answer.question,
            follow_up=plan.reason if plan else None,
            where=where,
        )

    def _ask(
        self,
        question: str,
        *,
        k: int,
        method: Retrieval,
        reader: bool,
        threshold: float | None,
        conversation: Conversation | None,
        where: Where | None,
        trace: list[Considered] | None = None,
    ) -> Answer:
        cleaned = _validate(question)
        plan = follow_up(cleaned, conversation) if conversation is not None else None
        searched = plan.searched if plan is not None else cleaned
        # "hi" or "who is she?" names nothing to look for; a quote found for it would only be a coincidence,
        # so nothing is encoded or searched.
        if not lexical.question_terms(searched):
            return Answer(question=cleaned, found=False, quotes=[])
        ranked = self.rank(searched, method=method, where=where, focus=plan.articles if plan is not None else ())
        if reader and self.scoring.reader:
            floor = self.scoring.reader_threshold if threshold is None else threshold
            return self._read(
                cleaned,
                _distinct(ranked),
                k=max(k, 1),
                threshold=floor,
                asked=searched,
                prior=plan.prior if plan is not None else None,
                trace=trace,
            )
        floor = self.scoring.threshold if threshold is None else threshold
        if not ranked or ranked[0].score < floor:
            return Answer(question=cleaned, found=False, quotes=[])
        return Answer(question=cleaned, found=True, quotes=self._quotes(searched, _distinct(ranked)[: max(k, 1)]))

    def _read(
        self,
        question: str,
        ranked: Sequence[ScoredSentence],
        *,
        k: int,
        threshold: float,
        asked: str | None = None,
        prior: Callable[[CandidateSentence], float] | None = None,
        trace: list[Considered] | None = None,
    ) -> Answer:
        """The reader reads the first stage's best few; their blend orders them, its threshold says "not found".

        `asked` is what the reader reads (a follow-up made whole), `prior` a log-odds bonus per sentence (a
        follow-up's previous article), `trace` collects every candidate's scores and fate for `explain`."""
        # A sentence that asks (an interviewer's question, a rhetorical one) never answers: it is not read, unless
        # nothing else is left.
        statements = [item for item in ranked if not item.sentence.text.rstrip().endswith("?")] or list(ranked)
        bonus = prior or (lambda _: 0.0)
        if prior is not None:
            statements.sort(key=lambda item: self.scoring.logit(item.features) + bonus(item.sentence), reverse=True)
        head = statements[: max(self.scoring.read_depth, k)]
        if not head:
            return Answer(question=question, found=False, quotes=[])
        neighbourhoods = self.passages([item.sentence for item in head])
        readings = load_reader(_reader_folder(self.scoring.reader)).read(
            asked or question, [neighbourhood.passage for neighbourhood in neighbourhoods]
        )
        read = sorted(
            (
                (
                    _shifted(
                        self.scoring.read(
                            self.scoring.logit(item.features), reading.answer, reading.span_score - reading.no_answer
                        ),
                        bonus(item.sentence),
                    ),
                    item,
                    neighbourhood,
                    reading,
                )
                for item, neighbourhood, reading in zip(head, neighbourhoods, readings, strict=True)
            ),
            key=lambda row: row[0],
            reverse=True,
        )
        confidence = round(read[0][0], 4)
        if trace is not None:
            trace.extend(
                Considered(item, probability, reading, bonus(item.sentence), "beyond_k")
                for probability, item, _, reading in read
            )
            trace.extend(
                Considered(item, None, None, bonus(item.sentence), "not_read") for item in statements[len(head) :][:3]
            )
        if read[0][0] < threshold:
            if trace is not None:
                trace[: len(read)] = [row.but("below_threshold") for row in trace[: len(read)]]
            return Answer(question=question, found=False, quotes=[], confidence=confidence)
        quotes: list[Quote] = []
        for number, (probability, item, neighbourhood, reading) in enumerate(read):
            if len(quotes) == k:
                break
            sentence = item.sentence
            start = sentence.start
            if neighbourhood.before_start is not None and leans_on_previous(sentence.text):
                start = neighbourhood.before_start
            if any(
                quote.article_id == sentence.article_id and quote.start < sentence.stop and start < quote.end
                for quote in quotes
            ):
                if trace is not None:
                    trace[number] = trace[number].but("inside_better_quote")
                continue  # already shown inside a better quote (one that took this sentence as its antecedent)
            if trace is not None:
                trace[number] = trace[number].but("quoted")
            rank = len(quotes)
            title, source, url, text = self._store.article_slice(sentence.article_id, start, sentence.stop)
            # Below quotes 1, a span is marked only where the reader prefers it to "no answer in this sentence".
            marked = reading.end > reading.start and (rank == 0 or reading.span_score > reading.no_answer)
            answer = (
                ShortAnswer(
                    text=sentence.text[reading.start : reading.end],
                    start=sentence.start + reading.start,
                    end=sentence.start + reading.end,
                )
                if marked
                else None
            )
            text, start, answer = self._bounded(text, start, answer)
            date, author = self._store.article_details(sentence.article_id)
            quotes.append(
                Quote(
                    text=text,
                    start=start,
                    end=start + len(text),
                    article_id=sentence.article_id,
                    title=title,
                    source=source,
                    url=url,
                    score=round(probability, 4),
                    answer=answer,
                    confidence=round(probability, 4),
                    weak=probability < self.scoring.weak_threshold,
                    date=date,
                    author=author,
                )
            )
        return Answer(question=question, found=True, quotes=quotes, confidence=confidence)

    def rank(
        self,
        question: str,
        *,
        method: Retrieval = "hybrid",
        rerank: bool = True,
        where: Where | None = None,
        focus: Sequence[str] = (),
    ) -> list[ScoredSentence]:
        """Every candidate sentence for `question`, scored, best first (for `ask` and for evaluation); with
        rerank=False, by the first-stage scorer only (no reranker: the baselines of evaluation). `where` restricts
        the search to the articles it allows; the articles in `focus` are searched again on their own too."""
        cleaned = _validate(question)
        self._ensure_vectors()
        scope = self._scope(where)
        if scope is not None and not scope.article_ids:
            return []
        query = self._question_vector(cleaned)
        terms = lexical.question_terms(cleaned)
        frequencies, documents = self._store.document_frequencies(terms)
        selective = _selective(terms, frequencies, documents)
        hits = retrieve(self._store, self._vectors, query, selective, method=method, scope=scope)
        focused = [article for article in focus if scope is None or article in scope.article_ids]
        if focused:
            seen = {hit.chunk_id for hit in hits}
            extra = retrieve(
                self._store,
                self._vectors,
                query,
                selective,
                method=method,
                keep=_FOCUS_CHUNKS,
                scope=Scope(focused, np.array(self._store.chunk_ids_of(focused), dtype=np.int64)),
            )
            hits += [hit for hit in extra if hit.chunk_id not in seen]
        if not hits:
            return []
        candidates = self._store.sentences_of_chunks([hit.chunk_id for hit in hits])
        idfs = {term: lexical.idf(frequencies.get(term, 0), documents) for term in terms}
        return rank_sentences(query, terms, candidates, hits, idfs, self.scoring, question=cleaned, rerank_head=rerank)

    def _scope(self, where: Where | None) -> Scope | None:
        """The articles and chunks `where` allows; None when it allows everything."""
        if where is None or where.is_empty:
            return None
        articles = where.allowed(self._store.article_fields())
        return Scope(articles, np.array(self._store.chunk_ids_of(articles) if articles else [], dtype=np.int64))

    def passages(self, sentences: Sequence[CandidateSentence]) -> list[Neighbourhood]:
        """Each sentence with the sentences before and after it in its article (what the reader reads)."""
        keys = [(sentence.article_id, sentence.position + step) for sentence in sentences for step in (-1, 1)]
        found = self._store.neighbours(keys)
        result = []
        for sentence in sentences:
            before = found.get((sentence.article_id, sentence.position - 1))
            after = found.get((sentence.article_id, sentence.position + 1))
            result.append(
                Neighbourhood(
                    passage=Passage(sentence.text, before[2] if before else "", after[2] if after else ""),
                    before_start=before[0] if before else None,
                )
            )
        return result

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
        quotes = []
        for (title, source, url, text), item, answer in zip(slices, items, answers, strict=True):
            text, start, answer = self._bounded(text, item.sentence.start, answer)
            date, author = self._store.article_details(item.sentence.article_id)
            quotes.append(
                Quote(
                    text=text,
                    start=start,
                    end=start + len(text),
                    article_id=item.sentence.article_id,
                    title=title,
                    source=source,
                    url=url,
                    score=round(item.score, 4),
                    answer=answer,
                    date=date,
                    author=author,
                )
            )
        return quotes

    def _bounded(self, text: str, start: int, answer: ShortAnswer | None) -> tuple[str, int, ShortAnswer | None]:
        """A quote's text and start (`text` begins at article offset `start`) cut to `max_quote_characters`
        around its answer, and the answer when it still fits."""
        if len(text) <= self.max_quote_characters:
            return text, start, answer
        if answer is not None and answer.end - answer.start > self.max_quote_characters:
            answer = None
        inside = None if answer is None else (answer.start - start, answer.end - start)
        low, high = window(text, limit=self.max_quote_characters, answer=inside)
        return text[low:high], start + low, answer

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
        """Make the FAISS index match the database: load (or catch up with) the saved one, checked against the
        database, or rebuild it from SQLite when it is stale, missing or damaged, and save what was rebuilt."""
        generation = self._store.generation()
        if self._vectors.generation == generation:
            return
        with self._vectors_lock:
            if self._vectors.generation == generation:
                return
            folder = self._store.folder
            try:
                chunks = self._store.counts()[1]
                lookup = self._store.chunk_vectors
                if self._vectors.load(folder, generation=generation, count=chunks, vectors_of=lookup):
                    return
                logger.info("building the vector index of %s from its database", folder)
            except DamagedIndex as damage:
                # A writer that commits while this reads makes the files disagree for a moment: not damage.
                if self._store.generation() == generation:
                    logger.warning("the vector index in %s is damaged (%s); rebuilding it from SQLite", folder, damage)
            ids, vectors = self._store.all_chunk_vectors()
            self._vectors.rebuild(ids, vectors, generation=generation)
            if not len(self._vectors):
                return  # nothing to save: an empty index costs nothing to rebuild
            with self._store.try_writing() as locked:
                # Under the lock nobody commits, so an unchanged generation means the rows read were of it.
                if locked and self._store.generation() == generation:
                    self._save_vectors()

    def _save_vectors(self) -> None:
        """Save the index; SQLite already holds every change, so a failure only costs a rebuild later."""
        try:
            self._vectors.save(self._store.folder)
        except (OSError, LibraryError) as error:
            logger.warning("the vector index of %s was not saved (%s); it will be rebuilt", self._store.folder, error)


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


# A sentence that opens with one of these leans on the one before for its subject ("Its first commander was ..."):
# quoted alone it does not say what it is about.
_LEANING = frozenset("it its he his him she her they their them this these those such".split())


def leans_on_previous(sentence: str) -> bool:
    """True when `sentence` opens with a pronoun or a pointing word that needs the sentence before it."""
    words = lexical.words(sentence[:40])
    return bool(words) and words[0] in _LEANING


# A follow-up searches the previous quote's article again on its own, for this many more chunks.
_FOCUS_CHUNKS = 6


def _shifted(probability: float, bonus: float) -> float:
    """`probability` with `bonus` added to its log-odds (0 leaves it exactly as it was)."""
    if bonus == 0.0:
        return probability
    clipped = min(max(probability, 1e-9), 1.0 - 1e-9)
    return 1.0 / (1.0 + math.exp(-(math.log(clipped / (1.0 - clipped)) + bonus)))


# A term in more than this share of chunks barely moves BM25 but makes FTS5 walk most of its index.
_COMMON_TERM_SHARE = 0.2
# In a small library every word is "common"; only large ones are worth the pruning.
_COMMON_TERMS_FROM = 5000


def _selective(terms: Sequence[str], frequencies: dict[str, int], documents: int) -> list[str]:
    """The question's terms that FTS5 is asked for: in a large library all but the very common ones (the two
    rarest at least)."""
    if documents < _COMMON_TERMS_FROM:
        return list(terms)
    limit = _COMMON_TERM_SHARE * documents
    kept = [term for term in terms if frequencies.get(term, 0) <= limit]
    if len(kept) >= min(2, len(terms)):
        return kept
    return sorted(terms, key=lambda term: frequencies.get(term, 0))[:2]


def _reader_folder(name: str | None) -> Path:
    return BUNDLED_READER if name in (None, "bundled") else Path(str(name))


def _validate(question: str) -> str:
    # A terminal's undecodable bytes arrive as lone surrogates, which SQLite and the tokenizers cannot take.
    cleaned = storable(question).strip()
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


def _known(same_text: str | None, text_source: str | None, same_source: str | None, source: str) -> bool:
    """Whether a text found stored (as `same_text`, under `text_source`) is this source's article already."""
    return same_text is not None and (
        same_text == same_source or (same_source is None and not _same_file(text_source, source))
    )


def _same_file(first: str | None, second: str) -> bool:
    """Whether two sources are records or parts of one file ("notes.jsonl#2", "notes.jsonl#3")."""
    pattern = re.compile(r"(.*)#(?:\d+|part-\d+)")
    one, other = pattern.fullmatch(first or ""), pattern.fullmatch(second)
    return one is not None and other is not None and one.group(1) == other.group(1)
