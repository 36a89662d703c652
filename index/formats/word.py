"""Word (.docx) through python-docx: paragraphs and tables in document order, with the core properties'
title, author and date. Page headers and footers are not part of the body, so they are left out."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from index.errors import SourceError
from index.models import Document

__all__ = ["document_from_docx"]

_TITLE_STYLES = ("Title", "Heading 1")


def document_from_docx(data: bytes, *, name: str, source: str) -> Document:
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        raise SourceError(f"{name!r} is not a Word document that can be read; re-save it as .docx") from error
    except Exception as error:
        # python-docx raises its own PackageNotFoundError and lxml's XMLSyntaxError for a damaged file.
        if type(error).__module__.startswith(("docx", "lxml")):
            raise SourceError(f"{name!r} is not a Word document that can be read; re-save it as .docx") from error
        raise
    blocks: list[str] = []
    title = ""
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.extend(_table_rows(item))
            continue
        text = " ".join(item.text.split())
        if not text:
            continue
        if not title and item.style is not None and item.style.name in _TITLE_STYLES:
            title = text
        blocks.append(text)
    properties = document.core_properties
    created = properties.created or properties.modified
    return Document(
        text="\n\n".join(blocks),
        source=source,
        title=((properties.title or "").strip() or title or (blocks[0] if blocks else ""))[:200],
        author=(properties.author or "").strip()[:200] or None,
        date=created.date().isoformat() if created is not None else None,
    )


def _table_rows(table: Any) -> list[str]:
    """Each row of a table as one line, its cells separated by " | " (a merged cell once)."""
    rows = []
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            rows.append(" | ".join(cells))
    return rows
