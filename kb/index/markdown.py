"""The one Markdown parser: CommonMark with tables and YAML front matter, as tokens."""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin


@lru_cache(maxsize=1)
def markdown_parser() -> MarkdownIt:
    return MarkdownIt("commonmark").use(front_matter_plugin).enable("table")


def parse(text: str) -> list[Token]:
    return markdown_parser().parse(text)


def inline_plain_text(inline: Token) -> str:
    """The readable text of an inline token: emphasis and link markup dropped, breaks as spaces."""
    parts: list[str] = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return " ".join("".join(parts).split())
