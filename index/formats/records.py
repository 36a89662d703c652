"""JSON and JSON Lines records as Documents: each object's "text", with its "title", "url" and "date"."""

from __future__ import annotations

import json
from typing import Any

from index.errors import SourceError
from index.formats.storable import storable
from index.formats.titles import text_title
from index.models import Document

__all__ = ["json_record", "load_json"]


def load_json(text: str, *, name: str, where: str) -> Any:
    """`text` parsed as JSON; `where` ("line 3 of ") says which part of the file `name` it is, in the error."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        line = f"line {error.lineno}: " if not where else ""
        raise SourceError(
            f"{where}{name!r} is not valid JSON ({line}{error.msg}); fix or re-export it", reason="not valid JSON"
        ) from error
    except RecursionError as error:
        # Python's JSON parser recurses once per nested array or object; ten thousand "[" would exhaust it.
        raise SourceError(
            f"{where}{name!r} nests JSON arrays or objects too deeply to read; an article is an object with a "
            '"text" string',
            reason="nested too deeply",
        ) from error


def json_record(record: Any, number: int, *, source: str, name: str, lines: bool) -> Document:
    """Record `number` (a line of a JSON Lines file when `lines`) of the file `name` as a Document."""
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        where = f"line {number}" if lines else f"record {number}"
        raise SourceError(f'{where} of {name!r} has no "text" string; each record needs one', reason='no "text"')
    text = storable(record["text"])
    url = storable(record["url"]) if isinstance(record.get("url"), str) else None
    return Document(
        text=text,
        source=url or f"{source}#{number}",
        title=storable(str(record.get("title") or text_title(text, name="", markdown=False))[:200]),
        url=url,
        date=storable(str(record["date"])) if record.get("date") is not None else None,
    )
