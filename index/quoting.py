"""Long quotes cut down: a verbatim window of a long sentence around its short answer, cut between words.

A quote is never longer than the library's limit (`Library(max_quote_characters=...)`), so an answer is never
more than a few messages, whatever the articles hold. The window is a slice of the quote's text, so the cut
quote is still ``article.text[start:end]``.
"""

from __future__ import annotations

import re

__all__ = ["DEFAULT_QUOTE_CHARACTERS", "window"]

DEFAULT_QUOTE_CHARACTERS = 600

# The first whitespace character of the searched range, and the last one (greedy).
_FIRST_SPACE = re.compile(r"\s")
_LAST_SPACE = re.compile(r".*\s", re.DOTALL)


def window(text: str, *, limit: int, answer: tuple[int, int] | None = None) -> tuple[int, int]:
    """(start, end) of at most `limit` code points of `text` around `answer` (offsets into `text`; without one,
    the opening of `text`), cut at whitespace where the words allow and trimmed of it.

    An answer longer than `limit` cannot fit: the caller drops it, and the window is the opening.
    """
    if limit < 1:
        raise ValueError(f"a quote limit of {limit} characters leaves no room for a quote")
    if len(text) <= limit:
        return 0, len(text)
    low, high = answer if answer is not None and answer[1] - answer[0] <= limit else (0, 0)
    middle = (low + high) // 2
    # As centred on the answer as the text allows, the answer always inside.
    start = min(max(middle - limit // 2, high - limit, 0), low, len(text) - limit)
    end = start + limit
    if start > 0 and not text[start - 1].isspace():
        space = _FIRST_SPACE.search(text, start, low)
        if space:
            start = space.end()
    if end < len(text) and not text[end].isspace():
        space = _LAST_SPACE.match(text, max(high, start + 1), end)
        if space:
            end = space.end() - 1
    while start < low and text[start].isspace():
        start += 1
    while end > max(high, start + 1) and text[end - 1].isspace():
        end -= 1
    return start, end
