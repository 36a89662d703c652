"""Files of every kind that quotebot reads, made at test time, with the text a person reads in each.

Shared by the format tests and by `benchmarks/compare_pdf.py` (which measures the PDF libraries on these very
layouts). Each maker writes the file and returns what a careful reader should store.
"""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PDF_HEADER",
    "PDF_PARAGRAPHS",
    "PDF_TITLE",
    "MadePdf",
    "docx_with_table",
    "epub_book",
    "scan_pdf",
    "two_column_pdf",
]

PDF_TITLE = "Low Water on the Rhine"
PDF_HEADER = "Rhine Shipping Review - Annual Report 2024"
# Each paragraph as it is laid out: one string per printed line, "-" at a line end where a word is hyphenated.
_COLUMN_LINES: list[list[list[str]]] = [
    # page 1, left column
    [
        [
            "In the summer of 2024 the level of the Rhine",
            "at Kaub fell to 38 centimetres, the lowest",
            "mark in twenty years. Barges could carry",
            "only a third of their usual load.",
        ],
        [
            "Shipping companies raised their prices and",
            "many customers moved their goods to the",
            "railways, whose freight volumes rose by 12",
            "per cent in August.",
        ],
    ],
    # page 1, right column
    [
        [
            "The chemical works at Ludwigshafen depend",
            "on river transpor-",
            "tation for most of their raw materials and",
            "reduced their output for six weeks.",
        ],
        [
            "Engineers proposed deepening the channel",
            "near Kaub by twenty centimetres, a project",
            "the federal government approved in 2025.",
        ],
    ],
    # page 2, left column
    [
        [
            "Rain in October brought the river back to",
            "its normal level, and the barges returned",
            "to full loads within a fortnight.",
        ],
    ],
    # page 2, right column
    [
        ["The table below compares the tonnage of the", "three largest ports before and during the", "low water."],
    ],
]
TABLE = [["Port", "Tonnes 2023", "Tonnes 2024"], ["Duisburg", "51000", "39000"], ["Mannheim", "8200", "5100"]]


def _paragraph(lines: list[str]) -> str:
    text = ""
    for line in lines:
        text = text[:-1] + line if text.endswith("-") else f"{text} {line}" if text else line
    return text


PDF_PARAGRAPHS = [_paragraph(lines) for column in _COLUMN_LINES for lines in column]


@dataclass(frozen=True)
class MadePdf:
    path: Path
    title: str
    author: str
    date: str
    paragraphs: list[str]
    table_rows: list[list[str]]


def two_column_pdf(path: Path, *, interleaved: bool = False, metadata: bool = True, compress: bool = True) -> MadePdf:
    """A two-page report: a running header and page numbers on each page, the body in two columns (a word
    hyphenated across lines), a table on page 2. With `interleaved`, each row of the two columns is written
    left then right (as some generators do), so a reader must find the columns by layout, not by stream order."""
    from fpdf import FPDF

    pdf = FPDF(format="A4", unit="mm")
    pdf.set_compression(compress)
    if metadata:
        pdf.set_title(PDF_TITLE)
        pdf.set_author("Marta Keller")
        pdf.set_creation_date(datetime.datetime(2024, 11, 5, 9, 30, tzinfo=datetime.UTC))
    pdf.set_auto_page_break(False)
    leading = 5.0
    for page in range(2):
        pdf.add_page()
        pdf.set_font("Helvetica", size=8)
        pdf.text(20, 12, PDF_HEADER)
        pdf.text(103, 287, str(page + 1))
        top = 30.0
        if page == 0:
            pdf.set_font("Helvetica", style="B", size=18)
            pdf.text(20, 28, PDF_TITLE)
            top = 42.0
        pdf.set_font("Helvetica", size=10)
        columns = _COLUMN_LINES[page * 2 : page * 2 + 2]
        placed: list[list[tuple[float, float, str]]] = []
        for column_number, column in enumerate(columns):
            x = 20.0 if column_number == 0 else 110.0
            y = top
            lines = []
            for paragraph in column:
                for line in paragraph:
                    lines.append((x, y, line))
                    y += leading
                y += leading * 1.2
            placed.append(lines)
        if interleaved:
            order = [line for row in zip(*placed, strict=False) for line in row]
            longest = max(placed, key=len)
            order += longest[min(len(column) for column in placed) :]
        else:
            order = [line for column in placed for line in column]
        for x, y, line in order:
            pdf.text(x, y, line)
        if page == 1:
            pdf.set_xy(20, 90)
            with pdf.table(col_widths=(40, 35, 35), width=110, align="LEFT") as table:
                for row in TABLE:
                    cells = table.row()
                    for cell in row:
                        cells.cell(cell)
    pdf.output(str(path))
    return MadePdf(path, PDF_TITLE, "Marta Keller", "2024-11-05", PDF_PARAGRAPHS, TABLE)


def scan_pdf(path: Path) -> Path:
    """A one-page PDF holding only a picture of a page (what a scanner makes): no text layer."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw

    image = Image.new("L", (600, 800), color=255)
    drawing = ImageDraw.Draw(image)
    for row in range(40, 760, 24):
        drawing.rectangle((40, row, 560, row + 10), fill=60)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(buffer, x=10, y=10, w=190)
    pdf.output(str(path))
    return path


def docx_with_table(path: Path) -> Path:
    """A memo with a title, a heading, paragraphs, a list and a table."""
    import docx

    document = docx.Document()
    document.core_properties.title = "Harbour Memo"
    document.core_properties.author = "Jonas Berg"
    document.core_properties.created = datetime.datetime(2023, 5, 17, 8, 0)
    document.add_heading("Harbour Memo", level=0)
    document.add_paragraph("The new crane at pier 4 lifts 40 tonnes and was delivered on 2 May 2023.")
    document.add_heading("Costs", level=1)
    paragraph = document.add_paragraph("The crane cost ")
    paragraph.add_run("2.4 million euros").bold = True
    paragraph.add_run(", paid by the port authority.")
    document.add_paragraph("Training for operators starts in June.", style="List Bullet")
    table = document.add_table(rows=3, cols=2)
    for row, (name, value) in zip(
        table.rows, [("Pier", "Crane"), ("4", "Liebherr LHM 420"), ("7", "none")], strict=True
    ):
        row.cells[0].text = name
        row.cells[1].text = value
    document.add_paragraph("The harbour master signed the order on 9 May.")
    document.save(str(path))
    return path


def epub_book(path: Path) -> Path:
    """A two-chapter EPUB with a title, an author and a date in its metadata."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("quotebot-test-book")
    book.set_title("A Short History of Canals")
    book.set_language("en")
    book.add_author("Ines Vogel")
    book.add_metadata("DC", "date", "2019-04-01")
    chapters = []
    for number, (heading, body) in enumerate(
        [
            ("Beginnings", "The Grand Canal of China was begun in the fifth century BC."),
            ("Europe", "The Canal du Midi opened in 1681 and joins the Atlantic to the Mediterranean."),
        ],
        start=1,
    ):
        chapter = epub.EpubHtml(title=heading, file_name=f"chapter{number}.xhtml", lang="en")
        chapter.content = f"<html><body><h1>{heading}</h1><p>{body}</p></body></html>"
        book.add_item(chapter)
        chapters.append(chapter)
    book.toc = chapters
    book.spine = ["nav", *chapters]
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    epub.write_epub(str(path), book)
    return path
