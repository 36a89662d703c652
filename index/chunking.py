"""Sentence segmentation with exact offsets, and chunks made of whole sentences.

The segmenter (BlingFire) returns spans; we slice the original text with them and never rebuild text, so a
sentence is always ``text[start:end]``. Line breaks are structure (headlines, paragraphs, list items), so we
split on them first and segment each line on its own.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

__all__ = ["ChunkSpan", "chunk_spans", "sentence_spans"]

DEFAULT_CHUNK_CHARACTERS = 500

_LINE = re.compile(r"[^\r\n]+")
# BlingFire splits after honorifics and initials ("Mr. J. R. R. Tolkien"); a split right after one of these
# is undone.
_NO_BREAK_AFTER = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Mt|Gen|Col|Lt|Sgt|Capt|Gov|Sen|Rep|Rev|Hon|No|Vol|Fig|vs|etc|Inc|"
    r"Ltd|Co|Corp|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.|(?<![\w.])[A-Z]\.)$"
)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Half-open (start, end) spans of the sentences of `text`, in order, without surrounding whitespace."""
    import blingfire

    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        line_text = line.group()
        if not line_text.strip():
            continue
        _, offsets = blingfire.text_to_sentences_and_offsets(line_text)
        # Only the segmenter's boundaries are used: each sentence runs to the next boundary, so no character
        # is lost even where the segmenter skips some (it drops control characters).
        boundaries = [0]
        for begin, _ in offsets[1:]:
            previous = line_text[boundaries[-1] : begin].strip()
            if begin > boundaries[-1] and previous and not _NO_BREAK_AFTER.search(previous):
                boundaries.append(begin)
        boundaries.append(len(line_text))
        for begin, finish in itertools.pairwise(boundaries):
            begin, finish = _trim(line_text, begin, finish)
            if begin < finish:
                spans.append((line.start() + begin, line.start() + finish))
    return spans


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
