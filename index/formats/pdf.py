"""PDF: the text a person reads, in reading order, with the document's title, author and date.

pdfminer.six finds the text boxes (paragraphs) of each page and their positions; the reading order is ours:
a recursive cut of the page at its widest empty gutters, columns before rows, so a two-column page reads down
the left column and then the right even where the paragraphs of both line up (pdfminer's own order, and the
stream order that pypdf and pdfium follow, interleave them; `benchmarks/compare_pdf.py` measures it). Lines
that repeat at the top or bottom of most pages (running headers, footers) and page numbers are dropped, a word
hyphenated across a line end is joined, a paragraph cut by a column or page break is joined again, and each
row of a table becomes one line with its cells separated by " | ".
"""

from __future__ import annotations

import io
import itertools
import logging
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from index.errors import SourceError
from index.models import Document

__all__ = ["document_from_pdf"]

logger = logging.getLogger(__name__)

# Share of the page height at the top and at the bottom where running headers, footers and page numbers live.
_MARGIN_SHARE = 0.1
# Empty space (points) that separates two columns or two table cells; a word space is about 3.
_GUTTER = 6.0
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?[-–—]?\s*\d{1,4}\s*[-–—]?(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
_HYPHENATED = re.compile(r"(?<=[^\W\d_])[-\u00ad\ufffe]$")
_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
_SENTENCE_END = re.compile(r"[.!?:;…\"'”’)\]]$")
_JUNK_TITLES = re.compile(r"^(?:untitled|microsoft word\b|document\d*$|.*\.(?:docx?|pdf|tex|dvi)$)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Box:
    """A text box of a page (PDF points, origin bottom left) and its lines, top to bottom."""

    left: float
    bottom: float
    right: float
    top: float
    lines: tuple[str, ...]
    size: float  # the height of its first line, to find a first page's title

    @property
    def text(self) -> str:
        return _join_lines(self.lines)


def document_from_pdf(data: bytes, *, name: str, source: str) -> Document:
    """The Document of a PDF file; a PDF without a text layer, an encrypted or a broken one is a SourceError."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTTextBoxHorizontal
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfminer.psparser import PSException

    pages: list[list[_Box]] = []
    heights: list[float] = []
    try:
        for page in extract_pages(io.BytesIO(data), laparams=LAParams()):
            heights.append(float(page.height))
            pages.append([_box(element) for element in page if isinstance(element, LTTextBoxHorizontal)])
        info = _info(data)
    except (PDFPasswordIncorrect, PDFEncryptionError) as error:
        raise SourceError(
            f"{name!r} is a password-protected PDF; save an unprotected copy and add that",
            item=name,
            reason="password-protected",
        ) from error
    except (PDFSyntaxError, PSException, ValueError, KeyError, TypeError, AssertionError) as error:
        # pdfminer signals a damaged file with many exception types, some of them builtins.
        raise SourceError(
            f"{name!r} is not a PDF that can be read ({type(error).__name__}); re-save or re-export it",
            item=name,
            reason="damaged PDF",
        ) from error
    pages = [[box for box in boxes if box.lines] for boxes in pages]
    if not any(pages):
        raise SourceError(
            f"{name!r} has no text layer (a scan?); quotebot does no OCR: run OCR on it (e.g. ocrmypdf) and add the "
            "result",
            item=name,
            reason="no text layer",
        )
    pages = _without_running_lines(pages, heights)
    paragraphs = _joined_across_breaks([_ordered(boxes) for boxes in pages])
    text = "\n\n".join(paragraphs)
    title = _metadata_title(info.get("Title")) or _first_page_title(pages)
    return Document(
        text=text,
        source=source,
        title=title[:200],
        date=_pdf_date(info.get("CreationDate")) or _pdf_date(info.get("ModDate")),
        author=(info.get("Author") or "").strip()[:200] or None,
    )


def _box(element: Any) -> _Box:
    from pdfminer.layout import LTTextLineHorizontal

    lines = [line for line in element if isinstance(line, LTTextLineHorizontal)]
    texts = tuple(
        cleaned for cleaned in (" ".join(line.get_text().translate(_LIGATURES).split()) for line in lines) if cleaned
    )
    size = float(lines[0].height) if lines else 0.0
    return _Box(float(element.x0), float(element.y0), float(element.x1), float(element.y1), texts, size)


def _info(data: bytes) -> dict[str, str]:
    """The document information dictionary (Title, Author, CreationDate, ...) as text."""
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfparser import PDFParser
    from pdfminer.pdftypes import resolve1
    from pdfminer.utils import decode_text

    document = PDFDocument(PDFParser(io.BytesIO(data)))
    info: dict[str, str] = {}
    for entry in document.info:
        for key, value in entry.items():
            value = resolve1(value)
            if isinstance(value, bytes):
                info[str(key)] = decode_text(value)
            elif isinstance(value, str):
                info[str(key)] = value
    return info


def _join_lines(lines: tuple[str, ...] | list[str]) -> str:
    text = ""
    for line in lines:
        if _HYPHENATED.search(text) and line[:1].islower():
            text = text[:-1] + line
        else:
            text = f"{text} {line}" if text else line
    return text


def _without_running_lines(pages: list[list[_Box]], heights: list[float]) -> list[list[_Box]]:
    """Pages without page numbers and without the header and footer lines that repeat on most pages."""

    def marginal(box: _Box, height: float) -> bool:
        return box.bottom > height * (1 - _MARGIN_SHARE) or box.top < height * _MARGIN_SHARE

    def key(box: _Box) -> str:
        # "Page 3 of 9" and "Page 4 of 9" are the same running line.
        return _DIGITS.sub("#", box.text.lower())

    # On how many pages each marginal line appears.
    repeated = Counter(
        item
        for boxes, height in zip(pages, heights, strict=True)
        for item in {key(box) for box in boxes if marginal(box, height)}
    )
    threshold = max(2, (len(pages) + 1) // 2)
    kept = []
    for boxes, height in zip(pages, heights, strict=True):
        kept.append(
            [
                box
                for box in boxes
                if not (
                    marginal(box, height)
                    and (_PAGE_NUMBER.match(box.text) or (len(pages) > 1 and repeated[key(box)] >= threshold))
                )
            ]
        )
    return kept


def _ordered(boxes: list[_Box]) -> list[str]:
    """The paragraphs of one page in reading order: bands top to bottom, the columns of a band left to right,
    each column top to bottom; a table row by row."""
    if len(boxes) <= 1:
        return [box.text for box in boxes]
    bands = _split(boxes, vertical=False)
    if len(bands) > 1:
        merged = _merged_bands(bands)
        if len(merged) > 1:
            return [paragraph for band in merged for paragraph in _ordered_band(band)]
    columns = _split(boxes, vertical=True)
    if len(columns) > 1:
        return [paragraph for column in columns for paragraph in _ordered(column)]
    return [box.text for box in sorted(boxes, key=lambda box: (-box.top, box.left))]


def _ordered_band(band: _Band) -> list[str]:
    if band.row:
        return [" | ".join(box.text for box in sorted(band.boxes, key=lambda box: box.left))]
    return _ordered(band.boxes)


def _split(boxes: list[_Box], *, vertical: bool) -> list[list[_Box]]:
    """`boxes` cut at every empty gap across the page: by vertical gutters (columns, left to right) or by
    horizontal ones (bands, top to bottom)."""
    if vertical:
        spans = sorted((((box.left, box.right), box) for box in boxes), key=lambda pair: pair[0])
        gap = _GUTTER
    else:
        spans = sorted((((-box.top, -box.bottom), box) for box in boxes), key=lambda pair: pair[0])
        gap = 0.5
    groups: list[list[_Box]] = []
    reach = float("-inf")
    for (low, high), box in spans:
        if not groups or low - reach > gap:
            groups.append([])
        groups[-1].append(box)
        reach = max(reach, high)
    return groups


def _gutters(boxes: list[_Box]) -> list[tuple[float, float]]:
    columns = _split(boxes, vertical=True)
    return [
        (max(box.right for box in left), min(box.left for box in right)) for left, right in itertools.pairwise(columns)
    ]


@dataclass(slots=True)
class _Band:
    boxes: list[_Box]
    row: bool  # one row of a table: one-line cells side by side, like the band before or after it


def _cells(boxes: list[_Box]) -> int:
    """How many one-line boxes stand side by side in this band (0 when it is not such a row)."""
    if len(boxes) < 2 or any(len(box.lines) != 1 for box in boxes):
        return 0
    return len(boxes) if len(_split(boxes, vertical=True)) == len(boxes) else 0


def _merged_bands(bands: list[list[_Box]]) -> list[_Band]:
    """Bands with the rows of tables marked, and consecutive bands that share a column gutter merged: two
    columns whose paragraph breaks happen to line up are still read column by column."""
    cells = [_cells(band) for band in bands]
    rows = [
        count > 0
        and ((index > 0 and cells[index - 1] == count) or (index + 1 < len(cells) and cells[index + 1] == count))
        for index, count in enumerate(cells)
    ]
    merged = [_Band(bands[0], rows[0])]
    for band, row in zip(bands[1:], rows[1:], strict=True):
        previous = merged[-1]
        shared = (
            not row
            and not previous.row
            and any(
                low < high2 and low2 < high for low, high in _gutters(previous.boxes) for low2, high2 in _gutters(band)
            )
        )
        if shared:
            previous.boxes = previous.boxes + band
        else:
            merged.append(_Band(band, row))
    return merged


def _joined_across_breaks(pages: list[list[str]]) -> list[str]:
    """Paragraphs of all pages; one cut by a column or page break (it stops mid-sentence and the next begins in
    lower case) is joined again."""
    paragraphs: list[str] = []
    for paragraph in (paragraph for page in pages for paragraph in page):
        if paragraphs and paragraph[:1].islower() and not _SENTENCE_END.search(paragraphs[-1]):
            paragraphs[-1] = _join_lines([paragraphs[-1], paragraph])
        else:
            paragraphs.append(paragraph)
    return paragraphs


def _metadata_title(title: str | None) -> str:
    cleaned = " ".join((title or "").split())
    return "" if not cleaned or _JUNK_TITLES.match(cleaned) else cleaned


def _first_page_title(pages: list[list[_Box]]) -> str:
    """The first page's line in the largest type (a short one), else its first paragraph's opening."""
    first = next((boxes for boxes in pages if boxes), [])
    candidates = [box for box in first if len(box.text) <= 200]
    if not candidates:
        return first[0].text[:120] if first else ""
    return max(candidates, key=lambda box: (round(box.size, 1), box.top)).text


_PDF_DATE = re.compile(r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?")


def _pdf_date(value: str | None) -> str | None:
    """ISO date of a PDF date string ("D:20241105093000Z" -> "2024-11-05")."""
    found = _PDF_DATE.match((value or "").strip())
    if not found:
        return None
    year, month, day = found.group(1), found.group(2) or "01", found.group(3) or "01"
    if not ("01" <= month <= "12" and "01" <= day <= "31") or year < "1900":
        return None
    return f"{year}-{month}-{day}"
