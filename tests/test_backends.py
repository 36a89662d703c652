"""The `Backend` Protocol's verbs, over every backend (today: PostgreSQL, started by the tests; `local` joins
with one line in BACKENDS), then what only the PostgreSQL backend has: its URL, its schema, its errors."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from backend_articles import DIMENSION, EMBEDDER, make_article, open_for_test, sentence_spans, unit_vector

from index import lexical
from index.articles import storable
from index.backends.base import Backend
from index.errors import (
    ArticleNotFound,
    EmbedderMismatch,
    LibraryBusy,
    LibraryError,
    LibraryNotFound,
    LibraryUnreachable,
    NotALibrary,
)
from index.filtering import Where
from index.lexical import question_terms
from index.types import Scope

BACKENDS = ["local", "postgres"]
WORKER = Path(__file__).parent / "backend_worker.py"

Factory = Callable[..., Any]

STORY = (
    "The harbour of Bergen opened in 1070. Fishermen sold cod there every morning! "
    "Did the Hanseatic League trade in Bergen? It did, for four centuries. "
    "Today cruise ships fill the harbour in summer."
)


@pytest.fixture(params=BACKENDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def location(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh library of `kind` lives: a fresh database, or a new folder."""
    if kind == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return str(tmp_path / "library")


@pytest.fixture
def backend_factory(kind: str, location: str) -> Iterator[Factory]:
    """Opens backends on the one library at `location` (any number, as several processes would); closes them."""
    opened: list[Any] = []

    def make(**options: Any) -> Any:
        backend = open_for_test(kind, location, **options)
        opened.append(backend)
        return backend

    yield make
    for backend in opened:
        backend.close()


@pytest.fixture
def backend(backend_factory: Factory) -> Any:
    return backend_factory()


def store(backend: Any, *items: Any) -> int:
    with backend.writing():
        return int(backend.store(list(items)))


def chunk_keys(backend: Any, chunk_ids: list[int]) -> dict[int, tuple[str, int]]:
    """(article id, start) of each chunk, from its first sentence: how a test names a chunk id."""
    keys: dict[int, tuple[str, int]] = {}
    for sentence in backend.sentences_of_chunks(chunk_ids):
        key = (sentence.article_id, sentence.start)
        keys[sentence.chunk_id] = min(keys.get(sentence.chunk_id, key), key)
    return keys


def test_a_new_library_satisfies_the_protocol_and_is_empty(backend: Any, backend_factory: Factory) -> None:
    assert isinstance(backend, Backend)
    assert backend.created and backend.embedder == EMBEDDER
    stats = backend.stats()
    assert (stats.articles, stats.chunks, stats.sentences, stats.vectors) == (0, 0, 0, 0)
    assert backend.summaries() == [] and backend.article_ids() == set()
    assert backend.dense(unit_vector("q"), 5) == [] and backend.lexical(["harbour"], 5) == []
    assert backend.term_statistics(["harbour"]) == ({}, 0)
    assert not backend_factory().created


