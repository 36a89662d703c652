"""One text analyser: the stems FTS5 stores under `lexical.FTS5_TOKENIZER` are the stems `lexical.stems` makes.

FTS5 ranks chunks and `lexical` scores the sentences inside them with FTS5's document frequencies, so the two
must agree on what a word is. Each sample is indexed by a real in-memory FTS5 table built with the constant,
and the terms FTS5 keeps for it (``fts5vocab``) are compared, as sets, with `stems()` of the same text.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from index import Library, lexical

# Texts on which FTS5 and the Python analyser agree exactly.
AGREE = {
    "diacritics": "Café déjà vu: a naïve résumé, RÉSERVÉ for Zoë, who coöperates",
    "decomposed diacritics": "cafe\u0301 and a\u0308rger, x\u0303",
    "apostrophes": "Don't stop: l'homme qu'il aujourd'hui, dogs' tails, rock’n’roll",
    "digits": "In 2015 the 3rd of 10,000.50 items; 1st 2nd 4.5 x2 H2O COVID-19",
    "hyphens": "state-of-the-art well-known e-mail — a long–dash",
    "chinese and japanese": "東京タワー 北京 こんにちは世界",
    "emoji": "Party 🎉🎉 time 😀ok ❤️ 👍 done",
    "underscores": "snake_case_name __init__ foo_bar",
    "stemming": "running runs ran easily generously Ionization ionizations gas bus yes",
    "spaces and controls": "hello\u200bworld tab\tnew\nline\r\nend",
}

# Where they differ, each difference named: (stems only FTS5 stores, stems only `lexical.stems` makes).
KNOWN_DIFFERENCES = {
    # FTS5's porter leaves tokens under 3 characters alone; snowball's strips their final "s" ("us" -> "u").
    "short words ending in s": ("the US is as big as us", {"us", "is", "as"}, {"u", "i", "a"}),
    "a lone s": ("O'Brien’s", {"s"}, {""}),
    # FTS5's porter passes tokens over 64 characters through unstemmed.
    "very long tokens": ("a" * 70 + "ing", {"a" * 70 + "ing"}, {"a" * 70}),
    # `words` folds compatibility characters (NFKD); unicode61 keeps ligatures, full-width letters and number forms.
    "ligatures and number forms": (
        "ﬁnance ĳssel ² ½ Ⅻ ①",
        {"ﬁnanc", "ĳssel", "²", "½", "ⅻ", "①"},
        {"financ", "ijssel", "2", "1", "xii"},
    ),
    "full-width letters": ("Ｆｕｌｌｗｉｄｔｈ ＡＢＣ", {"ｆｕｌｌｗｉｄｔｈ", "ａｂｃ"}, {"fullwidth", "abc"}),
    # NFKD splits Hangul syllables into their jamo, which unicode61 keeps composed.
    "korean": ("서울", {"서울"}, {"\u1109\u1165\u110b\u116e\u11af"}),
    # Python lower-cases a final capital sigma to "ς" and drops Greek accents; unicode61 keeps "σ" and the tonos.
    "greek": ("Ελληνικά ΟΔΟΣ", {"ελληνικά", "οδοσ"}, {"ελληνικα", "οδος"}),
    # unicode61's tables are Unicode 6.1's: later emoji (a robot, a skin tone) are unassigned there, so words.
    "emoji newer than unicode 6.1": ("🤖 robot 👍🏽 🥳", {"🤖", "🏽", "🥳"}, set()),
    # Snowball's porter leaves a word with "ß" alone; FTS5's still drops its final "e".
    "german sharp s": ("straße", {"straß"}, {"straße"}),
    # Python's \w excludes combining vowel signs, so Devanagari words split where unicode61 keeps them whole.
    "devanagari": ("हिन्दी", {"द", "न"}, {"नद"}),
}


def _fts5_stems(texts: list[str]) -> list[set[str]]:
    """The terms a real FTS5 table with the shared tokenizer stores for each text."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute(f"CREATE VIRTUAL TABLE sample USING fts5(text, tokenize = '{lexical.FTS5_TOKENIZER}')")
        connection.execute("CREATE VIRTUAL TABLE terms USING fts5vocab(sample, 'instance')")
        connection.executemany("INSERT INTO sample(rowid, text) VALUES (?, ?)", enumerate(texts, start=1))
        return [
            {row[0] for row in connection.execute("SELECT term FROM terms WHERE doc = ?", (rowid,))}
            for rowid in range(1, len(texts) + 1)
        ]
    finally:
        connection.close()


def test_the_tokenizer_is_the_one_the_analyser_mirrors() -> None:
    assert lexical.FTS5_TOKENIZER == "porter unicode61 remove_diacritics 2"


@pytest.mark.parametrize("text", AGREE.values(), ids=AGREE.keys())
def test_fts5_and_the_analyser_make_the_same_stems(text: str) -> None:
    (stored,) = _fts5_stems([text])
    assert stored, "the sample must give FTS5 something to index"
    assert stored == set(lexical.stems(text))


def test_the_sample_covers_what_it_claims() -> None:
    """The agreeing sample really holds what its names say (else a test above could pass vacuously)."""
    joined = "".join(AGREE.values())
    for needle in ("é", "\u0301", "'", "’", "2015", "-", "東", "🎉", "_"):
        assert needle in joined, needle


@pytest.mark.parametrize(("text", "fts5_only", "python_only"), KNOWN_DIFFERENCES.values(), ids=KNOWN_DIFFERENCES.keys())
def test_each_known_difference_is_exactly_as_listed(text: str, fts5_only: set[str], python_only: set[str]) -> None:
    (stored,) = _fts5_stems([text])
    analysed = set(lexical.stems(text))
    assert (stored - analysed, analysed - stored) == (fts5_only, python_only)


def test_a_library_s_full_text_index_is_built_with_the_shared_tokenizer(hashing_library: Library) -> None:
    with sqlite3.connect(Path(hashing_library.path) / "library.sqlite3") as connection:
        (schema,) = connection.execute("SELECT sql FROM sqlite_master WHERE name = 'chunk_text'").fetchone()
    assert f"tokenize = '{lexical.FTS5_TOKENIZER}'" in schema
