"""Near-duplicate articles: the same text from two sources (a page saved as a file and added by its URL, a copy
with another footer), found at add time by MinHash over word shingles.

Each article's text is reduced to its words (case-folded, punctuation and spacing ignored), then to the set of
its 5-word shingles; 64 MinHash values of that set, in 32 bands of 2, go into SQLite beside the article. A new
article that shares at least two bands with a stored article is compared with it exactly (Jaccard similarity
of the two shingle sets); at `NEAR_DUPLICATE` or above it is the same article. `benchmarks/near_duplicates.py`
measured the threshold on 43 Wikinews articles: copies with a site's header, a changed footer, both, or the last
paragraph cut off score 0.556 and above (short articles lose most), two distinct articles at most 0.004.
"""

from __future__ import annotations

import hashlib
import re
import zlib

import numpy as np
from numpy.typing import NDArray

__all__ = ["MIN_SHARED_BANDS", "MIN_WORDS", "NEAR_DUPLICATE", "Fingerprint", "fingerprint", "similarity"]

NEAR_DUPLICATE = 0.5
# Shorter texts are only the same article when they are identical: two notes of a few words that share them
# ("Call the bank.", "Call the bank!") are not one article, and their shingles say too little.
MIN_WORDS = 20
SHINGLE_WORDS = 5
_PERMUTATIONS = 64
# 32 bands of 2 rows: two texts at similarity 0.5 share a band with probability 1 - (1 - 0.5**2)**32 > 0.9999.
_BAND_ROWS = 2
# Only articles sharing at least this many bands are compared exactly. One shared band is common between
# distinct articles that quote the same sentence or share boilerplate (at similarity 0.04, 5% of pairs), and
# comparing up to 20 of them per new article made an ingest of the benchmark's 30,000 chunks of recombined
# articles take 58 s instead of 35 s (the same one near-duplicate found either way); two texts at similarity 0.5
# share two or more bands with probability 1 - 0.75**32 * (1 + 32/3) = 0.9988 (0.9999 at the 0.556 of the
# measured copies), two at 0.04 with probability 0.001.
MIN_SHARED_BANDS = 2
_WORD = re.compile(r"\w+")
_random = np.random.default_rng(20240917)
# Odd multipliers make x -> a*x + b (mod 2**64) a permutation of the 64-bit values.
_MULTIPLIERS = _random.integers(1, 2**63, size=_PERMUTATIONS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_OFFSETS = _random.integers(0, 2**63, size=_PERMUTATIONS, dtype=np.uint64)
_POWERS = np.array([1_000_003**power for power in range(SHINGLE_WORDS)], dtype=object)


class Fingerprint:
    """The shingles of one text (sorted, unique 64-bit hashes) and the LSH bands of their MinHash signature."""

    __slots__ = ("bands", "shingles", "words")

    def __init__(self, shingles: NDArray[np.uint64], bands: list[int], words: int) -> None:
        self.shingles = shingles
        self.bands = bands
        self.words = words


def fingerprint(text: str) -> Fingerprint:
    words = _WORD.findall(text.casefold())
    hashes = np.fromiter((zlib.crc32(word.encode("utf-8")) for word in words), dtype=np.uint64, count=len(words))
    if len(hashes) < SHINGLE_WORDS:
        shingles = np.unique(hashes if len(hashes) else np.zeros(1, dtype=np.uint64))
    else:
        # A shingle's hash: its five word hashes as digits of a polynomial, wrapping at 2**64.
        windows = np.lib.stride_tricks.sliding_window_view(hashes, SHINGLE_WORDS)
        weights = np.array([int(power) % 2**64 for power in _POWERS], dtype=np.uint64)
        shingles = np.unique((windows * weights).sum(axis=1, dtype=np.uint64))
    signature = np.array(
        [(shingles * multiplier + offset).min() for multiplier, offset in zip(_MULTIPLIERS, _OFFSETS, strict=True)],
        dtype=np.uint64,
    )
    bands = []
    for band, start in enumerate(range(0, _PERMUTATIONS, _BAND_ROWS)):
        digest = hashlib.blake2b(signature[start : start + _BAND_ROWS].tobytes(), digest_size=7).digest()
        # The band number is part of the value, so that one index serves all bands.
        bands.append(band << 56 | int.from_bytes(digest, "big"))
    return Fingerprint(shingles, bands, len(words))


def similarity(first: Fingerprint, second: Fingerprint) -> float:
    """Jaccard similarity of the two texts' shingle sets: 1.0 for the same words in the same order."""
    shared = len(np.intersect1d(first.shingles, second.shingles, assume_unique=True))
    union = len(first.shingles) + len(second.shingles) - shared
    return shared / union if union else 1.0