def test_stored_articles_read_back_through_every_verb(backend: Any) -> None:
    bergen = make_article(STORY, source="notes/bergen.txt", title="Bergen", date="2015-03-02", author="Ann", added=1)
    oslo = make_article("Oslo has a fjord. It has a new opera.", source="web/oslo.html", title="Oslo", added=2)
    assert store(backend, bergen, oslo) == len(bergen.chunks) + len(oslo.chunks) == 4
    assert backend.article(bergen.article.id) == bergen.article
    assert backend.article_ids() == {bergen.article.id, oslo.article.id}
    assert [summary.id for summary in backend.summaries()] == [bergen.article.id, oslo.article.id]
    first = backend.summaries()[0]
    assert (first.title, first.characters, first.chunks, first.author) == ("Bergen", len(STORY), 3, "Ann")
    assert backend.find(source="notes/bergen.txt", content_hash=bergen.article.content_hash) == (
        bergen.article.id,
        "notes/bergen.txt",
        bergen.article.id,
    )
    assert backend.find(source="elsewhere.txt", content_hash=oslo.article.content_hash) == (
        oslo.article.id,
        "web/oslo.html",
        None,
    )
    assert backend.find(source="web/oslo.html", content_hash="other") == (None, None, oslo.article.id)
    assert backend.sources_under("notes/") == {"notes/bergen.txt": (bergen.article.id, bergen.article.content_hash)}
    assert backend.ids_starting_with(bergen.article.id[:3], limit=5) == [bergen.article.id]
    assert backend.ids_starting_with("%", limit=5) == []
    assert backend.article_details(bergen.article.id) == ("2015-03-02", "Ann")
    assert backend.article_details("nope") == (None, None)
    assert backend.sentence_spans(bergen.article.id) == sentence_spans(STORY)
    start, stop = sentence_spans(STORY)[2]
    assert backend.neighbours([(bergen.article.id, 2), (bergen.article.id, 99)]) == {
        (bergen.article.id, 2): (start, stop, STORY[start:stop])
    }
    assert backend.article_slice(bergen.article.id, start, stop) == (
        "Bergen",
        "notes/bergen.txt",
        None,
        STORY[start:stop],
    )
    assert backend.band_matches(list(oslo.bands[:2])) == [oslo.article.id]
    # At least `least` shared bands: two of Oslo's pass two, one does not.
    assert backend.band_matches(list(oslo.bands[:2]), least=2) == [oslo.article.id]
    assert backend.band_matches(list(oslo.bands[:1]), least=2) == []
    assert backend.matching(Where(source="notes")) == [bergen.article.id]
    assert backend.matching(Where(since="2015", until="2015-12")) == [bergen.article.id]
    stats = backend.stats()
    assert (stats.articles, stats.chunks, stats.sentences) == (2, 4, 7)
    with pytest.raises(ArticleNotFound, match="no article has id 'nope'"):
        backend.article("nope")
    with pytest.raises(ArticleNotFound):
        backend.article_slice("nope", 0, 1)


def test_replacing_an_article_leaves_nothing_of_the_old_version(backend: Any) -> None:
    old = make_article("Trolls guard the bridge. Goats cross it anyway.", source="tale.txt")
    store(backend, old)
    old_chunks = [chunk_id for chunk_id, _ in backend.dense(unit_vector("q"), 10)]
    new = make_article("Dragons guard the cave. Knights avoid it.", source="tale.txt", replaces=old.article.id)
    store(backend, new)
    assert backend.article(old.article.id).text == new.article.text
    # A chunk id may be used again (SQLite reuses the highest row id), but never for the old text.
    assert {sentence.text.strip() for sentence in backend.sentences_of_chunks(old_chunks)} <= {
        "Dragons guard the cave.",
        "Knights avoid it.",
    }
    assert backend.lexical(["troll"], 5) == []
    assert backend.term_statistics(["troll", "dragon", "guard"]) == ({"dragon": 1, "guard": 1}, 1)
    assert len(backend.dense(unit_vector("q"), 10)) == 1
    assert backend.sentence_spans(old.article.id) == sentence_spans(new.article.text)


def test_delete_removes_everything_derived(backend: Any) -> None:
    keep = make_article("Cats sleep all day. Dogs bark at night.", source="keep.txt", added=1)
    gone = make_article("Cats hunt mice. Owls hunt too.", source="gone.txt", added=2)
    store(backend, keep, gone)
    with backend.writing():
        backend.delete([gone.article.id, "unknown"])
    assert backend.article_ids() == {keep.article.id}
    assert backend.sentence_spans(gone.article.id) == []
    assert backend.band_matches(list(gone.bands)) in ([], [keep.article.id])
    assert backend.term_statistics(["cat", "owl", "hunt"]) == ({"cat": 1}, 1)
    assert {backend.stats().sentences, backend.stats().chunks} == {2, 1}
    with backend.writing():
        backend.delete([keep.article.id])
    assert backend.term_statistics(["cat"]) == ({}, 0) and backend.stats().articles == 0


