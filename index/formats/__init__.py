"""One reader per kind of file, each its own module: PDF, Word, EPUB, Markdown, plain-text titles, and the
sniffing that tells which kind a file or a download is."""

from __future__ import annotations

from index.formats.sniffing import BINARY_SUFFIXES, Kind, kind_of

__all__ = ["BINARY_SUFFIXES", "Kind", "kind_of"]
