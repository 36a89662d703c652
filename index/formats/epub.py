"""EPUB through ebooklib: the chapters in spine order, each block element (heading, paragraph, list item) a
line, with the book's title, author and date from its metadata."""

from __future__ import annotations

import io
import warnings
import zipfile
from typing import Any

from index.errors import SourceError
from index.models import Document

__all__ = ["document_from_epub"]

_BLOCKS = ("h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "blockquote", "pre", "td", "th", "dt", "dd")


def document_from_epub(data: bytes, *, name: str, source: str) -> Document:
    import ebooklib
    from ebooklib import epub

    try:
        with warnings.catch_warnings():
            # ebooklib warns about its own future defaults on every read.
            warnings.simplefilter("ignore")
            book = epub.read_epub(io.BytesIO(data), options={"ignore_ncx": True})
    except (zipfile.BadZipFile, KeyError, epub.EpubException, ValueError, OSError) as error:
        raise SourceError(f"{name!r} is not an EPUB that can be read ({type(error).__name__}); re-export it") from error
    blocks: list[str] = []
    for item_id, _linear in book.spine:
        item = book.get_item_with_id(item_id)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT or isinstance(item, epub.EpubNav):
            continue
        blocks.extend(_chapter_blocks(item.get_content()))
    return Document(
        text="\n\n".join(blocks),
        source=source,
        title=(_first(book, "title") or (blocks[0] if blocks else ""))[:200],
        author=_first(book, "creator")[:200] or None,
        date=_first(book, "date")[:10] or None,
    )


def _first(book: Any, field: str) -> str:
    values = book.get_metadata("DC", field)
    return " ".join(str(values[0][0]).split()) if values and values[0][0] else ""


def _chapter_blocks(content: bytes) -> list[str]:
    import lxml.html

    try:
        root = lxml.html.fromstring(content)
    except Exception:  # lxml raises ParserError or XMLSyntaxError for an empty or broken chapter
        return []
    blocks = []
    for element in root.iter(*_BLOCKS):
        # A paragraph inside a list item or a cell is read with it, once.
        if any(ancestor.tag in _BLOCKS for ancestor in element.iterancestors()):
            continue
        text = " ".join(element.text_content().split())
        if text:
            blocks.append(text)
    return blocks
