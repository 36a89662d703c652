"""Text that SQLite, pydantic and the tokenizers accept: what every reader stores, and how paths are shown."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["shown", "storable"]


def storable(value: str) -> str:
    """`value` with each lone surrogate (JSON's "\\ud800", a name's undecodable byte) replaced by "?": SQLite,
    pydantic and the tokenizers take only text that UTF-8 can encode."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def shown(path: Path) -> str:
    """`path` as text that can be stored and printed: a name's undecodable bytes are written as \\xff."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")
