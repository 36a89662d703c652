"""Large .txt and .jsonl files read streaming: a block of the file in memory at a time, whatever its size.

A .txt file longer than `part_characters` is cut into parts at paragraph boundaries (a blank line; failing that
a line end, then a space), each an article of its own: source ``path#part-N``, title "name (part N)". Joined in
order, the parts are the file's text exactly. A JSON Lines file yields one Document per line as it is read, so a
million lines never sit in memory together; a bad line is refused alone.
"""

from __future__ import annotations

import codecs
import itertools
import re
from collections.abc import Iterator
from io import BufferedReader
from pathlib import Path

from index.errors import SourceError
from index.formats.records import json_record, load_json
from index.formats.storable import shown
from index.formats.titles import text_title
from index.models import Document

__all__ = ["DEFAULT_PART_CHARACTERS", "MAX_LINE_BYTES", "json_lines", "text_parts"]

# About 10,000 sentences: their vectors (15 MB) and rows are one batch, so memory stays flat however long the file.
DEFAULT_PART_CHARACTERS = 1_000_000
_BLOCK_BYTES = 1024 * 1024
# One JSON Lines record is read whole; a longer line (a file without line ends, say) is refused alone.
MAX_LINE_BYTES = 200 * 1024 * 1024
# Enough of the file for charset-normalizer to tell its encoding; a binary file shows NULs in the first 8 KB.
_HEAD_BYTES = 64 * 1024
_SNIFF_BYTES = 8192
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")


def text_parts(path: Path, *, part_characters: int = DEFAULT_PART_CHARACTERS) -> Iterator[Document]:
    """The .txt file at `path` as one Document, or as parts of at most `part_characters` when it is longer."""
    if part_characters < 1:
        raise ValueError(f"part_characters must be at least 1, not {part_characters!r}")
    name, source = shown(Path(path.name)), shown(path.resolve())
    with _open(path) as file:
        parts = _raw_parts(file, name=name, limit=part_characters)
        first, second = next(parts, ""), next(parts, None)
        if second is None:
            # The whole file fits in one part: an ordinary article, named by the file.
            if not first.strip():
                raise SourceError(f"{name!r} holds no text; check that it is the file you meant")
            yield Document(text=first, source=source, title=text_title(first, name=name, markdown=False))
            return
        title = text_title("", name=name, markdown=False) or name
        for number, part in enumerate(itertools.chain([first, second], parts), start=1):
            if part.strip():
                yield Document(text=part, source=f"{source}#part-{number}", title=f"{title} (part {number})"[:200])


def _raw_parts(file: BufferedReader, *, name: str, limit: int) -> Iterator[str]:
    buffer = ""
    for text in _decoded_blocks(file, name=name):
        buffer += text
        while len(buffer) > limit:
            cut = _cut(buffer, limit)
            yield buffer[:cut]
            buffer = buffer[cut:]
    if buffer:
        yield buffer


def json_lines(
    path: Path, *, errors: list[SourceError] | None = None, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[Document]:
    """One Document per line of the JSON Lines file at `path`, read as it goes; a bad line raises, or with
    `errors` is appended there and skipped."""
    name, source = shown(Path(path.name)), shown(path.resolve())
    found = False
    with _open(path) as file:
        encoding = _encoding(file, name=name)
        for number, raw in enumerate(_lines(file, max_line_bytes), start=1):
            try:
                if raw is None:
                    raise SourceError(
                        f"line {number} of {name!r} is over {max_line_bytes:,} bytes; split that record into "
                        "smaller ones",
                        reason="too long",
                    )
                if number == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8) :]
                try:
                    line = raw.decode(encoding)
                except UnicodeDecodeError as error:
                    raise SourceError(
                        f"line {number} of {name!r} is not {encoding} text; save the file as UTF-8",
                        reason=f"not {encoding} text",
                    ) from error
                if not line.strip():
                    continue
                record = load_json(line, name=name, where=f"line {number} of ")
                document = json_record(record, number, source=source, name=name, lines=True)
            except SourceError as error:
                if errors is None:
                    raise
                error.item = f"{name} line {number}"
                errors.append(error)
                found = True
                continue
            if document.text.strip():
                found = True
                yield document
    if not found:
        raise SourceError(f"{name!r} holds no text; check that it is the file you meant")


def _lines(file: BufferedReader, limit: int) -> Iterator[bytes | None]:
    """Each line of `file`; None for one longer than `limit` bytes, which is skipped without being held."""
    while line := file.readline(limit + 1):
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        while (rest := file.readline(_BLOCK_BYTES)) and not rest.endswith(b"\n"):
            pass
        yield None


def _open(path: Path) -> BufferedReader:
    try:
        file = path.open("rb")
    except OSError as error:
        raise SourceError(f"cannot read {shown(path)!r} ({error.strerror}); check its permissions") from error
    assert isinstance(file, BufferedReader)
    return file


def _encoding(file: BufferedReader, *, name: str) -> str:
    """The encoding of `file` from its first bytes (refusing binary data), leaving the file at its start."""
    head = file.read(_HEAD_BYTES)
    file.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    if b"\x00" in head[:_SNIFF_BYTES]:
        raise SourceError(f"{name!r} is a binary file, not text; add .txt, .md, .html or .json files")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(head).best()
    if best is None:
        raise SourceError(f"{name!r} is not text in any encoding we recognise; save it as UTF-8 and add it again")
    return str(best.encoding)


def _decoded_blocks(file: BufferedReader, *, name: str) -> Iterator[str]:
    """The text of `file`, a block at a time, in the encoding its first block shows."""
    encoding = _encoding(file, name=name)
    decoder = codecs.getincrementaldecoder(encoding)()
    first = True
    offset = 0
    while block := file.read(_BLOCK_BYTES):
        if first and block.startswith(codecs.BOM_UTF8):
            block = block[len(codecs.BOM_UTF8) :]
        first = False
        try:
            text = decoder.decode(block)
        except UnicodeDecodeError as error:
            raise SourceError(
                f"{name!r} is not {encoding} text from byte {offset + error.start:,} on (what came before it was "
                "added); save the file as UTF-8 and add it again"
            ) from error
        offset += len(block)
        if text:
            yield text
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def _cut(text: str, limit: int) -> int:
    """Where to end a part of `text` (longer than `limit`): after the last blank line, line end or space in the
    second half of the first `limit` characters, else at `limit` itself."""
    floor = limit // 2
    window = text[floor:limit]
    ends = [match.end() for match in _BLANK_LINE.finditer(window)]
    if ends:
        return floor + ends[-1]
    for separator in ("\n", " "):
        found = window.rfind(separator)
        if found >= 0:
            return floor + found + 1
    return limit
