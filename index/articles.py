"""Readers that turn files, folders, URLs and uploads into Documents: text, title, url, date, source.

HTML goes through trafilatura (main text and metadata, tolerant of broken markup); text in an unknown
encoding is decoded by charset-normalizer. Nothing here strips or rewrites text beyond decoding it.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from index import streaming
from index.errors import SourceError, UnsupportedSource
from index.fetching import FetchPolicy, download
from index.formats import BINARY_SUFFIXES, kind_of
from index.formats.records import json_record as _record
from index.formats.records import load_json as _load_json
from index.formats.storable import shown as _shown
from index.formats.storable import storable
from index.formats.titles import text_title as _text_title
from index.formats.web import without_furniture
from index.models import Document

__all__ = ["SUFFIXES", "count_inputs", "documents_from_bytes", "is_url", "read_sources", "storable"]

logger = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", *BINARY_SUFFIXES)
MAX_SOURCE_BYTES = 200 * 1024 * 1024
_CHAOS_TOLERANCE = 15.0
_URL = re.compile(r"^https?://", re.IGNORECASE)


def is_url(item: str) -> bool:
    return bool(_URL.match(item))


def read_sources(
    items: Iterable[str],
    *,
    errors: list[SourceError] | None = None,
    fetch: FetchPolicy | None = None,
    max_file_bytes: int = MAX_SOURCE_BYTES,
    part_characters: int | None = None,
    finished: Callable[[], None] | None = None,
) -> Iterator[Document]:
    """Documents from paths (files or folders, recursively) and http(s) URLs, in the order given; `finished` is
    called after each input is read (a file, a URL, or one file of a folder: `count_inputs` of them in all).

    Without `errors` the first unreadable source raises; with it, each one's error is appended and reading
    goes on with the next file (or, in a JSON Lines file, the next line). URLs are fetched under `fetch`
    (default: any address, a file's size limit). .txt and .jsonl files are read streaming, whatever their size
    (a .txt longer than `part_characters` becomes parts: `index.streaming`); other files are read whole, up to
    `max_file_bytes`.
    """
    policy = fetch or FetchPolicy(max_bytes=max_file_bytes)
    limits = _Limits(max_file_bytes=max_file_bytes, part_characters=part_characters)
    for item in items:
        for reader in _readers(item, policy, limits):
            # A streamed file yields as it reads: the articles before a bad block or line are kept.
            try:
                yield from reader(errors)
            except UnsupportedSource as error:
                # A folder's photos and spreadsheets are skipped; only a caller that keeps a report hears of them.
                if errors is not None:
                    errors.append(error)
                continue
            except SourceError as error:
                if errors is None:
                    raise
                if error.item is None:
                    error.item = _shown(Path(item)) if not is_url(item) else item
                errors.append(error)
            finally:
                if finished is not None:
                    finished()


_Reader = Callable[[list[SourceError] | None], Iterable[Document]]


@dataclass(frozen=True, slots=True)
class _Limits:
    max_file_bytes: int
    part_characters: int | None


def count_inputs(items: Iterable[str]) -> int:
    """How many inputs `read_sources` will read from `items`: one per URL or path, one per file of a folder
    (what a progress bar counts; listing a folder is cheap beside reading it)."""
    return sum(
        1 if is_url(item) or not Path(item).expanduser().is_dir() else len(_folder_files(Path(item).expanduser()))
        for item in items
    )


def _folder_files(path: Path) -> list[Path]:
    """A folder's files, recursively, in sorted order, leaving out hidden files and folders."""
    return sorted(
        candidate
        for candidate in path.rglob("*")
        if candidate.is_file() and not any(part.startswith(".") for part in candidate.relative_to(path).parts)
    )


def _readers(item: str, policy: FetchPolicy, limits: _Limits) -> Iterator[_Reader]:
    if is_url(item):
        yield lambda errors: _read_url(item, policy, errors)
        return
    path = Path(item).expanduser()
    if not path.exists():
        yield functools.partial(_refuse, f"{item!r} does not exist; give a file, a folder or an http(s) URL")
    elif path.is_dir():
        root = path.resolve()
        for file in _folder_files(path):
            if file.suffix.lower() not in SUFFIXES:
                yield functools.partial(_unsupported, file)
                continue
            # A link inside the folder to a file outside it (a home directory, /etc) is not read: adding a folder
            # adds what is in it.
            if not file.resolve().is_relative_to(root):
                yield functools.partial(
                    _refuse,
                    f"{_shown(file)!r} links to {_shown(file.resolve())!r}, outside {_shown(root)!r}, so it was "
                    "not read; add that file by its own path if you mean it",
                )
            else:
                yield functools.partial(_read_file, file, limits)
    elif not path.is_file():
        # A device, pipe or socket (/dev/zero, a FIFO) may never end: reading it would fill memory.
        yield functools.partial(
            _refuse, f"{_shown(path)!r} is not a regular file (a device, pipe or socket); add files, folders or URLs"
        )
    else:
        yield functools.partial(_read_file, path, limits)


def _refuse(message: str, _: list[SourceError] | None) -> list[Document]:
    raise SourceError(message)


def _unsupported(file: Path, _: list[SourceError] | None) -> list[Document]:
    raise UnsupportedSource(
        f"{_shown(file)!r} was skipped: quotebot does not read {file.suffix or 'suffix-less'} files; add "
        f"{', '.join(SUFFIXES)} files",
        item=_shown(Path(file.name)),
        reason="unsupported",
    )


def _read_file(path: Path, limits: _Limits, errors: list[SourceError] | None = None) -> Iterable[Document]:
    try:
        size = path.stat().st_size
    except OSError as error:
        raise SourceError(f"cannot read {_shown(path)!r} ({error.strerror}); check its permissions") from error
    suffix = path.suffix.lower()
    part_characters = limits.part_characters or streaming.DEFAULT_PART_CHARACTERS
    # A .txt of at most `part_characters` bytes is one article, read whole; only a longer one is streamed in parts.
    if suffix == ".txt" and size > part_characters:
        return streaming.text_parts(path, part_characters=part_characters)
    if suffix == ".jsonl":
        return streaming.json_lines(path, errors=errors)
    if size > limits.max_file_bytes:
        raise SourceError(
            f"{_shown(path)!r} is {size:,} bytes; the limit is {limits.max_file_bytes:,} (max_file_bytes): split it "
            "into smaller files"
        )
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SourceError(f"cannot read {_shown(path)!r} ({error.strerror}); check its permissions") from error
    name = _shown(Path(path.name))
    try:
        return documents_from_bytes(data, name=name, source=_shown(path.resolve()), errors=errors)
    except SourceError as error:
        error.item = error.item or name
        raise


def _read_url(url: str, policy: FetchPolicy, errors: list[SourceError] | None = None) -> list[Document]:
    fetched = download(url, policy)
    # The kind comes from the bytes and the Content-Type (formats.sniffing); the URL's last part only names it.
    name = Path(urlsplit(fetched.url).path).name or "page"
    return documents_from_bytes(
        fetched.body, name=name, source=fetched.url, errors=errors, content_type=fetched.content_type or "unknown"
    )


def documents_from_bytes(
    data: bytes,
    *,
    name: str,
    source: str,
    errors: list[SourceError] | None = None,
    content_type: str | None = None,
) -> list[Document]:
    """Documents from the bytes of one file (or a download with its `content_type`); the kind is read from the
    magic bytes, then the Content-Type, then `name`'s suffix (formats.sniffing).

    With `errors`, a bad record of a JSON or JSON Lines file (a bad line of JSON Lines) is appended there and the
    others are still read; without, it raises.
    """
    kind = kind_of(data, name=name, content_type=content_type)
    reported = len(errors) if errors is not None else 0
    if kind in ("pdf", "docx", "epub"):
        document = _from_binary(kind, data, name=name, source=source)
        documents = [document.model_copy(update={"url": source}) if is_url(source) else document]
    else:
        text = decode(data, name=name)
        if kind == "html":
            documents = [_from_html(text, source=source, name=name)]
        elif kind in ("json", "jsonl"):
            documents = _from_records(text, source=source, name=name, lines=kind == "jsonl", errors=errors)
        elif kind == "markdown":
            documents = [_from_markdown(text, source=source, name=name)]
        else:
            documents = [Document(text=text, source=source, title=_text_title(text, name=name, markdown=False))]
    kept = [document for document in documents if document.text.strip()]
    if not kept and not (errors is not None and len(errors) > reported):
        raise SourceError(f"{name!r} holds no text; check that it is the file you meant", item=name, reason="no text")
    return kept


def _from_binary(kind: str, data: bytes, *, name: str, source: str) -> Document:
    try:
        return _parsed_binary(kind, data, name=name, source=source)
    except SourceError:
        raise
    except Exception as error:
        raise SourceError(
            f"{name!r} is a damaged {kind.upper()} file ({type(error).__name__}); open it and save it again",
            item=name,
            reason="damaged",
        ) from error


def _parsed_binary(kind: str, data: bytes, *, name: str, source: str) -> Document:
    if kind == "pdf":
        from index.formats.pdf import document_from_pdf

        return document_from_pdf(data, name=name, source=source)
    if kind == "docx":
        from index.formats.word import document_from_docx

        return document_from_docx(data, name=name, source=source)
    from index.formats.epub import document_from_epub

    return document_from_epub(data, name=name, source=source)


def _from_markdown(text: str, *, source: str, name: str) -> Document:
    from index.formats.markdown import markdown_text

    parsed = markdown_text(text)
    title = parsed.fields.get("title") or parsed.heading or _text_title(parsed.text, name=name, markdown=False)
    return Document(
        text=parsed.text,
        source=source,
        title=title[:200],
        date=parsed.fields.get("date"),
        author=parsed.fields.get("author"),
    )


def decode(data: bytes, *, name: str) -> str:
    """Text of `data`: UTF-8 when it is, else the encoding charset-normalizer finds; binary data is refused."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data[:8192]:
        raise SourceError(
            f"{name!r} is a binary file, not text; add .pdf, .docx, .epub, .txt, .md, .html or .json files",
            item=name,
            reason="binary",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise SourceError(f"{name!r} is not text in any encoding we recognise; save it as UTF-8 and add it again")
    best = matches[0]
    # On short texts charset-normalizer cannot tell the Western code pages apart (cp1257 for French, say);
    # when cp1252, by far the most common legacy encoding, is among its plausible answers, take it.
    for match in matches:
        if match.encoding == "cp1252" and match.percent_chaos <= best.percent_chaos + _CHAOS_TOLERANCE:
            return str(match)
    return str(best)


def _from_html(html: str, *, source: str, name: str) -> Document:
    import trafilatura

    extracted: Any = trafilatura.bare_extraction(
        html,
        url=source if is_url(source) else None,
        with_metadata=True,
        include_comments=False,
        favor_recall=True,
    )
    data: dict[str, Any] = {}
    if extracted is not None:
        data = extracted.as_dict() if hasattr(extracted, "as_dict") else dict(extracted)
    text = data.get("text") or ""
    if not text.strip():
        # Broken or unusual markup: fall back to all visible text rather than nothing.
        text = trafilatura.html2txt(html) or _visible_text(html)
    author = _metadata_text(data.get("author"))
    text = without_furniture(text)
    title = data.get("title") or _text_title(text, name=name, markdown=False)
    url = data.get("url") or (source if is_url(source) else None)
    return Document(
        text=text,
        source=source,
        title=str(title)[:200],
        url=url,
        date=data.get("date"),
        author=author,
        site=_metadata_text(data.get("sitename")),
    )


def _metadata_text(value: Any) -> str | None:
    cleaned = " ".join(str(value or "").split())[:200]
    return cleaned or None


class _TextCollector(HTMLParser):
    """The last resort for markup so broken that trafilatura and lxml find no body: every text node."""

    _SKIPPED = frozenset({"script", "style", "noscript", "template"})
    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _visible_text(html: str) -> str:
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    lines = (" ".join(line.split()) for line in "".join(collector.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _from_records(
    text: str, *, source: str, name: str, lines: bool, errors: list[SourceError] | None
) -> list[Document]:
    """The records of a JSON file (one object or an array) or of a JSON Lines file, as Documents; a bad record
    raises, or with `errors` is appended there and skipped."""
    records: list[tuple[int, Any]] = []
    if lines:
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    records.append((number, _load_json(line, name=name, where=f"line {number} of ")))
                except SourceError as error:
                    if errors is None:
                        raise
                    error.item, error.reason = f"{name} line {number}", "not valid JSON"
                    errors.append(error)
    else:
        loaded = _load_json(text, name=name, where="")
        items = loaded if isinstance(loaded, list) else [loaded]
        records = list(enumerate(items, start=1))
    documents = []
    for number, record in records:
        try:
            documents.append(_record(record, number, source=source, name=name, lines=lines))
        except SourceError as error:
            if errors is None:
                raise
            error.item, error.reason = f"{name} {'line' if lines else 'record'} {number}", 'no "text"'
            errors.append(error)
    return documents
