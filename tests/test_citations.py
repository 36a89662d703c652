"""The citation under a quote names the article's date and author in every front end."""

from __future__ import annotations

from rich.console import Console

from bot.formatting import answer_to_html, answer_to_rich, answer_to_text, citation_details
from index.models import Answer, Quote


def dated_answer(date: str | None, author: str | None, url: str | None = None) -> Answer:
    text = "Tickets for a couchette start at 59 euros."
    quote = Quote(
        text=text,
        start=10,
        end=10 + len(text),
        article_id="abc",
        title="Night trains return",
        source="trains.html",
        url=url,
        score=0.9,
        date=date,
        author=author,
    )
    return Answer(question="How much?", found=True, quotes=[quote])


def test_details_write_out_iso_dates_and_skip_what_is_unknown() -> None:
    assert citation_details("2015-09-12", "Clara Hoffmann") == ", 12 Sep 2015, Clara Hoffmann"
    assert citation_details("2015-09-12T08:00:00Z", None) == ", 12 Sep 2015"
    assert citation_details(None, "Clara Hoffmann") == ", Clara Hoffmann"
    assert citation_details("Spring 1999", None) == ", Spring 1999"
    assert citation_details(None, None) == ""


def test_telegram_html_cites_title_date_and_author() -> None:
    [message] = answer_to_html(dated_answer("2015-09-12", "Clara <Hoffmann>", url="https://example.org/t"))
    assert message.endswith(
        '— <a href="https://example.org/t">Night trains return</a>, 12 Sep 2015, Clara &lt;Hoffmann&gt;'
    )


def test_plain_text_and_terminal_cite_title_date_and_author() -> None:
    answer = dated_answer("2015-09-12", "Clara Hoffmann")
    assert (
        answer_to_text(answer).splitlines()[-1] == "  — Night trains return, 12 Sep 2015, Clara Hoffmann (trains.html)"
    )
    console = Console(width=200, record=True, color_system=None)
    console.print(answer_to_rich(answer))
    assert "  — Night trains return, 12 Sep 2015, Clara Hoffmann (trains.html)" in console.export_text()


def test_a_quote_without_date_or_author_is_cited_as_before() -> None:
    assert answer_to_text(dated_answer(None, None)).splitlines()[-1] == "  — Night trains return (trains.html)"
