"""Which PDF library reads quotebot's PDFs best: pypdfium2, pdfminer.six and pypdf side by side.

    python benchmarks/compare_pdf.py

On the report that the tests make (tests/made_files.py: two columns, a running header, page numbers, a word
hyphenated across lines, a table), laid out in stream order and interleaved (each row of both columns written
left then right), prints for each library: the word-sequence similarity of its text to what a person reads
(difflib ratio over words, 1.0 = the same words in the same order), whether the columns come in reading order,
whether the hyphenated word is joined, whether the running header and page numbers are gone, whether the table's
rows stay rows, and milliseconds per page (best of 5 over 10 copies of the file). "pdfminer.six + quotebot" is
`index.formats.pdf`: pdfminer's boxes in quotebot's reading order with its clean-up.
"""

from __future__ import annotations

import difflib
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from made_files import PDF_HEADER, two_column_pdf

from index.formats.pdf import document_from_pdf


def pdfium_text(data: bytes) -> str:
    import pypdfium2

    document = pypdfium2.PdfDocument(data)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document).replace("\r\n", "\n")
    finally:
        document.close()


def pdfminer_text(data: bytes) -> str:
    from pdfminer.high_level import extract_text

    return extract_text(io.BytesIO(data))


def pypdf_text(data: bytes) -> str:
    import pypdf

    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def quotebot_text(data: bytes) -> str:
    return document_from_pdf(data, name="report.pdf", source="report.pdf").text


READERS: dict[str, Callable[[bytes], str]] = {
    "pypdfium2": pdfium_text,
    "pdfminer.six": pdfminer_text,
    "pypdf": pypdf_text,
    "pdfminer.six + quotebot": quotebot_text,
}


def measure(name: str, read: Callable[[bytes], str], data: bytes, expected: str, pages: int) -> dict[str, object]:
    text = read(data)
    words = [word for word in text.split() if word != "|"]
    order = ["usual load.", "in August.", "six weeks.", "approved in 2025."]
    flat = " ".join(words)
    positions = [flat.find(marker) for marker in order]
    timings = []
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(10):
            read(data)
        timings.append((time.perf_counter() - began) / (10 * pages))
    return {
        "library": name,
        "similarity": round(difflib.SequenceMatcher(None, words, expected.split(), autojunk=False).ratio(), 3),
        "columns in order": all(position >= 0 for position in positions) and positions == sorted(positions),
        "hyphen joined": "transportation" in flat,
        "header gone": PDF_HEADER not in text,
        "page numbers gone": not any(line.strip() in ("1", "2") for line in text.splitlines()),
        "table rows kept": "Duisburg" in flat and flat.find("51000") - flat.find("Duisburg") < 30,
        "ms per page": round(min(timings) * 1000, 2),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        for interleaved in (False, True):
            made = two_column_pdf(Path(folder) / "report.pdf", interleaved=interleaved)
            data = made.path.read_bytes()
            expected = "\n\n".join(
                [made.title, *made.paragraphs, *(" | ".join(row) for row in made.table_rows)]
            ).replace(" | ", " ")
            print(f"layout: {'interleaved' if interleaved else 'stream order'}")
            for name, read in READERS.items():
                print("  ", measure(name, read, data, expected, pages=2))


if __name__ == "__main__":
    main()