def test_a_failing_batch_stores_none_of_its_articles(backend: Any) -> None:
    first = make_article("One sentence here.", source="first.txt")
    store(backend, first)
    fine = make_article("A fine article. It would be stored.", source="fine.txt")
    clash = make_article("Another text.", source="first.txt", article_id="another0id00")  # source is unique
    with pytest.raises(LibraryError), backend.writing():
        backend.store([fine, clash])
    assert backend.article_ids() == {first.article.id}
    assert backend.term_statistics(["fine"]) == ({}, 1)
    assert backend.stats().chunks == 1


HOSTILE = (
    "Emoji 👩‍👩‍👧 and flags 🇳🇴 stay whole. Combining: e\u0301 n\u0303 a\u030a. "
    "A NUL \x00 byte, and another\x00! CRLF\r\nline two. 中文的句子。Zero\u200bwidth? "
    "Surrogate-free 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 end."
)


def test_slices_equal_python_slices_of_hostile_text(backend: Any) -> None:
    text = storable(HOSTILE + " Lone \udc80 surrogate.")  # the library cleans lone surrogates before a backend
    assert "\udc80" not in text and "\x00" in text
    item = make_article(text, source="hostile\x00.txt", title="Title with NUL \x00 and 👩‍👩‍👧", per_chunk=3)
    store(backend, item)
    article_id = item.article.id
    assert backend.article(article_id) == item.article
    summary = backend.summaries()[0]
    assert (summary.characters, summary.title, summary.source) == (len(text), item.article.title, "hostile\x00.txt")
    spans = sentence_spans(text)
    for start, stop in [*spans, (0, len(text)), (3, 4), (len(text) - 2, len(text) + 5), (7, 7)]:
        assert backend.article_slice(article_id, start, stop)[3] == text[start:stop]
    assert backend.article_slice(article_id, 0, 1)[:2] == (item.article.title, "hostile\x00.txt")
    chunk_ids = [chunk_id for chunk_id, _ in backend.dense(unit_vector("q"), 10)]
    sentences = backend.sentences_of_chunks(chunk_ids)
    assert sorted((sentence.start, sentence.stop) for sentence in sentences) == spans
    assert all(sentence.text == text[sentence.start : sentence.stop] for sentence in sentences)
    neighbours = backend.neighbours([(article_id, position) for position in range(len(spans))])
    assert [neighbours[(article_id, position)] for position in range(len(spans))] == [
        (start, stop, text[start:stop]) for start, stop in spans
    ]
    assert backend.sources_under("hostile\x00") == {"hostile\x00.txt": (article_id, item.article.content_hash)}


def test_a_text_whose_stems_include_the_empty_stem_is_stored_and_found(backend: Any) -> None:
    # Porter makes "" of the lone "s" in "it’s"; PostgreSQL's tsvector refuses an empty lexeme.
    item = make_article("It’s the harbour’s oldest crane. Cranes lift cargo.", source="crane.txt")
    store(backend, item)
    assert "" in lexical.stems(item.article.text)
    assert [chunk_id for chunk_id, _ in backend.lexical(["crane"], 5)]
    assert backend.article(item.article.id).text == item.article.text


def _library_of(backend: Any, articles: int) -> list[Any]:
    items = [
        make_article(
            " ".join(f"Article {number} sentence {index} about topic{(number + index) % 7}." for index in range(6)),
            source=f"source-{number % 3}/{number}.txt",
            added=number,
        )
        for number in range(articles)
    ]
    store(backend, *items)
    return items


def _brute_force(items: list[Any], query: np.ndarray, k: int, allowed: set[str] | None = None) -> list[tuple[str, int]]:
    scored = [
        (float(chunk.vector @ query), (item.article.id, chunk.start))
        for item in items
        for chunk in item.chunks
        if allowed is None or item.article.id in allowed
    ]
    return [key for _, key in sorted(scored, key=lambda pair: -pair[0])[:k]]


