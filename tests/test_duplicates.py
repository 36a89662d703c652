"""The same article from two sources is stored once: exact copies are unchanged, near copies reported."""

from __future__ import annotations

from pathlib import Path

from local_web import MADE
from test_web_pages import PAGE

from bot.reports import add_summary
from index.articles import read_sources
from index.duplicates import fingerprint, similarity
from index.embedding import HashingEmbedder
from index.library import Library

BODY = "\n".join(
    [
        "Flood defences in Cologne",
        "The city raised its mobile flood walls on Monday as the Rhine reached 8.9 metres.",
        "Workers built the walls along the old town in eleven hours, the city said.",
        "The river is expected to peak on Wednesday and fall slowly after that.",
        "Shipping on the Rhine between Bonn and Düsseldorf has been stopped until further notice.",
    ]
)


def test_similarity_of_copies_and_of_distinct_texts() -> None:
    copy = fingerprint(BODY + "\nFollow us on Twitter. © 2024 Rhine News.")
    assert similarity(fingerprint(BODY), fingerprint(BODY.upper().replace("\n", "  "))) == 1.0
    assert similarity(fingerprint(BODY), copy) > 0.7
    assert similarity(fingerprint(BODY), fingerprint("A different story about bread prices in Paris.")) == 0.0


def test_a_copy_with_another_footer_from_another_source_is_reported_not_added(tmp_path: Path) -> None:
    (tmp_path / "saved.txt").write_text(BODY, encoding="utf-8")
    (tmp_path / "copy.txt").write_text(BODY + "\n\nShare this article. © 2024 Rhine News", encoding="utf-8")
    with Library.open(tmp_path / "library", embedder=HashingEmbedder()) as library:
        first = library.add(read_sources([str(tmp_path / "saved.txt")]))
        second = library.add(read_sources([str(tmp_path / "copy.txt")]))
        assert len(library.articles()) == 1
        answer = library.ask("When did the city raise its flood walls?", reader=False)
    [duplicate] = second.duplicates
    assert (duplicate.duplicate_of, duplicate.title, duplicate.source) == (
        first.added[0],
        "Flood defences in Cologne",
        str((tmp_path / "copy.txt").resolve()),
    )
    assert second.added == [] and duplicate.similarity > 0.7
    assert len({quote.text for quote in answer.quotes}) == len(answer.quotes)
    assert add_summary(second, []) == (
        "Added 0, replaced 0, unchanged 0, not added as near-duplicates 1: copy.txt (repeats 'Flood defences in "
        f"Cologne', {first.added[0]}); 0 new chunk(s)."
    )


def test_two_copies_in_one_add_are_stored_once(tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "a.txt").write_text(BODY, encoding="utf-8")
    (folder / "b.txt").write_text("Skip to content\n" + BODY, encoding="utf-8")
    with Library.open(tmp_path / "library", embedder=HashingEmbedder()) as library:
        report = library.add(read_sources([str(folder)]))
    assert len(report.added) == 1 and len(report.duplicates) == 1


def test_a_page_saved_as_a_file_and_added_by_its_url_is_one_article(tmp_path: Path, web_server: str) -> None:
    (tmp_path / "trains.html").write_text(PAGE, encoding="utf-8")
    MADE["trains"] = (PAGE.encode(), "text/html")
    try:
        with Library.open(tmp_path / "library", embedder=HashingEmbedder()) as library:
            library.add(read_sources([str(tmp_path / "trains.html")]))
            report = library.add(read_sources([f"{web_server}/made/trains"]))
            assert len(library.articles()) == 1
    finally:
        MADE.clear()
    assert report.added == [] and len(report.unchanged) == 1
