"""bot.formatting: escaping, splitting under Telegram's limit, and the terminal renderers."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from telegram_emulator import parse_telegram_html

from bot.formatting import (
    NOT_FOUND_HTML,
    NOT_FOUND_TEXT,
    TELEGRAM_MESSAGE_LIMIT,
    answer_to_html,
    answer_to_rich,
    answer_to_text,
    context_to_html,
    escape,
    sources_to_html,
    telegram_length,
)
from index.models import Answer, ArticleSummary, Quote, ShortAnswer

SPECIALS = ["<", ">", "&", "<b>", "</i>", "&amp;", "&lt;", "🙂", "👨‍👩‍👧", '"', "'", "\n", "\r\n", " ", ". ", "“", "é"]


def make_quote(
    text: str,
    *,
    answer: tuple[int, int] | None = None,
    offset: int = 0,
    title: str = "A title",
    url: str | None = None,
) -> Quote:
    short = None
    if answer is not None:
        start, end = answer
        short = ShortAnswer(text=text[start:end], start=offset + start, end=offset + end)
    return Quote(
        text=text,
        start=offset,
        end=offset + len(text),
        article_id="a1",
        title=title,
        source="test.txt",
        url=url,
        score=0.5,
        answer=short,
    )


def entity_texts(text: str, entities: list[dict[str, Any]], kind: str) -> list[str]:
    encoded = text.encode("utf-16-le")
    return [
        encoded[2 * entity["offset"] : 2 * (entity["offset"] + entity["length"])].decode("utf-16-le")
        for entity in entities
        if entity["type"] == kind
    ]


def parse_all(messages: list[str], limit: int = TELEGRAM_MESSAGE_LIMIT) -> list[tuple[str, list[dict[str, Any]]]]:
    """Each message as Telegram parses it, checking the length limit on the parsed text."""
    parsed = []
    for message in messages:
        text, entities = parse_telegram_html(message)
        assert text.strip()
        assert telegram_length(text) <= limit
        parsed.append((text, entities))
    return parsed


def test_escape_makes_markup_characters_safe() -> None:
    assert escape("<b>&</i> 🙂") == "&lt;b&gt;&amp;&lt;/i&gt; 🙂"
    text, entities = parse_telegram_html(escape("5 < 6 && <b>x</b>"))
    assert text == "5 < 6 && <b>x</b>" and entities == []


def test_telegram_length_counts_utf16_units() -> None:
    assert telegram_length("abc") == 3
    assert telegram_length("🙂") == 2
    assert telegram_length("é") == 1


def test_a_quote_shows_the_short_answer_in_bold_and_links_the_title() -> None:
    sentence = "Hungary is the only NATO country that has not yet approved Sweden’s application."
    quote = make_quote(sentence, answer=(0, 7), offset=100, title="China & <Hungary>", url="https://x.org/?a=1&b=2")
    [message] = answer_to_html(Answer(question="q", found=True, quotes=[quote]))
    text, entities = parse_telegram_html(message)
    assert entity_texts(text, entities, "blockquote") == [sentence]
    assert entity_texts(text, entities, "bold") == ["Hungary"]
    assert entity_texts(text, entities, "text_link") == ["China & <Hungary>"]
    assert [entity["url"] for entity in entities if entity["type"] == "text_link"] == ["https://x.org/?a=1&b=2"]


def test_not_found_has_its_own_message() -> None:
    assert answer_to_html(Answer(question="q", found=False, quotes=[])) == [NOT_FOUND_HTML]
    assert answer_to_text(Answer(question="q", found=False, quotes=[])) == NOT_FOUND_TEXT


def test_quotes_are_packed_into_messages_without_splitting_one() -> None:
    quotes = [make_quote(f"Sentence number {number}. " * 80) for number in range(4)]
    messages = answer_to_html(Answer(question="q", found=True, quotes=quotes))
    assert len(messages) == 2
    blockquotes = [entity_texts(*parsed, "blockquote") for parsed in parse_all(messages)]
    assert blockquotes == [[quotes[0].text, quotes[1].text], [quotes[2].text, quotes[3].text]]


def test_a_quote_longer_than_a_message_is_cut_at_sentence_ends_into_numbered_parts() -> None:
    sentences = [f"This is sentence {number} of a very long quote & it has <tags>. " for number in range(200)]
    text = "".join(sentences)
    quote = make_quote(text, answer=(4000, 4100))
    messages = answer_to_html(Answer(question="q", found=True, quotes=[quote]))
    parsed = parse_all(messages)
    assert len(messages) >= 3
    parts = [entity_texts(*message, "blockquote")[0] for message in parsed]
    assert "".join(parts) == text
    assert all(part.endswith(". ") for part in parts[:-1])
    assert "".join(text for message in parsed for text in entity_texts(*message, "bold")) == text[4000:4100]
    assert all(f"(part {number}/{len(parts)})" in message[0] for number, message in enumerate(parsed, start=1))


def test_a_quote_without_spaces_or_with_emoji_is_cut_hard_but_within_the_limit() -> None:
    for text in ("x" * 9000, "🙂" * 5000):
        messages = answer_to_html(Answer(question="q", found=True, quotes=[make_quote(text, answer=(10, 4500))]))
        parsed = parse_all(messages)
        assert "".join(entity_texts(*message, "blockquote")[0] for message in parsed) == text


def test_context_underlines_the_quote_and_bolds_its_answer() -> None:
    paragraph = "Before it. Hungary is the only one & not <yet>. After it."
    quote = make_quote("Hungary is the only one & not <yet>.", answer=(0, 7), offset=111)
    context = make_quote(paragraph, offset=100)
    [message] = context_to_html(context, quote)
    text, entities = parse_telegram_html(message)
    assert text.startswith("Context:\n")
    assert entity_texts(text, entities, "blockquote") == [paragraph]
    assert entity_texts(text, entities, "underline") == [quote.text]
    assert entity_texts(text, entities, "bold") == ["Hungary"]


def test_sources_pages_are_valid_and_clamped() -> None:
    articles = [
        ArticleSummary(
            id=f"id{number}",
            title=f"Title <{number}> & more " * 30,
            source="x.txt",
            url="https://e.org/?q=<1>&r=2" if number % 2 else None,
            date="2024-01-01",
            chunks=1,
            characters=1234,
        )
        for number in range(25)
    ]
    for page in (-1, 0, 1, 2, 9):
        text, _ = parse_telegram_html(sources_to_html(articles, page=page, per_page=10))
        assert telegram_length(text) <= TELEGRAM_MESSAGE_LIMIT
    last, _ = parse_telegram_html(sources_to_html(articles, page=9, per_page=10))
    assert "page 3 of 3" in last and "id24" in last and "id19" not in last
    assert "No articles yet" in sources_to_html([], page=0, per_page=10)


def test_terminal_renderers_show_the_quote_verbatim_and_the_answer_in_bold() -> None:
    sentence = "Hungary is the only [bold]NATO[/bold] country that has not approved Sweden."
    quote = make_quote(sentence, answer=(0, 7), title="China offers support", url="https://x.org/a")
    answer = Answer(question="q", found=True, quotes=[quote])
    console = Console(record=True, width=200, color_system="truecolor")
    console.print(answer_to_rich(answer))
    shown = console.export_text(clear=False)
    assert sentence in shown and "China offers support" in shown
    assert re.search(r"\x1b\[[0-9;]*1[0-9;]*mHungary\x1b", console.export_text(styles=True))
    plain = answer_to_text(answer)
    assert plain.splitlines()[:2] == ["Answer: Hungary", sentence]
    assert "China offers support (https://x.org/a)" in plain
    not_found = Console(record=True, width=80)
    not_found.print(answer_to_rich(Answer(question="q", found=False, quotes=[])))
    assert not_found.export_text().strip() == NOT_FOUND_TEXT


_pieces = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
    st.sampled_from(SPECIALS),
)
_texts = st.lists(_pieces, min_size=1, max_size=80).map("".join).filter(lambda text: text.strip() != "")


@st.composite
def _quotes(draw: st.DrawFn) -> Quote:
    text = draw(_texts)
    repeat = draw(st.integers(1, 40))
    text = text * repeat
    answer = None
    if draw(st.booleans()):
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start + 1, len(text)))
        answer = (start, end)
    title = draw(st.lists(st.sampled_from([*SPECIALS, "Title", "word"]), max_size=8).map("".join))
    url = draw(st.sampled_from([None, "https://e.org/a?b=1&c=<2>", 'https://e.org/"quoted"']))
    return make_quote(text, answer=answer, offset=draw(st.integers(0, 50)), title=title, url=url)


@settings(max_examples=150, deadline=None)
@given(quotes=st.lists(_quotes(), min_size=1, max_size=5), limit=st.integers(400, TELEGRAM_MESSAGE_LIMIT))
def test_any_answer_renders_to_valid_messages_with_the_quotes_verbatim(quotes: list[Quote], limit: int) -> None:
    messages = answer_to_html(Answer(question="q", found=True, quotes=quotes), limit=limit)
    parsed = parse_all(messages, limit)
    blockquotes = [text for message in parsed for text in entity_texts(*message, "blockquote")]
    assert "".join(blockquotes) == "".join(quote.text for quote in quotes)
    bold = "".join(text for message in parsed for text in entity_texts(*message, "bold"))
    assert bold == "".join(quote.answer.text for quote in quotes if quote.answer is not None)


def test_a_weak_quote_is_introduced_as_possible_and_a_sure_one_is_not() -> None:
    sure = make_quote("Ilse Varga was the first commander.", answer=(0, 10)).model_copy(update={"confidence": 0.91})
    weak = make_quote("The English-language broadcast drew a record audience.").model_copy(
        update={"confidence": 0.21, "weak": True}
    )
    answer = Answer(question="Who won?", found=True, quotes=[sure, weak], confidence=0.91)
    html = "\n".join(answer_to_html(answer))
    assert html.count("Possibly") == 1
    assert html.index("Ilse Varga") < html.index("Possibly") < html.index("English-language")
    text = answer_to_text(answer)
    assert text.splitlines()[0] == "Answer: Ilse Varga"
    assert "Possibly (the articles may not say):\nThe English-language broadcast" in text
    console = Console(width=100, record=True)
    console.print(answer_to_rich(answer))
    shown = console.export_text()
    assert "91% sure" in shown and "21% sure" in shown
    assert shown.index("Possibly") > shown.index("Ilse Varga")
