"""What trafilatura leaves of a page's furniture, removed line by line: share bars, "Follow us" lines, photo
credits, "Skip to content". A byline stays: "Who wrote it?" is answered by quoting it."""

from __future__ import annotations

import re

__all__ = ["without_furniture"]

_SOCIAL = r"(?:facebook|twitter|x|linkedin|whatsapp|telegram|reddit|email|e-mail|print|copy link|pinterest)"
_FURNITURE = re.compile(
    r"^(?:skip to (?:main )?content|skip navigation|share (?:this|on)\b.*|share$|tweet$|"
    r"follow us\b.*|(?:photo|image|picture|credit|video)s?\s*:.*|"
    r"sign up (?:for|to) our newsletter.*|subscribe to our newsletter.*|advertisement|read more:?|"
    rf"{_SOCIAL}(?:\s*[|·/,]?\s*{_SOCIAL})*)$",
    re.IGNORECASE,
)


def without_furniture(text: str) -> str:
    """`text` (trafilatura's lines) without the lines that are page furniture rather than the article."""
    return "\n".join(line for line in text.split("\n") if not _FURNITURE.match(line.strip()))
