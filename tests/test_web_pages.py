"""Web pages with their metadata, and URLs read by what they hold (Content-Type and magic bytes)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_web import MADE
from made_files import two_column_pdf

from index.articles import documents_from_bytes, read_sources
from index.embedding import SentenceTransformerEmbedder
from index.errors import SourceError
from index.library import Library

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Night trains return to Europe | The Rail Courier</title>
<meta property="og:site_name" content="The Rail Courier">
<meta property="og:title" content="Night trains return to Europe">
<meta name="author" content="Clara Hoffmann">
<meta property="article:published_time" content="2015-09-12T08:00:00Z">
</head><body>
<a class="skip-link" href="#main">Skip to content</a>
<header><nav><a href="/">Home</a> <a href="/news">News</a></nav></header>
<main id="main"><article>
<h1>Night trains return to Europe</h1>
<p>By Clara Hoffmann</p>
<p>Share this article</p>
<ul class="share"><li>Facebook</li><li>Twitter</li><li>Email</li></ul>
<p>The first night train between Vienna and Brussels in a decade left on Sunday evening with 300 passengers.</p>
<figure><img src="train.jpg" alt="A sleeper car"><figcaption>The sleeper car at Vienna station.</figcaption></figure>
<div class="caption">Passengers boarding on Sunday. (Photo: ÖBB)</div>
<p>Photo: Jan Berg / Rail Courier</p>
<p>The operator plans to add a connection to Amsterdam next spring, after strong bookings in the first month.</p>
<p>Follow us on Instagram for more rail news.</p>
<p>Tickets for a couchette start at 59 euros, and a private sleeper cabin costs 159 euros.</p>
</article></main>
<footer><p>© 2015 The Rail Courier. All rights reserved.</p></footer>
</body></html>
"""
PAGE_TEXT = "\n".join(
    [
        "Night trains return to Europe",
        "By Clara Hoffmann",
        "The first night train between Vienna and Brussels in a decade left on Sunday evening with 300 passengers.",
        "The operator plans to add a connection to Amsterdam next spring, after strong bookings in the first month.",
        "Tickets for a couchette start at 59 euros, and a private sleeper cabin costs 159 euros.",
    ]
)


def test_a_page_keeps_its_byline_and_metadata_and_drops_captions_and_share_bars() -> None:
    [document] = documents_from_bytes(PAGE.encode(), name="trains.html", source="trains.html")
    assert document.text == PAGE_TEXT
    assert (document.title, document.author, document.date, document.site) == (
        "Night trains return to Europe",
        "Clara Hoffmann",
        "2015-09-12",
        "The Rail Courier",
    )


@pytest.fixture
def made(tmp_path: Path) -> Iterator[dict[str, tuple[bytes, str]]]:
    MADE.clear()
    pdf = two_column_pdf(tmp_path / "report.pdf").path.read_bytes()
    MADE.update(
        {
            "report.pdf": (pdf, "application/pdf"),
            "download": (pdf, "application/octet-stream"),
            "story.html": (PAGE.encode(), "text/html; charset=utf-8"),
            "picture": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "application/octet-stream"),
        }
    )
    yield MADE
    MADE.clear()


@pytest.mark.parametrize("path", ["/made/report.pdf", "/made/download"])
def test_a_pdf_url_is_read_as_a_pdf(web_server: str, made: object, path: str) -> None:
    [document] = read_sources([web_server + path])
    assert document.text.startswith("Low Water on the Rhine\n\nIn the summer of 2024 the level of the Rhine at Kaub")
    assert "%PDF" not in document.text
    assert (document.title, document.author, document.url) == (
        "Low Water on the Rhine",
        "Marta Keller",
        web_server + path,
    )


def test_a_redirect_to_a_pdf_is_followed(web_server: str, made: object) -> None:
    [document] = read_sources([f"{web_server}/redirect?to=/made/report.pdf"])
    assert document.source == f"{web_server}/made/report.pdf"
    assert document.title == "Low Water on the Rhine"


def test_a_page_url_keeps_its_metadata(web_server: str, made: object) -> None:
    [document] = read_sources([f"{web_server}/made/story.html"])
    assert document.text == PAGE_TEXT
    assert (document.author, document.site, document.date) == ("Clara Hoffmann", "The Rail Courier", "2015-09-12")


def test_a_binary_url_is_refused_naming_its_type(web_server: str, made: object) -> None:
    with pytest.raises(SourceError, match=r"'picture' is a binary file \(a PNG image\), not an article"):
        list(read_sources([f"{web_server}/made/picture"]))


def test_the_byte_cap_still_applies_to_a_pdf_url(web_server: str, made: object) -> None:
    from index.fetching import FetchPolicy

    with pytest.raises(SourceError, match=r"is [\d,]+ bytes; the download limit is 1,000 bytes"):
        list(read_sources([f"{web_server}/made/report.pdf"], fetch=FetchPolicy(max_bytes=1000)))


def test_who_wrote_it_is_answered_from_the_byline(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> None:
    with Library.open(tmp_path / "library", embedder=embedder) as library:
        library.add(documents_from_bytes(PAGE.encode(), name="trains.html", source="trains.html"))
        answer = library.ask("How much does a couchette ticket cost?")
    best = answer.quotes[0]
    assert best.text == "Tickets for a couchette start at 59 euros, and a private sleeper cabin costs 159 euros."
    assert (best.date, best.author) == ("2015-09-12", "Clara Hoffmann")


def test_no_library_log_line_reaches_the_terminal(tmp_path: Path, web_server: str, made: object) -> None:
    broken = tmp_path / "broken.html"
    broken.write_bytes(b"<html><body></body></html>")
    script = "import sys; from bot.cli import main; sys.argv = ['quotebot', 'add', *sys.argv[1:]]; main()"
    result = subprocess.run(
        [sys.executable, "-c", script, str(broken), f"{web_server}/made/report.pdf", "--library", str(tmp_path / "l")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[1:] == ["error: 'broken.html' holds no text; check that it is the file you meant"], result.stderr
    assert lines[0].startswith("Creating a new, empty library in ")
