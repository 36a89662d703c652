"""Answers rendered for people: Telegram HTML messages and terminal text, shared by every front end.

Telegram rules that shape this module: a message holds at most 4,096 characters *after* its HTML entities
are parsed, counted in UTF-16 code units (an emoji counts twice); every ``<``, ``>`` and ``&`` that is not
markup must be escaped; tags must be balanced. Quotes are never altered: the text inside a blockquote,
unescaped, is exactly ``quote.text`` (or, for a quote too long for one message, consecutive parts of it).
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.text import Text

from index import Answer, ArticleSummary, Candidate, Explanation, Quote

__all__ = [
    "NOT_FOUND_HTML",
    "NOT_FOUND_TEXT",
    "TELEGRAM_MESSAGE_LIMIT",
    "answer_to_html",
    "answer_to_rich",
    "answer_to_text",
    "citation_details",
    "context_to_html",
    "escape",
    "explanation_lines",
    "explanation_to_html",
    "explanation_to_text",
    "sources_to_html",
    "telegram_length",
]

TELEGRAM_MESSAGE_LIMIT = 4096
NOT_FOUND_TEXT = "Not found in your articles."
NOT_FOUND_HTML = "Not found in the articles. Try other words, or send /sources to see what I have read."

_SEPARATOR = "\n\n"
# A cut after a sentence's end (with any closing quotes or brackets) and the spaces that follow it.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s+")
_WHITESPACE = re.compile(r"\s+")
_TITLE_LIMIT = 200


def escape(text: str) -> str:
    """Text made safe for Telegram's HTML parse mode (``<``, ``>`` and ``&``)."""
    return html.escape(text, quote=False)


def telegram_length(text: str) -> int:
    """The length Telegram counts: UTF-16 code units of the text after entity parsing."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class _Mark:
    """An HTML tag around ``text[start:end]`` of the text being rendered; marks nest, never overlap."""

    start: int
    end: int
    tag: str


@dataclass(frozen=True)
class _Block:
    """A self-contained piece of a message: balanced HTML and the length Telegram will count for it."""

    html: str
    length: int


def _marked_html(text: str, marks: Sequence[_Mark]) -> str:
    """Escape ``text`` and wrap the marked spans in their tags; empty spans are dropped."""
    spans = sorted((mark for mark in marks if mark.start < mark.end), key=lambda mark: (mark.start, -mark.end))
    boundaries = sorted({0, len(text)} | {mark.start for mark in spans} | {mark.end for mark in spans})
    output: list[str] = []
    open_marks: list[_Mark] = []
    waiting = list(reversed(spans))
    previous = 0
    for position in boundaries:
        output.append(escape(text[previous:position]))
        previous = position
        while open_marks and open_marks[-1].end == position:
            output.append(f"</{open_marks.pop().tag}>")
        while waiting and waiting[-1].start == position:
            mark = waiting.pop()
            output.append(f"<{mark.tag}>")
            open_marks.append(mark)
    assert not open_marks and not waiting, "marks must nest inside the text"
    return "".join(output)


def _clip(marks: Sequence[_Mark], start: int, end: int) -> list[_Mark]:
    """The marks restricted to ``[start, end)``, shifted so that ``start`` becomes 0."""
    clipped = []
    for mark in marks:
        low, high = max(mark.start, start), min(mark.end, end)
        if low < high:
            clipped.append(_Mark(low - start, high - start, mark.tag))
    return clipped


def _prefix_within(text: str, start: int, budget: int) -> int:
    """The largest end such that ``text[start:end]`` fits ``budget`` UTF-16 units (at least one character)."""
    used = 0
    end = start
    while end < len(text):
        width = 2 if ord(text[end]) > 0xFFFF else 1
        if used + width > budget:
            break
        used += width
        end += 1
    return max(end, start + 1)


def _cut(text: str, start: int, budget: int) -> int:
    """Where the part of ``text`` beginning at ``start`` should end: a sentence end, else a space, else hard."""
    hard = _prefix_within(text, start, budget)
    if hard >= len(text):
        return len(text)
    window = text[start:hard]
    # Only cut late enough that parts stay reasonably full; a cut in the first half wastes a message.
    floor = len(window) // 2
    for pattern in (_SENTENCE_END, _WHITESPACE):
        ends = [match.end() for match in pattern.finditer(window) if match.end() > floor]
        if ends:
            return start + ends[-1]
    return hard


def citation_details(date: str | None, author: str | None) -> str:
    """ ", 12 Sep 2015, Clara Hoffmann" after a quote's title: the article's date (ISO dates written out) and
    author, each when known; "" when neither is."""
    parts = [_readable_date(date) if date else "", " ".join((author or "").split())[:_TITLE_LIMIT]]
    return "".join(f", {part}" for part in parts if part)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def _readable_date(date: str) -> str:
    found = _ISO_DATE.match(date.strip())
    if not found or not 1 <= int(found.group(2)) <= 12:
        return date.strip()[:40]
    return f"{int(found.group(3))} {_MONTHS[int(found.group(2)) - 1]} {found.group(1)}"


def _attribution(title: str, url: str | None, suffix: str = "") -> tuple[str, str]:
    """The "— Title" line under a quote, as (html, plain text); the title links to the article's URL. `suffix`
    follows the title: the citation's details and a part number."""
    shown = _shorten(title.strip() or "untitled article", _TITLE_LIMIT)
    plain = f"— {shown}{suffix}"
    if url:
        link = f'<a href="{html.escape(url, quote=True)}">{escape(shown)}</a>'
        return f"— {link}{escape(suffix)}", plain
    return f"— <i>{escape(shown)}</i>{escape(suffix)}", plain


