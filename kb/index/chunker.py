"""Heading-aware chunking on markdown-it-py tokens.

One chunk per heading section, carrying its heading path and its source line range; a section
longer than the size limit is split at block (paragraph, list, table) boundaries, a block longer
than the limit between its lines (list items, table rows), and a line longer than the limit at a
sentence end or a space, so no chunk's text is longer than the limit. Chunk ids are
stable: `doc_id#section-slug` for a section's first part and `doc_id#section-slug@N` for part N.
The chunk keeps both the exact Markdown source of its lines and a plain-text rendering, which is
what answers quote verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markdown_it.token import Token

from kb.index.documents import SourceDocument
from kb.index.markdown import asked_as_phrasings, inline_plain_text, parse_body
from kb.text import slugify

OVERVIEW_SLUG = "overview"


@dataclass(frozen=True)
class Chunk:
    id: str
    doc_id: str
    section_id: str
    slug: str
    part: int
    heading_path: tuple[str, ...]
    text: str
    markdown: str
    line_start: int
    line_end: int
    doc_meta: dict = field(default_factory=dict, compare=False, hash=False)
    asked_as: tuple[str, ...] = ()  # how people ask this section's question (see ASKED_AS)

    @property
    def section(self) -> str:
        return self.heading_path[-1] if self.heading_path else ""

    def embed_text(self) -> str:
        return embed_text(self.doc_meta.get("title", ""), self.heading_path, self.text)

    def record(self) -> dict:
        """The chunk as stored in a generation's chunk table: its metadata plus its text."""
        return {**self.meta(), "text": self.text}

    def meta(self) -> dict:
        return {
            **self.doc_meta,
            "chunk_id": self.id,
            "section_id": self.section_id,
            "slug": self.slug,
            "part": self.part,
            "section": self.section,
            "heading_path": list(self.heading_path),
            "line_start": self.line_start,
            "line_end": self.line_end,
            "markdown": self.markdown,
            "asked_as": list(self.asked_as),
        }


@dataclass
class _Line:
    text: str
    start: int  # 0-based source line range in the body, of the paragraph, item, row or code line
    end: int  # exclusive


@dataclass
class _Block:
    lines: list[_Line]
    start: int  # 0-based, in the body
    end: int  # exclusive


@dataclass
class _Section:
    heading_path: tuple[str, ...]
    heading_line: int | None
    blocks: list[_Block] = field(default_factory=list)
    asked_as: list[str] = field(default_factory=list)


def embed_text(title: str, heading_path: tuple[str, ...] | list[str], text: str) -> str:
    """What the model embeds for a chunk: where the text sits, then the text."""
    return f"{title} > {' > '.join(heading_path[1:] or heading_path)}\n{text}"


def section_slug(heading: str) -> str:
    return slugify(heading) or "section"


def chunk_document(doc: SourceDocument, max_chars: int = 1200) -> list[Chunk]:
    sections = _sections(doc.body, doc.title)
    body_lines = doc.body.split("\n")
    offset = doc.body_start_line  # 1-based file line of the body's first line
    chunks: list[Chunk] = []
    used_slugs: dict[str, int] = {}
    for section in sections:
        if not section.blocks:
            continue
        base = section_slug(section.heading_path[-1]) if section.heading_line is not None else OVERVIEW_SLUG
        slug = base
        while slug in used_slugs:  # a repeated heading, or one whose own slug ends in "-2"
            used_slugs[base] += 1
            slug = f"{base}-{used_slugs[base]}"
        used_slugs.setdefault(base, 1)
        used_slugs[slug] = used_slugs.get(slug, 1)
        section_id = f"{doc.id}#{slug}"
        for part, blocks in enumerate(_split_blocks(section.blocks, max_chars), start=1):
            start = section.heading_line if (part == 1 and section.heading_line is not None) else blocks[0].start
            end = blocks[-1].end
            chunks.append(
                Chunk(
                    id=section_id if part == 1 else f"{section_id}@{part}",
                    doc_id=doc.id,
                    section_id=section_id,
                    slug=slug,
                    part=part,
                    heading_path=section.heading_path,
                    text="\n".join(line.text for b in blocks for line in b.lines),
                    markdown="\n".join(body_lines[start:end]).strip("\n"),
                    line_start=start + offset,
                    line_end=end - 1 + offset,
                    doc_meta=doc.meta(),
                    asked_as=tuple(section.asked_as),
                )
            )
    return chunks


