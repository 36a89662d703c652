"""PDF, Word, EPUB and Markdown read as a person reads them; each file is made here, at test time."""

from __future__ import annotations

from pathlib import Path

import pytest
from made_files import PDF_HEADER, PDF_PARAGRAPHS, docx_with_table, epub_book, scan_pdf, two_column_pdf

from index.articles import documents_from_bytes, read_sources
from index.embedding import SentenceTransformerEmbedder
from index.errors import SourceError
from index.library import Library

TABLE_LINES = ["Port | Tonnes 2023 | Tonnes 2024", "Duisburg | 51000 | 39000", "Mannheim | 8200 | 5100"]


@pytest.mark.parametrize("interleaved", [False, True], ids=["stream-order", "interleaved"])
def test_a_two_column_pdf_is_read_in_reading_order_without_its_running_lines(tmp_path: Path, interleaved: bool) -> None:
    made = two_column_pdf(tmp_path / "report.pdf", interleaved=interleaved)
    [document] = read_sources([str(made.path)])
    assert document.text == "\n\n".join([made.title, *PDF_PARAGRAPHS, *TABLE_LINES])
    assert "on river transportation for most" in document.text  # "transpor-" + "tation" joined
    assert PDF_HEADER not in document.text
    assert (document.title, document.author, document.date) == ("Low Water on the Rhine", "Marta Keller", "2024-11-05")


def test_a_pdf_without_metadata_takes_its_title_from_the_first_page_in_the_largest_type(tmp_path: Path) -> None:
    made = two_column_pdf(tmp_path / "report.pdf", metadata=False, compress=False)
    [document] = read_sources([str(made.path)])
    assert document.title == "Low Water on the Rhine"
    assert document.author is None


def test_a_scan_without_a_text_layer_is_one_clear_line(tmp_path: Path) -> None:
    path = scan_pdf(tmp_path / "scan.pdf")
    with pytest.raises(SourceError) as raised:
        list(read_sources([str(path)]))
    message = str(raised.value)
    assert message.startswith("'scan.pdf' has no text layer (a scan?); quotebot does no OCR")
    assert "\n" not in message
    assert (raised.value.item, raised.value.reason) == ("scan.pdf", "no text layer")


def test_a_damaged_pdf_is_one_clear_line() -> None:
    with pytest.raises(SourceError, match=r"'broken\.pdf' is not a PDF that can be read"):
        documents_from_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage", name="broken.pdf", source="b")