def _shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, for titles (never for quotes)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _quote_blocks(
    text: str,
    marks: Sequence[_Mark],
    title: str,
    url: str | None,
    limit: int,
    heading: str = "",
    details: str = "",
) -> list[_Block]:
    """One quote as blocks: a blockquote and its attribution, cut into parts when too long for a message."""
    head_html = f"{escape(heading)}\n" if heading else ""
    head_length = telegram_length(heading) + 1 if heading else 0
    whole_html, whole_plain = _attribution(title, url, details)
    whole = _Block(
        f"{head_html}<blockquote>{_marked_html(text, marks)}</blockquote>\n{whole_html}",
        head_length + telegram_length(text) + 1 + telegram_length(whole_plain),
    )
    if whole.length <= limit:
        return [whole]
    # The longest attribution a part can get, so that every part fits whatever its number.
    _, widest = _attribution(title, url, f"{details} (part 9999/9999)")
    budget = limit - head_length - 1 - telegram_length(widest)
    if budget < 1:
        raise ValueError(f"a message limit of {limit} leaves no room for a quote")
    cuts = [0]
    while cuts[-1] < len(text):
        cuts.append(_cut(text, cuts[-1], budget))
    total = len(cuts) - 1
    blocks = []
    for number, (start, end) in enumerate(itertools.pairwise(cuts), start=1):
        part_html, part_plain = _attribution(title, url, f"{details} (part {number}/{total})")
        body = _marked_html(text[start:end], _clip(marks, start, end))
        blocks.append(
            _Block(
                f"{head_html}<blockquote>{body}</blockquote>\n{part_html}",
                head_length + telegram_length(text[start:end]) + 1 + telegram_length(part_plain),
            )
        )
    return blocks


def _answer_marks(quote: Quote, base: int) -> list[_Mark]:
    """The short answer of ``quote`` in bold, positioned in a text that starts at article offset ``base``."""
    if quote.answer is None:
        return []
    return [_Mark(quote.answer.start - base, quote.answer.end - base, "b")]


def _pack(blocks: Sequence[_Block], limit: int) -> list[str]:
    """Blocks joined into as few messages as fit, never splitting a block."""
    messages: list[str] = []
    current: list[str] = []
    length = 0
    separator = telegram_length(_SEPARATOR)
    for block in blocks:
        extra = block.length + (separator if current else 0)
        if current and length + extra > limit:
            messages.append(_SEPARATOR.join(current))
            current, length = [], 0
            extra = block.length
        current.append(block.html)
        length += extra
    if current:
        messages.append(_SEPARATOR.join(current))
    return messages


def answer_to_html(
    answer: Answer, *, first: int = 0, count: int | None = None, limit: int = TELEGRAM_MESSAGE_LIMIT
) -> list[str]:
    """Telegram messages (HTML parse mode) quoting ``answer.quotes[first:first + count]``, best first.

    Each quote is a blockquote with the short answer in bold, followed by "— Title" (a link when the article
    has a URL). Messages break between quotes; a quote longer than ``limit`` is cut at sentence or word
    boundaries into numbered parts. An answer with ``found=False`` gives the "not found" message.
    """
    if not answer.found or not answer.quotes:
        return [NOT_FOUND_HTML]
    last = None if count is None else first + count
    blocks = [
        block
        for quote in answer.quotes[first:last]
        for block in _quote_blocks(
            quote.text,
            _answer_marks(quote, quote.start),
            quote.title,
            quote.url,
            limit,
            heading=_hedge(quote),
            details=citation_details(quote.date, quote.author),
        )
    ]
    return _pack(blocks, limit) if blocks else ["No more quotes for this question."]


WEAK_HEADING = "Possibly (the articles may not say):"


def _hedge(quote: Quote) -> str:
    """A weak quote is introduced as a possible answer, so it never reads like a confident one."""
    return WEAK_HEADING if quote.weak else ""


