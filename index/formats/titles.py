"""A title from a text's first line when that line reads like a headline: short, no sentence punctuation at its
end, not a site's navigation ("Skip to content", "Menu"), and followed by more text."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["headline", "text_title"]

_MAX_WORDS = 16
_MAX_CHARACTERS = 150
# Lines a saved page opens with that are navigation, not the article's title.
_NAVIGATION = re.compile(
    r"^(?:skip to (?:main )?content|skip navigation|jump to (?:navigation|content)|menu|home|search|"
    r"(?:sign|log) ?in|subscribe|advertisement|share( this)?|toggle navigation|close)$",
    re.IGNORECASE,
)
_ENDS_SENTENCE = re.compile(r"[.,;:]$")
_LOOKED_AT = 3
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def headline(text: str) -> str:
    """The first line of `text` that reads like a headline (among its first few lines), or ""."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for number, line in enumerate(lines[:_LOOKED_AT]):
        if _NAVIGATION.match(line):
            continue
        words = line.split()
        looks = (
            len(line) <= _MAX_CHARACTERS
            and len(words) <= _MAX_WORDS
            and not _ENDS_SENTENCE.search(line)
            and (line[0].isupper() or line[0].isdigit() or line[0] in "\"'“‘")
            and number + 1 < len(lines)
        )
        return line if looks else ""
    return ""


def text_title(text: str, *, name: str, markdown: bool) -> str:
    """A title for a text without one: its first Markdown heading (when `markdown`), its headline, the file
    `name` (unless a generic "page" or "upload"), else its first line."""
    if markdown:
        heading = _HEADING.search(text)
        if heading:
            return heading.group(1).strip()[:200]
    first = headline(text)
    if first:
        return first[:200]
    stem = Path(name).stem
    if stem and stem not in ("page", "upload"):
        return re.sub(r"[_-]+", " ", stem).strip()
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first_line[:120]
