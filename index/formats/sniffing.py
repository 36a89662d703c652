"""Which kind of file some bytes are: by their magic bytes first, then by the Content-Type a server sent, then
by the file name's suffix. A server that calls a PDF "text/html", or a file named `.html` that is a PNG, is
read as what the bytes are."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Literal

from index.errors import SourceError

__all__ = ["BINARY_SUFFIXES", "Kind", "kind_of"]

Kind = Literal["pdf", "docx", "epub", "html", "markdown", "json", "jsonl", "text"]

BINARY_SUFFIXES = (".pdf", ".docx", ".epub")
_BY_SUFFIX: dict[str, Kind] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".epub": "epub",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".json": "json",
    ".jsonl": "jsonl",
    ".txt": "text",
}
_BY_CONTENT_TYPE: dict[str, Kind] = {
    "application/pdf": "pdf",
    "application/x-pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/epub+zip": "epub",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "application/json": "json",
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "text/plain": "text",
}
# Binary kinds that are not articles, named in the refusal so that the user knows what they gave.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"RIFF", "a RIFF file (WebP image, WAV audio or AVI video)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office file (.doc, .xls or .ppt; save it as .docx or PDF)"),
    (b"{\\rtf", "an RTF document (save it as .docx or PDF)"),
    (b"\x7fELF", "a program (ELF)"),
    (b"MZ", "a Windows program"),
    (b"ID3", "an MP3 audio file"),
    (b"OggS", "an Ogg audio or video file"),
    (b"\x00\x00\x00\x18ftyp", "an MP4 video"),
    (b"\x00\x00\x00\x20ftyp", "an MP4 video"),
    (b"SQLite format 3\x00", "an SQLite database"),
)


def kind_of(data: bytes, *, name: str, content_type: str | None = None) -> Kind:
    """The kind of `data` (a file called `name`, or a download with `content_type`); a kind quotebot does not
    read is a SourceError that names it."""
    head = data[:1024]
    # Some generators put bytes before the header; a text that only mentions "%PDF-" is no PDF.
    if head.lstrip().startswith(b"%PDF-") or (b"%PDF-" in head and name.lower().endswith(".pdf")):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data, name=name)
    for signature, described in _SIGNATURES:
        if data.startswith(signature):
            raise SourceError(
                f"{name!r} is a binary file ({described}), not an article; add PDF, Word, EPUB, HTML, Markdown or "
                "text files"
            )
    suffix = Path(name).suffix.lower()
    by_type = _BY_CONTENT_TYPE.get((content_type or "").split(";")[0].strip().lower())
    if content_type is not None and by_type is not None:
        # A text download whose URL ends in .md or .json is read by its name; a server says text/plain for both.
        return _BY_SUFFIX.get(suffix, by_type) if by_type == "text" else by_type
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    if content_type is not None:
        # A download of another type: HTML is what most servers send under odd types; binary data is refused
        # when the text is decoded.
        return "html" if b"<" in head else "text"
    raise SourceError(
        f"{name!r} is not a supported kind of file; add .pdf, .docx, .epub, .html, .md, .txt, .json or .jsonl files"
    )


def _zip_kind(data: bytes, *, name: str) -> Kind:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names and archive.read("mimetype").strip() == b"application/epub+zip":
                return "epub"
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError) as error:
        raise SourceError(f"{name!r} is a damaged ZIP file (a .docx or .epub?); re-save or re-export it") from error
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names or "ppt/presentation.xml" in names:
        raise SourceError(f"{name!r} is a spreadsheet or a presentation, not an article; export it as PDF")
    if any(entry.endswith(".odt") or entry == "content.xml" for entry in names):
        raise SourceError(f"{name!r} is an OpenDocument file; save it as .docx or PDF and add that")
    raise SourceError(f"{name!r} is a ZIP archive; unpack it and add the folder")