def context_to_html(context: Quote, quote: Quote, *, limit: int = TELEGRAM_MESSAGE_LIMIT) -> list[str]:
    """The paragraph around ``quote``: the quoted sentence underlined and its short answer in bold."""
    marks = []
    if context.article_id == quote.article_id and context.start <= quote.start <= quote.end <= context.end:
        marks.append(_Mark(quote.start - context.start, quote.end - context.start, "u"))
        marks.extend(_answer_marks(quote, context.start))
    blocks = _quote_blocks(
        context.text,
        marks,
        context.title,
        context.url,
        limit,
        heading="Context:",
        details=citation_details(context.date, context.author),
    )
    return _pack(blocks, limit)


def sources_to_html(articles: Sequence[ArticleSummary], *, page: int, per_page: int) -> str:
    """One page (0-based, clamped) of the article list; each line has the title, id, date and size."""
    if not articles:
        return "No articles yet. An admin can add some with /add URL or by sending a file."
    pages = (len(articles) + per_page - 1) // per_page
    page = min(max(page, 0), pages - 1)
    lines = [f"<b>{len(articles)} articles</b> (page {page + 1} of {pages})", ""]
    for number, article in enumerate(articles[page * per_page : (page + 1) * per_page], start=page * per_page + 1):
        title = escape(_shorten(article.title.strip() or article.source, _TITLE_LIMIT))
        if article.url:
            title = f'<a href="{html.escape(article.url, quote=True)}">{title}</a>'
        details = ", ".join(part for part in (article.date, f"{article.characters:,} characters") if part)
        lines.append(f"{number}. {title}\n    <code>{escape(article.id)}</code> · {escape(details)}")
    return "\n".join(lines)


def _selected(answer: Answer, first: int, count: int | None) -> list[Quote]:
    return answer.quotes[first : None if count is None else first + count]


def answer_to_rich(answer: Answer, *, first: int = 0, count: int | None = None) -> RenderableType:
    """A terminal rendering: each quote verbatim with its short answer in bold, then its title and source."""
    if not answer.found or not answer.quotes:
        return Text(NOT_FOUND_TEXT, style="yellow")
    parts: list[RenderableType] = []
    for number, quote in enumerate(_selected(answer, first, count)):
        if number:
            parts.append(Text(""))
        if quote.weak:
            parts.append(Text(WEAK_HEADING, style="yellow"))
        # Text(), not markup: an article containing "[bold]" must print as written.
        body = Text(quote.text)
        if quote.answer is not None:
            body.stylize("bold reverse", quote.answer.start - quote.start, quote.answer.end - quote.start)
        parts.append(body)
        title = quote.title.strip() or "untitled article"
        credit = Text()
        credit.append("  — ", style="dim")
        credit.append(title, style=f"bold link {quote.url}" if quote.url else "bold")
        credit.append(citation_details(quote.date, quote.author))
        credit.append(f" ({quote.url or quote.source})", style="dim")
        if quote.confidence is not None:
            credit.append(f" · {quote.confidence:.0%} sure", style="dim")
        parts.append(credit)
    return Group(*parts)


def answer_to_text(answer: Answer, *, first: int = 0, count: int | None = None) -> str:
    """Plain text for pipes: per quote an "Answer:" line when marked, the quote verbatim, then its title."""
    if not answer.found or not answer.quotes:
        return NOT_FOUND_TEXT
    blocks = []
    for quote in _selected(answer, first, count):
        lines = [WEAK_HEADING] if quote.weak else []
        if quote.answer is not None:
            lines.append(f"Answer: {quote.answer.text}")
        lines.append(quote.text)
        details = citation_details(quote.date, quote.author)
        lines.append(f"  — {quote.title.strip() or 'untitled article'}{details} ({quote.url or quote.source})")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


# -- why this quote ----------------------------------------------------------------------------------------------

# What each first-stage feature means, in words a user can follow (index/answer.py FEATURES).
_FEATURE_WORDS = {
    "dense_sentence": "its meaning is close to the question's",
    "dense_chunk": "its passage is close in meaning to the question",
    "dense_margin": "it is about as close in meaning as the closest candidate",
    "coverage": "it holds the question's rarer words",
    "coverage_margin": "it holds about as many of those words as the best candidate",
    "bm25": "it matches the question's words often (BM25)",
    "bigrams": "it holds word pairs of the question",
    "chunk_coverage": "its passage holds the question's words",
    "neighbour_coverage": "the sentences next to it hold the question's words",
    "lexical_chunk": "its passage ranks high in the word search",
    "chunk_rank": "its passage ranks high in the search",
    "type_match": "it holds the kind of thing asked for (a date, a number, a name)",
    "novelty": "it says more than the question's own words",
    "length": "its length",
}
_OUTCOME_WORDS = {
    "quoted": "quoted",
    "below_threshold": "not quoted: below the threshold",
    "beyond_k": "not quoted: more quotes than asked for were better",
    "inside_better_quote": "not quoted on its own: it is inside a better quote",
    "not_read": "not read: the first stage ranked it below the candidates the reader reads",
}
_SHOWN_CANDIDATES = 6
_SHOWN_CHARACTERS = 160


