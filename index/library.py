"""The Library facade: open a library (a folder, or a PostgreSQL database), add, remove, list and ask.

The library talks to its backend (`index.backends`) only. Reads are safe from several threads at once; writes
are serialised in this process and, through the backend's write lock, across processes.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from index import lexical, marking
from index.answer import ScoredSentence, Scoring, rank_sentences
from index.articles import MAX_SOURCE_BYTES, read_sources, storable
from index.backends import Backend, is_database_url, open_backend
from index.conversation import Conversation, follow_up
from index.embedding import Embedder, default_embedder
from index.errors import (
    AmbiguousArticleId,
    ArticleNotFound,
    InvalidQuestion,
    LibraryNotFound,
    SourceError,
)
from index.explaining import Considered, Explanation, explanation
from index.fetching import FetchPolicy
from index.filtering import Where
from index.ingestion import Ingestion
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
from index.quoting import DEFAULT_QUOTE_CHARACTERS, window
from index.reader import BUNDLED_READER, Passage, load_reader
from index.search import Retrieval, retrieve
from index.streaming import DEFAULT_PART_CHARACTERS
from index.types import CandidateSentence, Scope

__all__ = ["DEFAULT_ARTICLE_CHARACTERS", "MAX_QUESTION_CHARACTERS", "Library", "Neighbourhood"]

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARACTERS = 2000
_CONTEXT_CHARACTERS = 1500
DEFAULT_ARTICLE_CHARACTERS = 50_000_000


@dataclass(frozen=True, slots=True)
class Neighbourhood:
    """A candidate sentence with its neighbours, and where the sentence before it starts in the article."""

    passage: Passage
    before_start: int | None


class Library:
    """A collection of articles you can ask questions of."""

    def __init__(
        self,
        backend: Backend,
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
        self._backend = backend
        self._embedder = embedder
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
        """Open the library in `path` (a folder, or a postgresql:// URL), creating it if needed; a new library
        gets the articles in `seeds`.

        With create=False a missing or empty folder raises LibraryNotFound (nothing is made); one that holds
        something else raises NotALibrary, as always."""
        if not is_database_url(path):
            folder = Path(path).expanduser()
            if not create and not cls.exists(folder) and not (folder.is_dir() and any(folder.iterdir())):
                raise LibraryNotFound(
                    f"there is no quotebot library in {str(folder)!r}; check the folder's name, or "
                    "create a library there by adding articles to it"
                )
        embedder = embedder or default_embedder()
        backend = open_backend(path, embedder=embedder.name, dimension=embedder.dimension)
        library = cls(
            backend,
            embedder,
            scoring=scoring,
            max_quote_characters=max_quote_characters,
            max_article_characters=max_article_characters,
            max_file_bytes=max_file_bytes,
            part_characters=part_characters,
        )
        if backend.created and seeds is not None and seeds.exists():
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
        """Whether a library folder is at `path` (a database URL is asked for by opening it)."""
        return not is_database_url(path) and (Path(path).expanduser() / "quotebot.json").exists()

    @property
    def path(self) -> str:
        """Where the library is: its folder, or its database's URL without the password."""
        return self._backend.location

    @property
    def backend(self) -> Backend:
        """Where the articles live (for benchmarks and checks that measure the backend itself)."""
        return self._backend

    @property
    def created(self) -> bool:
        """True when `open` made this library just now."""
        return self._backend.created

    def close(self) -> None:
        self._backend.close()

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
        ingestion = Ingestion(self._backend, self._embedder, max_article_characters=self.max_article_characters)
        return ingestion.add(documents, progress=progress, errors=errors)

    def remove(self, article_ids: Iterable[str]) -> list[str]:
        """Remove articles completely: text, sentences, chunks, vectors."""
        # Every id (or unique prefix) is checked before anything is removed: a typo removes nothing.
        wanted = list(dict.fromkeys(self.resolve(article_id) for article_id in article_ids))
        with self._backend.writing():
            known = self._backend.article_ids()
            for article_id in wanted:
                if article_id not in known:
                    raise ArticleNotFound(f"no article has id {article_id!r}; `quotebot sources` lists the ids")
            self._backend.delete(wanted)
            self._backend.persist()
        return wanted

    # Reading

    def articles(self) -> list[ArticleSummary]:
        return self._backend.summaries()

    def article(self, article_id: str) -> Article:
        """The article with this id, or with the only id that starts with it."""
        return self._backend.article(self.resolve(article_id))

    def resolve(self, article_id: str) -> str:
        """The full id of the one article whose id is or starts with `article_id` (as `git` takes a short hash);
        ArticleNotFound when none does, AmbiguousArticleId when several do."""
        prefix = article_id.strip()
        matches = self._backend.ids_starting_with(prefix, limit=4) if prefix else []
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
        return self._backend.sources_under(prefix)

    def stats(self) -> LibraryStats:
        held = self._backend.stats()
        return LibraryStats(
            path=self._backend.location,
            articles=held.articles,
            chunks=held.chunks,
            sentences=held.sentences,
            embedder=self._embedder.name,
            dimension=self._embedder.dimension,
            index_type=held.index_type,
            vectors=held.vectors,
            database_bytes=held.database_bytes,
            index_bytes=held.index_bytes,
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
        # A sentence that asks (an interviewer's question, a rhetorical one) or a photo's caption never answers:
        # it is not read, unless nothing else is left.
        statements = [item for item in ranked if not never_answers(item.sentence.text)] or list(ranked)
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
            title, source, url, text = self._backend.article_slice(sentence.article_id, start, sentence.stop)
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
            date, author = self._backend.article_details(sentence.article_id)
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
        scope = self._scope(where)
        if scope is not None and not scope.article_ids:
            return []
        query = self._question_vector(cleaned)
        terms = lexical.question_terms(cleaned)
        frequencies, documents = self._backend.term_statistics(terms)
        selective = _selective(terms, frequencies, documents)
        hits = retrieve(self._backend, query, selective, method=method, scope=scope)
        focused = [article for article in focus if scope is None or article in scope.article_ids]
        if focused:
            seen = {hit.chunk_id for hit in hits}
            extra = retrieve(
                self._backend,
                query,
                selective,
                method=method,
                keep=_FOCUS_CHUNKS,
                scope=Scope(focused),
            )
            hits += [hit for hit in extra if hit.chunk_id not in seen]
        if not hits:
            return []
        candidates = self._backend.sentences_of_chunks([hit.chunk_id for hit in hits])
        idfs = {term: lexical.idf(frequencies.get(term, 0), documents) for term in terms}
        return rank_sentences(query, terms, candidates, hits, idfs, self.scoring, question=cleaned, rerank_head=rerank)

    def _scope(self, where: Where | None) -> Scope | None:
        """The articles and chunks `where` allows; None when it allows everything."""
        if where is None or where.is_empty:
            return None
        return Scope(self._backend.matching(where))

    def passages(self, sentences: Sequence[CandidateSentence]) -> list[Neighbourhood]:
        """Each sentence with the sentences before and after it in its article (what the reader reads)."""
        keys = [(sentence.article_id, sentence.position + step) for sentence in sentences for step in (-1, 1)]
        found = self._backend.neighbours(keys)
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
            self._backend.article_slice(item.sentence.article_id, item.sentence.start, item.sentence.stop)
            for item in items
        ]
        answers = marking.short_answers(
            question, [(text, item.sentence.start) for (_, _, _, text), item in zip(slices, items, strict=True)]
        )
        quotes = []
        for (title, source, url, text), item, answer in zip(slices, items, answers, strict=True):
            text, start, answer = self._bounded(text, item.sentence.start, answer)
            date, author = self._backend.article_details(item.sentence.article_id)
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
        article = self._backend.article(quote.article_id)
        text = article.text
        start = text.rfind("\n", 0, quote.start) + 1
        end = text.find("\n", quote.end)
        end = len(text) if end < 0 else end
        spans = self._backend.sentence_spans(article.id)
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


# A sentence that opens with one of these leans on the one before for its subject ("Its first commander was ..."):
# quoted alone it does not say what it is about.
_LEANING = frozenset("it its he his him she her they their them this these those such".split())


def leans_on_previous(sentence: str) -> bool:
    """True when `sentence` opens with a pronoun or a pointing word that needs the sentence before it."""
    words = lexical.words(sentence[:40])
    return bool(words) and words[0] in _LEANING


# A line that opens so is a picture's caption or credit: it describes the picture, not the events.
_CAPTION = re.compile(r"(?:photo|picture|image|caption|credit|pictured|video)s?\s*:", re.IGNORECASE)


def never_answers(sentence: str) -> bool:
    """True for a question (an interviewer's, a rhetorical one) and for a caption ("Photo: The wreck ...")."""
    return sentence.rstrip().endswith("?") or _CAPTION.match(sentence.lstrip()) is not None


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
