"""Chunking fixtures: each Markdown file beside its expected chunks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb.index.chunker import chunk_document, section_slug
from kb.index.documents import load_document_bytes

FIXTURES = Path(__file__).parent.parent / "fixtures" / "markdown"


def _chunks(path: Path, max_chars: int = 1200):
    doc = load_document_bytes(path.read_bytes(), path.name)
    return doc, chunk_document(doc, max_chars)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.md")), ids=lambda p: p.stem)
def test_chunks_match_expected(path: Path):
    _doc, chunks = _chunks(path)
    actual = [{"id": c.id, "heading_path": list(c.heading_path), "lines": [c.line_start, c.line_end], "text": c.text} for c in chunks]
    assert actual == json.loads(path.with_suffix(".expected.json").read_text())


def test_markdown_of_a_chunk_is_the_exact_source_lines():
    path = FIXTURES / "lists-and-tables.md"
    doc, chunks = _chunks(path)
    lines = path.read_text().split("\n")
    for c in chunks:
        assert c.markdown == "\n".join(lines[c.line_start - 1 : c.line_end]).strip("\n")


def test_long_sections_split_at_paragraphs_with_stable_part_ids():
    paragraphs = "\n\n".join(f"Paragraph {i} " + "about a child protection conference. " * 8 for i in range(12))
    text = f"---\nid: long\ntitle: Long\nkind: guidance\nsource_url: https://example.org\n---\n\n## A long section\n\n{paragraphs}\n".encode()
    doc = load_document_bytes(text, "long.md")
    chunks = chunk_document(doc, max_chars=800)
    assert len(chunks) > 1
    assert chunks[0].id == "long#a-long-section" and chunks[1].id == "long#a-long-section@2"
    assert all(len(c.text) <= 800 for c in chunks)
    assert all(c.section_id == "long#a-long-section" for c in chunks)
    assert "\n".join(c.text for c in chunks) == "\n".join(p.strip() for p in paragraphs.split("\n\n"))
    assert chunk_document(doc, max_chars=800) == chunks


def test_slugs():
    assert section_slug("When should I NOT tell the parents first?") == "when-should-i-not-tell-the-parents-first"
    assert section_slug("Café & co") == "cafe-co"
    assert section_slug("???") == "section"