def test_dense_search_equals_brute_force_with_and_without_scope(backend: Any) -> None:
    items = _library_of(backend, 20)  # 60 chunks
    for seed in range(5):
        query = unit_vector(f"query {seed}")
        hits = backend.dense(query, 7)
        keys = chunk_keys(backend, [chunk_id for chunk_id, _ in hits])
        assert [keys[chunk_id] for chunk_id, _ in hits] == _brute_force(items, query, 7)
        vectors = backend.chunk_vectors([chunk_id for chunk_id, _ in hits])
        for chunk_id, cosine in hits:
            assert cosine == pytest.approx(float(vectors[chunk_id] @ query), abs=1e-6)
            assert -1.0 <= cosine <= 1.0
        allowed = {item.article.id for item in items[5:9]}  # 12 chunks: k of them still come back
        scoped = backend.dense(query, 7, scope=Scope(article_ids=sorted(allowed)))
        keys = chunk_keys(backend, [chunk_id for chunk_id, _ in scoped])
        assert [keys[chunk_id] for chunk_id, _ in scoped] == _brute_force(items, query, 7, allowed)
    assert backend.dense(unit_vector("q"), 5, scope=Scope(article_ids=[])) == []
    assert len(backend.dense(unit_vector("q"), 500)) == 60


def test_stored_vectors_come_back_exact(backend: Any) -> None:
    item = make_article(STORY, source="bergen.txt")
    store(backend, item)
    hits = backend.dense(item.chunks[0].vector, 3)
    vectors = backend.chunk_vectors([chunk_id for chunk_id, _ in hits])
    assert any(np.array_equal(vector, item.chunks[0].vector) for vector in vectors.values())
    assert hits[0][1] == pytest.approx(1.0, abs=1e-6)
    sentences = backend.sentences_of_chunks([hits[0][0]])
    for sentence, (_, _, vector) in zip(sentences, item.chunks[0].sentences, strict=True):
        assert sentence.vector.dtype == np.float32
        assert np.array_equal(sentence.vector, vector.astype(np.float16).astype(np.float32))  # float16, as SQLite


PARITY_TEXTS = [
    "The ferry to Bergen leaves the harbour at dawn. Passengers watch the fjord and the mountains.",
    "Bergen is a rainy city. Its harbour was the heart of the Hanseatic trade in dried cod.",
    "Cod was dried on racks in Lofoten. Dried cod, or stockfish, was shipped south from Bergen harbour.",
    "A new bridge crosses the fjord. Engineers tested the bridge in strong winds and heavy rain.",
    "Running, runners and the run: stemming joins them. The runner ran a marathon in the rain.",
    "Mountains surround the city. Hikers climb seven mountains in one day, in rain or sun.",
    "Tourists arrive on cruise ships. The ships are large and the harbour is small.",
    "Fish markets sell salmon, cod, shrimp and crab. The market opens early each morning.",
    "Universities in Norway are free. Students from abroad study engineering and fishing science.",
    "Café crème and naïve résumé: diacritics are removed before stemming words.",
]
PARITY_QUESTIONS = [
    "When does the ferry leave the harbour?",
    "What was dried in Lofoten?",
    "Who tested the bridge in the wind?",
    "Where do runners run marathons in the rain?",
    "Which fish does the market sell each morning, cod or salmon?",
    "Is the café crème naive?",
    "harbour harbour cod",
]