def test_a_question_quotes_the_pdf_sentence_verbatim(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    made = two_column_pdf(tmp_path / "report.pdf")
    with Library.open(tmp_path / "library", embedder=embedder) as library:
        library.add(read_sources([str(made.path)]))
        answer = library.ask("How low did the Rhine fall at Kaub?")
        [article] = library.articles()
        text = library.article(article.id).text
    best = answer.quotes[0]
    assert (
        best.text == "In the summer of 2024 the level of the Rhine at Kaub fell to 38 centimetres, the lowest mark in "
        "twenty years."
    )
    assert text[best.start : best.end] == best.text
    assert (best.date, best.author) == ("2024-11-05", "Marta Keller")


def test_a_word_document_keeps_its_paragraphs_table_and_properties(tmp_path: Path) -> None:
    path = docx_with_table(tmp_path / "memo.docx")
    [document] = read_sources([str(path)])
    assert document.text == "\n\n".join(
        [
            "Harbour Memo",
            "The new crane at pier 4 lifts 40 tonnes and was delivered on 2 May 2023.",
            "Costs",
            "The crane cost 2.4 million euros, paid by the port authority.",
            "Training for operators starts in June.",
            "Pier | Crane",
            "4 | Liebherr LHM 420",
            "7 | none",
            "The harbour master signed the order on 9 May.",
        ]
    )
    assert (document.title, document.author, document.date) == ("Harbour Memo", "Jonas Berg", "2023-05-17")


def test_an_epub_reads_its_chapters_in_order_with_its_metadata(tmp_path: Path) -> None:
    path = epub_book(tmp_path / "canals.epub")
    [document] = read_sources([str(path)])
    assert document.text == (
        "Beginnings\n\nThe Grand Canal of China was begun in the fifth century BC.\n\n"
        "Europe\n\nThe Canal du Midi opened in 1681 and joins the Atlantic to the Mediterranean."
    )
    assert (document.title, document.author, document.date) == ("A Short History of Canals", "Ines Vogel", "2019-04-01")


MARKDOWN = """---
title: Garden notes
date: 2024-04-20
author: Ana Ruiz
---
# My garden, spring 2024

I planted the tomatoes on **April 14, 2024**, after the last _frost_.

- Basil went in with them.
- The [seed catalogue](https://example.org/seeds) lists 40 kinds.

Run `water --daily` in the morning.

```
schedule = "06:00"
```

| Bed | Plant |
| --- | ----- |
| 1   | Kale  |

![a photo of the beds](beds.png)
"""


def test_markdown_is_stored_as_plain_text_with_its_front_matter() -> None:
    [document] = documents_from_bytes(MARKDOWN.encode(), name="garden.md", source="garden.md")
    assert document.text == "\n\n".join(
        [
            "My garden, spring 2024",
            "I planted the tomatoes on April 14, 2024, after the last frost.",
            "Basil went in with them.",
            "The seed catalogue lists 40 kinds.",
            "Run water --daily in the morning.",
            'schedule = "06:00"',
            "Bed | Plant",
            "1 | Kale",
        ]
    )
    assert (document.title, document.date, document.author) == ("Garden notes", "2024-04-20", "Ana Ruiz")


def test_markdown_without_front_matter_is_titled_by_its_first_heading() -> None:
    [document] = documents_from_bytes(b"Intro line.\n\n## Second level\n\nBody.", name="n.md", source="n.md")
    assert document.title == "Second level"
    assert document.text == "Intro line.\n\nSecond level\n\nBody."


def test_a_markdown_question_marks_the_date_without_asterisks(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    (tmp_path / "garden.md").write_text(MARKDOWN, encoding="utf-8")
    with Library.open(tmp_path / "library", embedder=embedder) as library:
        library.add(read_sources([str(tmp_path / "garden.md")]))
        answer = library.ask("When did I plant the tomatoes?")
    best = answer.quotes[0]
    assert best.text == "I planted the tomatoes on April 14, 2024, after the last frost."
    assert best.answer is not None and "*" not in best.answer.text and "April 14" in best.answer.text


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("photo.jpg.txt", b"\xff\xd8\xff\xe0\x00\x10JFIF", "'photo.jpg.txt' is a binary file (a JPEG image)"),
        ("sheet.xlsx", b"", "not a supported kind"),
        ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "an old Office file"),
        ("bundle.zip.md", None, "'bundle.zip.md' is a ZIP archive; unpack it"),
    ],
)
def test_other_binaries_are_refused_with_their_kind_named(name: str, data: bytes | None, expected: str) -> None:
    if data is None:
        import io
        import zipfile

        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("notes.txt", "hello")
        data = buffer.getvalue()
    with pytest.raises(SourceError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        documents_from_bytes(data, name=name, source=name)


def test_a_pdf_named_html_is_read_as_a_pdf(tmp_path: Path) -> None:
    made = two_column_pdf(tmp_path / "report.pdf")
    [document] = documents_from_bytes(made.path.read_bytes(), name="page.html", source="x", content_type="text/html")
    assert document.text.startswith("Low Water on the Rhine\n\nIn the summer of 2024")


def test_a_text_file_whose_first_line_is_a_headline_is_titled_by_it() -> None:
    text = b"Skip to content\n\nFloods close the Rhine at Cologne\n\nThe river rose to 9 metres on Monday."
    [document] = documents_from_bytes(text, name="saved_page_1.txt", source="saved_page_1.txt")
    assert document.title == "Floods close the Rhine at Cologne"
    [sentence] = documents_from_bytes(b"The river rose.\nIt fell again.", name="river_notes.txt", source="r")
    assert sentence.title == "river notes"


def test_questions_quote_word_and_german_sentences_whole(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    docx_with_table(tmp_path / "memo.docx")
    (tmp_path / "koeln.txt").write_text(
        "Die Brücke in Köln\n\nDie Brücke in Köln wurde am 3. Oktober 1990 eröffnet. Sie ist 400 m lang und "
        "verbindet z. B. die Altstadt mit Deutz.",
        encoding="utf-8",
    )
    with Library.open(tmp_path / "library", embedder=embedder) as library:
        library.add(read_sources([str(tmp_path / "memo.docx"), str(tmp_path / "koeln.txt")]))
        crane = library.ask("How much did the crane cost?").quotes[0]
        bridge = library.ask("Wann wurde die Brücke in Köln eröffnet?", reader=False).quotes[0]
    assert crane.text == "The crane cost 2.4 million euros, paid by the port authority."
    assert (crane.title, crane.author, crane.date) == ("Harbour Memo", "Jonas Berg", "2023-05-17")
    assert bridge.text == "Die Brücke in Köln wurde am 3. Oktober 1990 eröffnet."
