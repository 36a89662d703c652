"""Markdown into the plain text a person reads, through markdown-it-py (CommonMark with GitHub's tables and
strikethrough): headings and list items each on a line of their own, paragraphs apart, without `#`, list markers,
emphasis or link syntax; link text and code kept, images and raw HTML tags left out. A YAML front matter block
gives the title, date and author when it names them."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MarkdownText", "markdown_text"]

# Front matter opens with a "key:" line; a document that starts with a "---" rule has none.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(?=[\w-]+[ \t]*:)(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_FIELD = re.compile(r"^(title|date|author)\s*:\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)


class MarkdownText:
    """The plain text of a Markdown document, its first heading and its front matter fields."""

    __slots__ = ("fields", "heading", "text")

    def __init__(self, text: str, heading: str, fields: dict[str, str]) -> None:
        self.text = text
        self.heading = heading
        self.fields = fields


def markdown_text(source: str) -> MarkdownText:
    from markdown_it import MarkdownIt

    fields: dict[str, str] = {}
    front = _FRONT_MATTER.match(source)
    if front:
        fields = {key.lower(): value.strip("\"'") for key, value in _FIELD.findall(front.group(1))}
        source = source[front.end() :]
    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    tokens = parser.parse(source)
    blocks: list[str] = []
    row: list[str] = []
    heading = ""
    in_heading = False
    for position, token in enumerate(tokens):
        if token.type == "heading_open":
            in_heading = True
        elif token.type == "inline":
            text = _inline(token.children or [])
            if in_heading and not heading:
                heading = text
            if position and tokens[position - 1].type in ("th_open", "td_open"):
                row.append(text)
            elif text:
                blocks.append(text)
        elif token.type == "heading_close":
            in_heading = False
        elif token.type in ("fence", "code_block"):
            code = token.content.rstrip("\n")
            if code.strip():
                blocks.append(code)
        elif token.type == "html_block":
            text = _without_tags(token.content)
            if text:
                blocks.append(text)
        elif token.type == "tr_close":
            if any(row):
                blocks.append(" | ".join(row))
            row = []
    return MarkdownText("\n\n".join(blocks), heading, fields)


def _inline(children: list[Any]) -> str:
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak" or (child.type == "html_inline" and child.content.lower().startswith("<br")):
            parts.append("\n")
    return re.sub(r"[ \t]+", " ", "".join(parts)).strip()


def _without_tags(html: str) -> str:
    return " ".join(re.sub(r"<[^>]*>", " ", html).split())
