"""Readers that turn files, folders, URLs and uploads into Documents: text, title, url, date, source.

HTML goes through trafilatura (main text and metadata, tolerant of broken markup); text in an unknown
encoding is decoded by charset-normalizer. Nothing here strips or rewrites text beyond decoding it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from index.errors import SourceError
from index.models import Document

__all__ = ["SUFFIXES", "documents_from_bytes", "is_url", "read_sources"]

logger = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl")
MAX_SOURCE_BYTES = 200 * 1024 * 1024
_URL = re.compile(r"^https?://", re.IGNORECASE)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def is_url(item: str) -> bool:
    return bool(_URL.match(item))


def read_sources(items: Iterable[str]) -> Iterator[Document]:
    """Documents from paths (files or folders, recursively) and http(s) URLs, in the order given."""
    for item in items:
        if is_url(item):
            yield from _read_url(item)
            continue
        path = Path(item).expanduser()
        if not path.exists():
            raise SourceError(f"{item!r} does not exist; give a file, a folder or an http(s) URL")
        if path.is_dir():
            files = sorted(
                candidate
                for candidate in path.rglob("*")
                if candidate.is_file()
                and candidate.suffix.lower() in SUFFIXES
                and not any(part.startswith(".") for part in candidate.relative_to(path).parts)
            )
            for file in files:
                yield from _read_file(file)
        else:
            yield from _read_file(path)


def _read_file(path: Path) -> list[Document]:
    size = path.stat().st_size
    if size > MAX_SOURCE_BYTES:
        raise SourceError(
            f"{str(path)!r} is {size:,} bytes; the limit is {MAX_SOURCE_BYTES:,}: split it into smaller files"
        )
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SourceError(f"cannot read {str(path)!r} ({error.strerror}); check its permissions") from error
    return documents_from_bytes(data, name=path.name, source=str(path.resolve()))


def _read_url(url: str) -> list[Document]:
    import httpx

    try:
        response = httpx.get(
            url,
            follow_redirects=True,
            timeout=httpx.Timeout(20.0),
            headers={"User-Agent": "quotebot/0.1 (+article reader)"},
        )
        response.raise_for_status()
    except httpx.HTTPStatusError as error:
        raise SourceError(
            f"{url!r} answered HTTP {error.response.status_code}; check the address or save the page as a file"
        ) from error
    except httpx.HTTPError as error:
        raise SourceError(
            f"cannot fetch {url!r} ({type(error).__name__}); check the address and your connection"
        ) from error
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    name = {
        "text/plain": "page.txt",
        "text/markdown": "page.md",
        "application/json": "page.json",
        "application/x-ndjson": "page.jsonl",
        "application/jsonl": "page.jsonl",
    }.get(content_type, "page.html")
    return documents_from_bytes(response.content, name=name, source=str(response.url))


def documents_from_bytes(data: bytes, *, name: str, source: str) -> list[Document]:
    """Documents from the bytes of one file; `name`'s suffix picks the reader."""
    suffix = Path(name).suffix.lower()
    if suffix and suffix not in SUFFIXES:
        raise SourceError(f"{name!r} is not a supported kind of file; add {', '.join(SUFFIXES)} files")
    text = decode(data, name=name)
    if suffix in (".html", ".htm"):
        documents = [_from_html(text, source=source, name=name)]
    elif suffix in (".json", ".jsonl"):
        documents = _from_records(text, source=source, name=name, lines=suffix == ".jsonl")
    else:
        documents = [Document(text=text, source=source, title=_text_title(text, name=name, markdown=suffix != ".txt"))]
    kept = [document for document in documents if document.text.strip()]
    if not kept:
        raise SourceError(f"{name!r} holds no text; check that it is the file you meant")
    return kept


def decode(data: bytes, *, name: str) -> str:
    """Text of `data`: UTF-8 when it is, else the encoding charset-normalizer finds; binary data is refused."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data[:8192]:
        raise SourceError(f"{name!r} is a binary file, not text; add .txt, .md, .html or .json files")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise SourceError(f"{name!r} is not text in any encoding we recognise; save it as UTF-8 and add it again")
    return str(best)


def _text_title(text: str, *, name: str, markdown: bool) -> str:
    if markdown:
        heading = _HEADING.search(text)
        if heading:
            return heading.group(1).strip()[:200]
    stem = Path(name).stem
    if stem and stem not in ("page", "upload"):
        return re.sub(r"[_-]+", " ", stem).strip()
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first_line[:120]


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
        text = trafilatura.html2txt(html) or ""
    title = data.get("title") or _text_title(text, name=name, markdown=False)
    url = data.get("url") or (source if is_url(source) else None)
    return Document(text=text, source=source, title=str(title)[:200], url=url, date=data.get("date"))


def _from_records(text: str, *, source: str, name: str, lines: bool) -> list[Document]:
    records: list[tuple[int, Any]] = []
    try:
        if lines:
            for number, line in enumerate(text.splitlines(), start=1):
                if line.strip():
                    records.append((number, json.loads(line)))
        else:
            loaded = json.loads(text)
            items = loaded if isinstance(loaded, list) else [loaded]
            records = list(enumerate(items, start=1))
    except json.JSONDecodeError as error:
        raise SourceError(
            f"{name!r} is not valid JSON (line {error.lineno}: {error.msg}); fix or re-export it"
        ) from error
    documents = []
    for number, record in records:
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            where = f"line {number}" if lines else f"record {number}"
            raise SourceError(f'{where} of {name!r} has no "text" string; each record needs one')
        url = record.get("url") if isinstance(record.get("url"), str) else None
        documents.append(
            Document(
                text=record["text"],
                source=url or f"{source}#{number}",
                title=str(record.get("title") or _text_title(record["text"], name="", markdown=False))[:200],
                url=url,
                date=str(record["date"]) if record.get("date") is not None else None,
            )
        )
    return documents