def test_lexical_scores_equal_sqlite_fts5_bm25(backend: Any) -> None:
    items = [
        make_article(text, source=f"parity/{number}.txt", per_chunk=1, added=number)
        for number, text in enumerate(PARITY_TEXTS)
    ]
    store(backend, *items)
    reference = sqlite3.connect(":memory:")
    reference.execute(
        "CREATE VIRTUAL TABLE chunk_text USING fts5(text, tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    reference.execute("CREATE VIRTUAL TABLE chunk_terms USING fts5vocab(chunk_text, 'row')")
    names: dict[int, tuple[str, int]] = {}
    for item in items:
        for chunk in item.chunks:
            cursor = reference.execute("INSERT INTO chunk_text(text) VALUES (?)", (chunk.text,))
            assert cursor.lastrowid is not None
            names[cursor.lastrowid] = (item.article.id, chunk.start)
    compared = 0
    for question in PARITY_QUESTIONS:
        terms = question_terms(question) if question != "harbour harbour cod" else ["harbour", "harbour", "cod"]
        query = " OR ".join('"' + term + '"' for term in terms)
        expected = reference.execute(
            "SELECT rowid, -bm25(chunk_text) FROM chunk_text WHERE chunk_text MATCH ? ORDER BY bm25(chunk_text), rowid"
            " LIMIT 6",
            (query,),
        ).fetchall()
        hits = backend.lexical(terms, 6)
        keys = chunk_keys(backend, [chunk_id for chunk_id, _ in hits])
        assert [keys[chunk_id] for chunk_id, _ in hits] == [names[rowid] for rowid, _ in expected], question
        for (_, score), (_, reference_score) in zip(hits, expected, strict=True):
            assert score == pytest.approx(reference_score, rel=1e-9), question
        compared += len(hits)
        frequencies = dict(reference.execute("SELECT term, doc FROM chunk_terms").fetchall())
        statistics, total = backend.term_statistics(terms)
        assert total == len(names)
        assert statistics == {term: frequencies[term] for term in set(terms) if term in frequencies}, question
    assert compared >= 25
    scope = [items[1], items[6]]
    scoped = backend.lexical(["harbour"], 6, scope=Scope(article_ids=[item.article.id for item in scope]))
    assert sorted(chunk_keys(backend, [chunk_id for chunk_id, _ in scoped]).values()) == sorted(
        (item.article.id, chunk.start) for item in scope for chunk in item.chunks if "harbour" in chunk.text
    )
    assert len(scoped) == 2


def test_a_library_refuses_another_embedder(kind: str, location: str) -> None:
    from index.backends import open_backend

    open_for_test(kind, location).close()
    for embedder, dimension in (("another-model", DIMENSION), (EMBEDDER, DIMENSION * 2)):
        with pytest.raises(EmbedderMismatch, match=f"built with embedder '{EMBEDDER}'.*open it with the same"):
            open_backend(location, embedder=embedder, dimension=dimension)
    reopened = open_backend(location, embedder=EMBEDDER, dimension=DIMENSION)
    assert not reopened.created
    reopened.close()


def test_a_second_writer_waits_then_gets_library_busy(backend_factory: Factory) -> None:
    first = backend_factory()
    second = backend_factory(write_wait_seconds=0.5)
    with first.writing():
        started = time.monotonic()
        with pytest.raises(LibraryBusy, match="another quotebot process has been writing"), second.writing():
            pass
        assert 0.5 <= time.monotonic() - started < 5.0
    with second.writing():
        second.store([make_article("Now it may write.", source="second.txt")])
    assert first.article_ids() == {make_article("x", source="second.txt").article.id}


def test_reads_from_several_threads_at_once_agree(backend: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    items = _library_of(backend, 12)

    def read(seed: int) -> tuple[Any, ...]:
        query = unit_vector(f"thread {seed % 3}")
        return (
            backend.dense(query, 5),
            backend.lexical(["topic3", "sentenc"], 5),
            backend.article(items[seed % 12].article.id).text,
        )

    expected = {seed: read(seed) for seed in range(3)}
    assert all(len(expected[seed][0]) == 5 and len(expected[seed][1]) == 5 for seed in expected)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(read, range(36)))
    assert all(result[:2] == expected[seed % 3][:2] for seed, result in enumerate(results))
    assert all(result[2] == items[seed % 12].article.text for seed, result in enumerate(results))


def _worker(*arguments: str) -> subprocess.Popen[str]:
    paths = [str(WORKER.parent.parent), str(WORKER.parent), os.environ.get("PYTHONPATH", "")]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in paths if path)}
    return subprocess.Popen(
        [sys.executable, str(WORKER), *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )


def test_two_writing_processes_and_a_reader_share_one_library(kind: str, location: str, backend: Any) -> None:
    reader = _worker("read", kind, location, "24")
    assert reader.stdout is not None
    # The writers start once the reader has the library open, so that it reads while they write (it used to
    # start after two quick writers had finished, now and then, and read once).
    assert reader.stdout.readline().strip() == "ready"
    writers = [_worker("write", kind, location, name, "4", "3") for name in ("alpha", "beta")]
    outputs = []
    for process in [*writers, reader]:
        output, errors = process.communicate(timeout=300)  # spawning is slow on a loaded machine
        assert process.returncode == 0, output + errors
        outputs.append(output)
    assert outputs[0].split() == ["stored", "0", "stored", "1", "stored", "2", "stored", "3"]
    assert outputs[2].startswith("reads ") and int(outputs[2].split()[1]) > 1  # it read while the writers wrote
    summaries = backend.summaries()
    assert sorted(summary.source for summary in summaries) == sorted(
        f"{name}-{batch}-{number}" for name in ("alpha", "beta") for batch in range(4) for number in range(3)
    )
    statistics, chunks = backend.term_statistics(["harbour0", "writer"])
    assert chunks == sum(summary.chunks for summary in summaries) == 24 * 12
    assert statistics["writer"] == chunks


def test_a_writer_killed_mid_batch_leaves_only_whole_articles(kind: str, location: str, backend: Any) -> None:
    for attempt in range(5):
        writer = _worker("write", kind, location, f"crash{attempt}", "40", "6")
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "stored 0"  # one batch committed; the next one is being written
        time.sleep(0.03 + 0.02 * attempt)
        writer.kill()
        writer.communicate(timeout=30)
        assert writer.returncode == -9
        summaries = backend.summaries()
        assert len(summaries) % 6 == 0 and 6 * (attempt + 1) <= len(summaries) < 240 * (attempt + 1)
        for summary in summaries:
            article = backend.article(summary.id)
            assert backend.sentence_spans(summary.id) == sentence_spans(article.text)
            assert summary.chunks == (len(sentence_spans(article.text)) + 1) // 2
        statistics, chunks = backend.term_statistics(["writer"])
        assert chunks == sum(summary.chunks for summary in summaries) == statistics["writer"]
        if kind != "postgres" or _killed_inside_a_store(location):
            break
    else:
        pytest.fail("in 5 tries no kill landed inside a store; the test proves nothing here")
    with backend.writing():  # the killed writer's lock went with its connection
        backend.store([make_article("After the crash.", source="after.txt")])


def test_postgres_hnsw_path_runs_its_settings_and_returns_k(postgres_url: str) -> None:
    """The HNSW branch of `dense` (ef_search, iterative scan) on a library that records an HNSW index; where the
    server's CPU cannot build one (see tests/postgres_server.py) the index itself is absent and Postgres scans."""
    import psycopg

    from index.backends.postgres.connection import without_index_parameter

    backend = open_for_test("postgres", postgres_url)
    try:
        items = _library_of(backend, 30)  # 90 chunks
    finally:
        backend.close()
    with psycopg.connect(without_index_parameter(postgres_url)[0], autocommit=True) as connection:
        connection.execute("UPDATE library SET value = 'hnsw' WHERE key = 'ann'")
    backend = open_for_test("postgres", postgres_url, exact_scope_chunks=0)  # scopes, too, go through the index
    try:
        assert backend.stats().index_type == "hnsw (halfvec)"
        query = unit_vector("hnsw query")
        hits = backend.dense(query, 10)
        keys = chunk_keys(backend, [chunk_id for chunk_id, _ in hits])
        assert [keys[chunk_id] for chunk_id, _ in hits] == _brute_force(items, query, 10)
        allowed = {item.article.id for item in items[:4]}
        scoped = backend.dense(query, 10, scope=Scope(article_ids=sorted(allowed)))
        keys = chunk_keys(backend, [chunk_id for chunk_id, _ in scoped])
        assert [keys[chunk_id] for chunk_id, _ in scoped] == _brute_force(items, query, 10, allowed)
    finally:
        backend.close()


def _killed_inside_a_store(url: str) -> bool:
    """Whether the killed writer had begun inserting chunks (sequences are not rolled back) that never committed."""
    import psycopg

    from index.backends.postgres.connection import without_index_parameter

    with psycopg.connect(without_index_parameter(url)[0]) as connection:
        row = connection.execute(
            "SELECT last_value, (SELECT coalesce(max(id), 0) FROM chunks) FROM chunk_ids"
        ).fetchone()
    assert row is not None
    return bool(row[0] > row[1])


# What only the PostgreSQL backend has


def test_postgres_location_never_shows_the_password(postgres_server: Any, postgres_url: str) -> None:
    database = postgres_url.split("/")[3].split("?")[0]
    options = postgres_url.partition("?")[2].partition("&")[2]  # quotebot_index=..., where the fixture set it
    url = postgres_server.url(database, password="s3cret p@ss") + ("&" + options if options else "")
    backend = open_for_test("postgres", url)
    try:
        assert "s3cret" not in backend.location and "p%40ss" not in backend.location
        assert backend.location == postgres_server.url(database)  # no password, no quotebot_index
        expected = "exact (halfvec)" if "quotebot_index=exact" in url else "hnsw (halfvec)"
        assert backend.stats().index_type == expected
    finally:
        backend.close()
    with pytest.raises(LibraryError, match=r"quotebot_index='fast' .* is not an index kind; use hnsw or exact"):
        open_for_test("postgres", postgres_server.url(database) + "&quotebot_index=fast")


def test_postgres_errors_are_one_line_and_say_how_to_fix(postgres_server: Any, tmp_path: Path) -> None:
    nowhere = f"postgresql://someone:hunter2@/library?host={tmp_path}"
    with pytest.raises(LibraryUnreachable) as unreachable:
        open_for_test("postgres", nowhere)
    message = str(unreachable.value)
    assert "hunter2" not in message and "\n" not in message
    assert message.startswith(f"cannot reach the library's database 'postgresql://someone@/library?host={tmp_path}'")
    assert "check that the server runs" in message
    with pytest.raises(LibraryUnreachable, match=r"refused the login.*check the user and password"):
        open_for_test("postgres", postgres_server.url("postgres", user="nobody", password="hunter2"))
    with pytest.raises(LibraryNotFound, match=r"does not exist.*createdb"):
        open_for_test("postgres", postgres_server.url("no_such_database"))


def test_postgres_schema_is_versioned_and_foreign_tables_are_refused(postgres_server: Any) -> None:
    import psycopg

    from index.backends.postgres.connection import without_index_parameter

    url = postgres_server.new_database()
    open_for_test("postgres", url).close()
    with psycopg.connect(without_index_parameter(url)[0], autocommit=True) as connection:
        assert connection.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
        connection.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(NotALibrary, match=r"schema version 99.*upgrade quotebot"):
        open_for_test("postgres", url)
    foreign = postgres_server.new_database()
    with psycopg.connect(without_index_parameter(foreign)[0], autocommit=True) as connection:
        connection.execute("CREATE TABLE articles (name text)")
    with pytest.raises(NotALibrary, match=r"tables of something else \(articles\)"):
        open_for_test("postgres", foreign)
    with psycopg.connect(without_index_parameter(foreign)[0], autocommit=True) as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    assert tables == [("articles",)]  # nothing was changed