def _sections(body: str, title: str) -> list[_Section]:
    tokens = parse_body(body)
    sections = [_Section(heading_path=(title,), heading_line=None)]
    stack: list[tuple[int, str]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open" and tok.level == 0:
            depth = int(tok.tag[1])
            text = inline_plain_text(tokens[i + 1])
            stack = [(d, t) for d, t in stack if d < depth] + [(depth, text)]
            path = tuple(t for _, t in stack)
            if stack[0][0] != 1:
                path = (title, *path)
            sections.append(_Section(heading_path=path, heading_line=tok.map[0] if tok.map else 0))
            i += 3
            continue
        end = _block_end(tokens, i)
        lines = _plain_lines(tokens[i:end], tok.map) if tok.map else []
        phrasings = asked_as_phrasings(lines[0].text) if tok.type == "paragraph_open" and len(lines) == 1 else None
        if phrasings is not None:
            sections[-1].asked_as.extend(phrasings)
        elif lines and tok.map:
            sections[-1].blocks.append(_Block(lines=lines, start=tok.map[0], end=tok.map[1]))
        i = end
    return sections


def _block_end(tokens: list[Token], i: int) -> int:
    """Index just past the top-level block that starts at tokens[i]."""
    if tokens[i].nesting != 1:
        return i + 1
    depth = 0
    for j in range(i, len(tokens)):
        depth += tokens[j].nesting
        if depth == 0:
            return j + 1
    return len(tokens)


def _plain_lines(tokens: list[Token], block_map: list[int]) -> list[_Line]:
    """Readable lines of one block: a line per paragraph or list item, a row per table row, each
    with the source lines it comes from."""
    lines: list[_Line] = []
    row: list[str] | None = None
    row_map = block_map
    bullet_pending = False
    for tok in tokens:
        if tok.type == "list_item_open":
            bullet_pending = True
        elif tok.type == "tr_open":
            row = []
            row_map = tok.map or block_map
        elif tok.type == "tr_close" and row is not None:
            lines.append(_Line(" | ".join(row), *_within(row_map, block_map)))
            row = None
        elif tok.type == "inline":
            text = inline_plain_text(tok)
            if row is not None:
                row.append(text)
            elif text:
                lines.append(_Line(f"- {text}" if bullet_pending else text, *_within(tok.map or block_map, block_map)))
                bullet_pending = False
        elif tok.type in ("fence", "code_block"):
            first = (tok.map or block_map)[0] + (1 if tok.type == "fence" else 0)
            for n, line in enumerate(tok.content.rstrip("\n").split("\n")):
                lines.append(_Line(line, *_within([first + n, first + n + 1], block_map)))
    return [line for line in lines if line.text.strip()]


def _within(span: list[int], block_map: list[int]) -> tuple[int, int]:
    """`span` clamped to the block's own lines."""
    start = min(max(span[0], block_map[0]), block_map[1] - 1)
    end = max(min(span[1], block_map[1]), start + 1)
    return start, end


def _split_blocks(blocks: list[_Block], max_chars: int) -> list[list[_Block]]:
    parts: list[list[_Block]] = [[]]
    size = 0
    for block in (piece for b in blocks for piece in _fitting(b, max_chars)):
        block_size = sum(len(line.text) + 1 for line in block.lines)
        if parts[-1] and size + block_size > max_chars:
            parts.append([])
            size = 0
        parts[-1].append(block)
        size += block_size
    return parts


def _fitting(block: _Block, max_chars: int) -> list[_Block]:
    """The block as it is when it fits in `max_chars`, else cut between its lines, and a line
    longer than the limit cut into pieces; every piece keeps the source lines it came from."""
    if sum(len(line.text) + 1 for line in block.lines) <= max_chars + 1:
        return [block]
    pieces: list[_Block] = []
    size = 0
    for line in block.lines:
        for text in _split_line(line.text, max_chars):
            if pieces and size + len(text) + 1 <= max_chars + 1:
                pieces[-1].lines.append(_Line(text, line.start, line.end))
                pieces[-1].end = max(pieces[-1].end, line.end)
                size += len(text) + 1
            else:
                pieces.append(_Block([_Line(text, line.start, line.end)], line.start, line.end))
                size = len(text) + 1
    return pieces


_SENTENCE_END = re.compile(r"[.!?;:][\"')\]]*(?=\s)")


def _split_line(text: str, max_chars: int) -> list[str]:
    """`text` cut into pieces of at most `max_chars`, at the last sentence end that keeps a piece
    at least half full, else at the last space, else mid-word; the cuts drop only whitespace."""
    pieces: list[str] = []
    while len(text) > max_chars:
        window = text[: max_chars + 1]
        ends = [m.end() for m in _SENTENCE_END.finditer(window) if m.end() >= max_chars // 2]
        space = max(window.rfind(" "), window.rfind("\t"))
        cut = ends[-1] if ends else space if space >= max_chars // 4 else max_chars
        piece, text = text[: max(cut, 1)].rstrip(), text[max(cut, 1) :].lstrip()
        if piece:
            pieces.append(piece)
    if text:
        pieces.append(text)
    return pieces
