"""The one Markdown parser: CommonMark with tables and YAML front matter, as tokens."""

from __future__ import annotations

from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

# markdown-it stops reading blocks nested deeper than this and silently drops the rest of the
# document; the loader rejects documents that come near it (see documents.MAX_NESTING).
MAX_PARSER_NESTING = 20

ASKED_AS = "Also asked as:"  # a paragraph listing how people ask a section's question (indexed, never quoted)


@lru_cache(maxsize=1)
def markdown_parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"maxNesting": MAX_PARSER_NESTING}).use(front_matter_plugin).enable("table")


@lru_cache(maxsize=1)
def body_parser() -> MarkdownIt:
    """The same parser without front matter: a body whose first line is '---' is a thematic break."""
    return MarkdownIt("commonmark", {"maxNesting": MAX_PARSER_NESTING}).enable("table")


def parse(text: str) -> list[Token]:
    """Tokens of a whole file; a leading '---' block is front matter."""
    return markdown_parser().parse(text)


def parse_body(text: str) -> list[Token]:
    """Tokens of a document body (the text after its front matter)."""
    return body_parser().parse(text)


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


def asked_as_phrasings(paragraph: str) -> list[str] | None:
    """The phrasings of an 'Also asked as: one; two; three' paragraph, or None for any other text."""
    if not paragraph.startswith(ASKED_AS):
        return None
    return [p.strip() for p in paragraph[len(ASKED_AS) :].split(";") if p.strip()]
