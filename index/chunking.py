"""Sentence segmentation with exact offsets, and chunks made of whole sentences.

The segmenter (BlingFire) returns spans; we slice the original text with them and never rebuild text, so a
sentence is always ``text[start:end]``. Line breaks are structure (headlines, paragraphs, list items), so we
split on them first and segment each line on its own. A sentence longer than `MAX_SENTENCE_CHARACTERS` (a
run-on line without punctuation, a table flattened to one line) is cut at whitespace into pieces no longer than
that, so every later stage (the embedder, the reader, spaCy, a quote) gets bounded text; the pieces are still
exact slices.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

__all__ = ["MAX_SENTENCE_CHARACTERS", "ChunkSpan", "chunk_spans", "sentence_spans"]

DEFAULT_CHUNK_CHARACTERS = 500
# The embedder reads 256 word pieces of a sentence, about 1,000 characters: a longer "sentence" would be embedded
# by its opening only, so it is cut into pieces this long.
MAX_SENTENCE_CHARACTERS = 1000
# BlingFire is given a line at most this long at a time (cut at whitespace): its time and memory on a 10 MB
# line are not worth finding out, and no sentence is anywhere near this long.
_SEGMENT_CHARACTERS = 100_000
# The last whitespace character of the searched range (greedy).
_LAST_SPACE = re.compile(r".*\s", re.DOTALL)

_LINE = re.compile(r"[^\r\n]+")
# BlingFire splits after honorifics and initials ("Mr. J. R. R. Tolkien"); a split right after one of these
# is undone. Besides English: German (z. B., bzw., Nr., Str.), French (Mme, Mlle, av.) and Spanish (Sra., Dña.,
# Ud.) abbreviations that BlingFire, trained on English, does not know.
_NO_BREAK_AFTER = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Mt|Gen|Col|Lt|Sgt|Capt|Gov|Sen|Rep|Rev|Hon|No|Vol|Fig|vs|etc|Inc|"
    r"Ltd|Co|Corp|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|"
    r"bzw|ca|usw|vgl|ggf|evtl|inkl|bzgl|zzgl|Nr|Str|str|Jh|Jhd|Abs|Art|Bd|Hrsg|Tel|Fa|med|phil|Dipl|Ing|"
    r"Mme|Mlle|Mmes|Mgr|MM|av|bd|env|cf|chap|Sra|Srta|Sres|Sras|Dña|Dª|Ud|Uds|Vd|Vds|Lic|Arq|pág|núm|aprox|"
    r"Avda|Excmo|Excma|Ilmo|Ilma|Sto|Sta)\.|(?<![\w.])[A-Z]\.|(?<![\w.])[a-zäöü]\.)$"
)
# "am 3. Oktober", "im 19. Jahrhundert", "die 3. größte Stadt": a number and a full stop that is a German
# ordinal, not a sentence's end.
_ORDINAL_NUMBER = re.compile(
    r"(?:^|[\s(])(?:(am|vom|zum|bis|ab|seit|im|den|dem|der|des|die|das|zur|beim)\s+)?\d{1,3}\.$"
)
_ORDINAL_FOLLOWER = re.compile(
    r"^(?:Januar|Jänner|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember|"
    r"Jahrhunderts?|Jh\.|Jahrtausends?|Geburtstag|Jahrestag|Mal|Platz|Stock|Etage|Klasse|Runde|Spieltag|Sitzung|"
    r"Auflage|Ausgabe|Kapitel|Lauf|Liga|Bundesliga)\b|^[a-zäöüß]"
)


def _ordinal(previous: str, following: str) -> bool:
    """True when `previous` ends with a German ordinal ("am 3.") that `following` continues ("Oktober ...")."""
    number = _ORDINAL_NUMBER.search(previous)
    if number is None:
        return False
    return number.group(1) is not None or bool(_ORDINAL_FOLLOWER.match(following.lstrip()))


def sentence_spans(text: str, *, max_characters: int = MAX_SENTENCE_CHARACTERS) -> list[tuple[int, int]]:
    """Half-open (start, end) spans of the sentences of `text`, in order, without surrounding whitespace; none
    longer than `max_characters` (a longer sentence is cut at whitespace, or hard where it has none)."""
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        for begin, end in _pieces(text, line.start(), line.end(), _SEGMENT_CHARACTERS):
            for start, stop in _segment(text[begin:end]):
                spans.extend(_pieces(text, begin + start, begin + stop, max_characters))
    return spans


def _segment(line_text: str) -> list[tuple[int, int]]:
    """The trimmed sentences of one line (or of a piece of one), by BlingFire's boundaries."""
    import blingfire

    if not line_text.strip():
        return []
    _, offsets = blingfire.text_to_sentences_and_offsets(line_text)
    # Only the segmenter's boundaries are used: each sentence runs to the next boundary, so no character
    # is lost even where the segmenter skips some (it drops control characters).
    boundaries = [0]
    for begin, _ in offsets[1:]:
        previous = line_text[boundaries[-1] : begin].strip()
        following = line_text[begin : begin + 40]
        if (
            begin > boundaries[-1]
            and previous
            and not _NO_BREAK_AFTER.search(previous)
            and not _ordinal(previous, following)
        ):
            boundaries.append(begin)
    boundaries.append(len(line_text))
    spans = []
    for begin, finish in itertools.pairwise(boundaries):
        begin, finish = _trim(line_text, begin, finish)
        if begin < finish:
            spans.append((begin, finish))
    return spans


def _pieces(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """`text[start:end]` as trimmed spans of at most `limit` characters, each cut at the last whitespace of its
    second half (hard, where that half has none)."""
    pieces = []
    while end - start > limit:
        cut = start + limit
        space = _LAST_SPACE.match(text, start + limit // 2, cut + 1)
        stop, following = (space.end() - 1, space.end()) if space else (cut, cut)
        low, high = _trim(text, start, stop)
        if low < high:
            pieces.append((low, high))
        start = following
    low, high = _trim(text, start, end)
    if low < high:
        pieces.append((low, high))
    return pieces


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


@dataclass(frozen=True, slots=True)
class ChunkSpan:
    """A run of whole sentences: sentences[first:last] of the article, text[start:end]."""

    start: int
    end: int
    first: int
    last: int


def chunk_spans(sentences: list[tuple[int, int]], *, max_characters: int = DEFAULT_CHUNK_CHARACTERS) -> list[ChunkSpan]:
    """Pack consecutive sentences into chunks of at most `max_characters`; a longer sentence stands alone."""
    chunks: list[ChunkSpan] = []
    first = 0
    for index in range(1, len(sentences) + 1):
        if index == len(sentences) or sentences[index][1] - sentences[first][0] > max_characters:
            chunks.append(ChunkSpan(sentences[first][0], sentences[index - 1][1], first, index))
            first = index
    return chunks
