"""Sentence splitting in German, French, Spanish and English: BlingFire alone, BlingFire with quotebot's
post-pass (the abbreviations and ordinals it merges back), and pysbd (told each text's language, which quotebot
is not). Prints, per language and in all, how many texts each splits exactly as written.

    python benchmarks/compare_segmenters.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.chunking import sentence_spans

# (language, the sentences of one text): the text is the sentences joined by a space.
CASES: list[tuple[str, list[str]]] = [
    ("de", ["Die Brücke in Köln wurde am 3. Oktober 1990 eröffnet.", "Sie ist 400 m lang."]),
    ("de", ["Das gilt z. B. für alle Brücken am Rhein.", "Andere sind älter."]),
    ("de", ["Das gilt z.B. für alle Brücken.", "Andere sind älter."]),
    ("de", ["Der Dom wurde im 19. Jahrhundert vollendet.", "Er ist 157 m hoch."]),
    ("de", ["Dr. Weber kam am 1. Mai.", "Dann ging er nach Hause."]),
    ("de", ["Es kostet ca. 5 Euro bzw. 6 Dollar.", "Das ist viel."]),
    ("de", ["Sie wohnt in der Hauptstr. 5 in Bonn.", "Das Haus ist alt."]),
    ("de", ["Am 9. November 1989 fiel die Mauer.", "Die Menschen feierten."]),
    ("de", ["Köln ist die 4. größte Stadt Deutschlands.", "Sie liegt am Rhein."]),
    ("de", ["Das Treffen fand vom 2. bis zum 4. März statt.", "Es kamen 300 Gäste."]),
    ("de", ["Er wurde d. h. sofort entlassen.", "Niemand wusste warum."]),
    ("de", ["Die Linie Nr. 7 fährt bis 23 Uhr.", "Danach fahren Nachtbusse."]),
    ("de", ["Prof. Dr. med. Keller operierte.", "Es ging gut."]),
    ("de", ["Der Zug kam um 8 Uhr an.", "Er war pünktlich."]),
    ("de", ["Das Stadion hat 50.000 Plätze.", "Es ist immer voll."]),
    ("fr", ["M. Dupont est arrivé hier à Paris.", "Il est content."]),
    ("fr", ["Mme Martin et Mlle. Roux sont là.", "Elles parlent."]),
    ("fr", ["Le pont a été ouvert le 1er janvier 1900.", "Il est long de 300 m."]),
    ("fr", ["Voir p. ex. le chapitre 3.", "Il explique tout."]),
    ("fr", ["Le musée se trouve av. de la Liberté.", "Il ouvre à 9 h."]),
    ("fr", ["MM. Durand et Petit ont signé.", "Le contrat est valable."]),
    ("fr", ["La tour mesure env. 300 mètres.", "Elle date de 1889."]),
    ("es", ["El Sr. García llegó ayer a Madrid.", "Trajo flores."]),
    ("es", ["La Sra. López y el Dr. Pérez hablaron.", "Luego se fueron."]),
    ("es", ["La Srta. Ruiz vive en la Avda. de América.", "Es profesora."]),
    ("es", ["Dña. Carmen tiene 90 años.", "Vive sola."]),
    ("es", ["Ud. tiene razón.", "Pero no siempre."]),
    ("es", ["El libro tiene aprox. 300 páginas.", "Es largo."]),
    ("es", ["La reunión es el 5 de mayo.", "Habrá café."]),
    ("en", ["Mr. Smith went to Washington.", "He met the U.S. president."]),
    ("en", ["Dr. Jones arrived at 5 p.m. on Friday.", "She was late."]),
    ("en", ["J. R. R. Tolkien wrote the book.", "It was long."]),
    ("en", ["The score was 3.", "Then it rained."]),
    ("en", ["It cost $4.50 in 2019.", "Prices rose."]),
    ("en", ["He lives on Baker St. in London.", "It is a famous street."]),
    ("en", ["The ship left on Sept. 3 for Lisbon.", "It arrived a week later."]),
]


def blingfire_alone(text: str) -> list[str]:
    import blingfire

    _, offsets = blingfire.text_to_sentences_and_offsets(text)
    return [text[start:end].strip() for start, end in offsets]


def quotebot(text: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text)]


def pysbd_told(language: str) -> Callable[[str], list[str]]:
    import pysbd

    segmenter = pysbd.Segmenter(language=language, clean=False)
    return lambda text: [sentence.strip() for sentence in segmenter.segment(text)]


def main() -> None:
    systems: dict[str, Callable[[str, str], list[str]]] = {
        "blingfire": lambda _, text: blingfire_alone(text),
        "blingfire + quotebot post-pass": lambda _, text: quotebot(text),
        "pysbd (language given)": lambda language, text: pysbd_told(language)(text),
    }
    languages = sorted({language for language, _ in CASES})
    for name, split in systems.items():
        right = dict.fromkeys(languages, 0)
        began = time.perf_counter()
        for language, sentences in CASES:
            if split(language, " ".join(sentences)) == sentences:
                right[language] += 1
        elapsed = (time.perf_counter() - began) * 1000
        totals = {language: sum(1 for case in CASES if case[0] == language) for language in languages}
        figures = ", ".join(f"{language} {right[language]}/{totals[language]}" for language in languages)
        print(f"{name:32} {figures}, all {sum(right.values())}/{len(CASES)} ({elapsed:.0f} ms)")


if __name__ == "__main__":
    main()