def _feature(name: str) -> str:
    return _FEATURE_WORDS.get(name, name.replace("_", " "))


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _SHOWN_CHARACTERS else flat[: _SHOWN_CHARACTERS - 1] + "…"


def _why_lost(candidate: Candidate, winner: Candidate) -> str:
    """The main reason `candidate` lost to `winner`: the reader's view, then the first stage's biggest gap."""
    reasons = []
    reader, best = candidate.reader_answer, winner.reader_answer
    if reader is not None and best is not None and reader < best:
        reasons.append(f"the reader found it less likely to answer ({reader:+.2f} against {best:+.2f})")
    gaps = {
        name: winner.contributions.get(name, 0.0) - value
        for name, value in candidate.contributions.items()
        if winner.contributions.get(name, 0.0) - value > 0.05
    }
    if gaps:
        name = max(gaps, key=gaps.__getitem__)
        reasons.append(f"the first stage: the winner is stronger where {_feature(name)} ({gaps[name]:+.2f})")
    if winner.conversation_bonus - candidate.conversation_bonus > 0:
        reasons.append("the conversation favoured the winner's article and place")
    return "; ".join(reasons) or "its scores were close; the winner was a little higher overall"


def explanation_lines(explanation: Explanation) -> list[str]:
    """Why the answer is what it is, line by line, in plain words (the REPL, the CLI and Telegram share it)."""
    lines = [f"Why this answer to {explanation.question!r}:"]
    if explanation.follow_up is not None:
        lines.append(f"  Read as a follow-up ({explanation.follow_up}): searched as {explanation.searched!r}.")
    if explanation.where is not None:
        lines.append(f"  Only articles matching {explanation.where.describe()} were searched.")
    lines.append(
        f"  The first stage scores every sentence of the best passages; the reader reads the best "
        f"{explanation.read_depth}. Their blend is the confidence; the threshold is {explanation.threshold:.3f} "
        f"(under it nothing is quoted: not found), and under {explanation.weak_threshold:.3f} a quote is only "
        "'possibly'."
    )
    if not explanation.candidates:
        lines.append("  No sentence of the articles was a candidate.")
        return lines
    read = [candidate for candidate in explanation.candidates if candidate.probability is not None]
    winner = next((c for c in explanation.candidates if c.outcome == "quoted"), read[0] if read else None)
    for number, candidate in enumerate(explanation.candidates[:_SHOWN_CANDIDATES], start=1):
        lines.append(f"{number}. {_OUTCOME_WORDS[candidate.outcome]}: “{_short(candidate.text)}”")
        strongest = sorted(candidate.contributions.items(), key=lambda item: item[1], reverse=True)[:2]
        words = ", ".join(f"{_feature(name)} ({value:+.2f})" for name, value in strongest if value > 0)
        lines.append(f"   first stage {candidate.first_stage:.3f}" + (f": {words}" if words else ""))
        if candidate.probability is not None:
            answer = f", short answer “{candidate.short_answer}”" if candidate.short_answer else ""
            lines.append(
                f"   reader: answers {candidate.reader_answer:+.2f}, span {candidate.reader_span:+.2f}{answer}; "
                f"confidence {candidate.probability:.3f}"
            )
        if candidate.conversation_bonus:
            lines.append(f"   conversation: {candidate.conversation_bonus:+.2f} (its article and place in it)")
        if candidate.outcome == "below_threshold" and candidate.probability is not None:
            lines.append(
                f"   why: confidence {candidate.probability:.3f} is under the threshold {explanation.threshold:.3f}"
            )
        elif winner is not None and candidate is not winner and candidate.outcome != "quoted":
            lines.append(f"   why it lost: {_why_lost(candidate, winner)}")
    return lines


def explanation_to_text(explanation: Explanation) -> str:
    return "\n".join(explanation_lines(explanation))


def explanation_to_html(explanation: Explanation) -> list[str]:
    """The explanation as Telegram HTML messages, each under the message limit."""
    parts: list[str] = []
    current = ""
    for line in explanation_lines(explanation):
        piece = escape(line)
        if current and telegram_length(current) + telegram_length(piece) + 1 > TELEGRAM_MESSAGE_LIMIT:
            parts.append(current)
            current = ""
        current = f"{current}\n{piece}" if current else piece
    if current:
        parts.append(current)
    return parts
