"""Cases a review of the sync, record, follow-up and format code found losing data or crashing, each kept."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from index import Conversation, SourceError, Turn, sync_folder
from index.articles import documents_from_bytes, read_sources
from index.conversation import follow_up
from index.embedding import HashingEmbedder
from index.formats.markdown import markdown_text
from index.formats.sniffing import kind_of
from index.library import Library
from index.models import Quote, ShortAnswer


def _texts(library: Library) -> dict[str, str]:
    return {summary.source.rsplit("/", 1)[-1]: library.article(summary.id).text for summary in library.articles()}


def test_a_renamed_file_keeps_its_text_after_a_sync(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("The ferry leaves at nine.", encoding="utf-8")
    with Library.open(tmp_path / "library", embedder=HashingEmbedder()) as library:
        sync_folder(library, folder)
        (folder / "a.txt").rename(folder / "b.txt")
        sync_folder(library, folder)
        assert _texts(library) == {"b.txt": "The ferry leaves at nine."}


def test_a_record_inserted_at_the_top_of_a_json_lines_file_loses_no_record(tmp_path: Path) -> None:
    notes = tmp_path / "n.jsonl"
    lines = ["Alpha the ferry leaves at nine.", "Bravo the museum opens at ten.", "Charlie the bakery closes."]
    notes.write_text("".join(json.dumps({"text": line}) + "\n" for line in lines), encoding="utf-8")
    with Library.open(tmp_path / "library", embedder=HashingEmbedder()) as library:
        library.add(read_sources([str(notes)]))
        shifted = ["Xray a new first note.", *lines]
        notes.write_text("".join(json.dumps({"text": line}) + "\n" for line in shifted), encoding="utf-8")
        library.add(read_sources([str(notes)]))
        assert _texts(library) == {f"n.jsonl#{number}": text for number, text in enumerate(shifted, start=1)}


def test_sync_keeps_the_articles_of_files_it_could_read_only_in_part(tmp_path: Path) -> None:
    folder = tmp_path / "C#"  # a "#" of the folder's own is no record number
    folder.mkdir()
    (folder / "a.txt").write_text("The harbour was dredged in 1911.", encoding="utf-8")
    records = folder / "n.jsonl"
    records.write_text(
        '{"text": "The ferry leaves at nine."}\n{"text": "The museum opens at ten."}\n', encoding="utf-8"
    )
    with Library.open(tmp_path / "library", embedder=HashingEmbedder()) as library:
        sync_folder(library, folder)
        (folder / "a.txt").write_bytes(b"\x00\x01\x02 not text any more")
        records.write_text(
            '{"text": "The ferry leaves at nine."}\n{"text": "The museum, opens at ten.",}\n', encoding="utf-8"
        )
        errors: list[SourceError] = []
        report = sync_folder(library, folder, errors=errors)
        assert len(errors) == 2 and report.plan.remove == []
        assert sorted(_texts(library)) == ["a.txt", "n.jsonl#1", "n.jsonl#2"]


def test_a_follow_up_about_a_place_with_backslashes_is_made_whole() -> None:
    text = r"The backups are kept in C:\Users\Backup on the server."
    place = r"C:\Users\Backup"
    start = text.index(place)
    quote = Quote(
        text=text,
        start=0,
        end=len(text),
        article_id="abc",
        title="t",
        source="s",
        score=1.0,
        answer=ShortAnswer(text=place, start=start, end=start + len(place)),
    )
    conversation = Conversation(turns=[Turn(question="Where are the backups kept?", quotes=[quote])])
    plan = follow_up("How big are the files there?", conversation)
    assert plan is not None and plan.searched == r"How big are the files in C:\Users\Backup?"


def test_markdown_that_opens_with_a_rule_keeps_its_text() -> None:
    parsed = markdown_text("---\n\nThe council approved the budget.\n\n---\n\nContact: press office.\n")
    assert parsed.text == "The council approved the budget.\n\nContact: press office."
    assert parsed.fields == {}


def test_a_note_that_mentions_the_pdf_header_is_text() -> None:
    assert kind_of(b"Every PDF file starts with %PDF-1.7 in its header.\n", name="notes.txt") != "pdf"
    assert kind_of(b"\n%PDF-1.7\n", name="report") == "pdf"


def test_a_damaged_epub_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "b.epub"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="content.opf" media-type="application/oebps-package+xml"/></rootfiles>'
            "</container>",
        )
        archive.writestr("content.opf", "<package><broken")
    with pytest.raises(SourceError, match=r"^'b\.epub' is .*EPUB"):
        documents_from_bytes(path.read_bytes(), name="b.epub", source=str(path))
