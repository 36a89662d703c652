"""Text as Postgres can hold it: NUL removed and put back at its place, so every slice stays exact.

Postgres text cannot hold U+0000, which the local backend stores as given (a JSON record's "\\u0000"). Each NUL
is stored as U+FFFD, one code point for one, so offsets and server-side `substr` stay exact, and its position is
recorded (`articles.nuls`); every read puts the NULs back. A stored text is thus the text given, to the code point.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

__all__ = ["field_nuls", "lexeme", "restore", "tsquery", "without_nul"]

_STAND_IN = "\ufffd"
# tsvector lexemes stop at 2047 bytes; a longer "word" (a base64 blob) is indexed by its digest instead.
_LONGEST_LEXEME_BYTES = 1000


def without_nul(value: str) -> tuple[str, list[int]]:
    """`value` with each NUL replaced by U+FFFD, and the positions of the NULs."""
    if "\x00" not in value:
        return value, []
    positions = [index for index, character in enumerate(value) if character == "\x00"]
    return value.replace("\x00", _STAND_IN), positions


def restore(value: str, positions: Sequence[int] | None, *, offset: int = 0) -> str:
    """`value` (stored from `offset` of its field) with the NULs at `positions` put back."""
    if not positions:
        return value
    characters = list(value)
    for position in positions:
        index = position - offset
        if 0 <= index < len(characters):
            characters[index] = "\x00"
    return "".join(characters)


def field_nuls(nuls: Mapping[str, list[int]] | None, field: str) -> list[int] | None:
    return nuls.get(field) if nuls else None


def lexeme(stem: str) -> str:
    """The tsvector lexeme of a stem: itself, or a digest when it is too long for a lexeme; "~" for the empty
    stem the Porter stemmer makes of a lone "s" ("it’s"), which a tsvector cannot hold."""
    if not stem:
        return "~"
    if len(stem.encode("utf-8")) <= _LONGEST_LEXEME_BYTES:
        return stem
    return "~" + hashlib.sha256(stem.encode("utf-8")).hexdigest()


def tsquery(stems: Sequence[str]) -> str:
    """An OR tsquery of `stems`, each quoted (quotes and backslashes doubled) so no stem is read as an operator."""
    quoted = ("'" + lexeme(stem).replace("\\", "\\\\").replace("'", "''") + "'" for stem in dict.fromkeys(stems))
    return " | ".join(quoted)
