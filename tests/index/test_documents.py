"""Every bad-input case is reported with the file, the line where it can and the field; the rest load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kb.errors import DocumentError
from kb.index.documents import load_corpus, load_document_bytes

BAD = Path(__file__).parent.parent / "fixtures" / "documents"

CASES = {
    "missing-id.md": ("missing required field 'id'", "id", 2),
    "missing-title.md": ("missing required field 'title'", "title", 2),
    "missing-source-url.md": ("missing required field 'source_url'", "source_url", 2),
    "empty-body.md": ("empty body", None, 7),
    "unknown-kind.md": ("unknown kind 'novel'", "kind", 4),
    "malformed-yaml.md": ("malformed YAML", None, None),
    "not-utf8.md": ("not valid UTF-8", None, 10),
    "binary.md": ("binary file", None, None),
    "no-front-matter.md": ("no front matter", None, 1),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_document_is_reported_with_file_line_and_field(name):
    reason, field, line = CASES[name]
    with pytest.raises(DocumentError) as info:
        load_document_bytes((BAD / name).read_bytes(), name)
    err = info.value
    assert reason in err.reason
    assert err.path == name
    if field:
        assert err.field == field
    if line:
        assert err.line == line


def test_missing_field_line_points_into_front_matter():
    text = b"---\nid: x\ntitle: T\nkind: procedure\nsource_url: ftp://nope\n---\n\nBody.\n"
    with pytest.raises(DocumentError) as info:
        load_document_bytes(text, "x.md")
    assert info.value.line == 5 and info.value.field == "source_url"


def test_bad_documents_are_skipped_and_the_rest_load(small_corpus: Path):
    for name in CASES:
        shutil.copy(BAD / name, small_corpus / name)
    (small_corpus / "notes.pdf").write_bytes(b"%PDF-1.4 binary\x00")
    result = load_corpus(small_corpus)
    assert {d.id for d in result.documents} >= {"head-lice", "responding-to-a-disclosure", "somerset-contacts"}
    reported = {e.path for e in result.errors}
    assert reported == set(CASES) | {"notes.pdf"}


def test_duplicate_ids_keep_the_first_and_name_both_files(small_corpus: Path):
    original = (small_corpus / "head-lice.md").read_text()
    (small_corpus / "zz-copy.md").write_text(original)
    result = load_corpus(small_corpus)
    dup = [e for e in result.errors if e.path == "zz-copy.md"]
    assert dup and "duplicate id 'head-lice'" in dup[0].reason and "head-lice.md" in dup[0].reason
    assert dup[0].line == 2 and dup[0].field == "id"
    assert [d.path for d in result.documents if d.id == "head-lice"] == ["head-lice.md"]


def test_yes_and_dates_in_front_matter_are_read_as_text():
    text = b"---\nid: d\ntitle: T\nkind: guidance\nsource_url: https://example.org\nlast_reviewed: 2026-11-21\n---\n\nBody.\n"
    doc = load_document_bytes(text, "d.md")
    assert doc.last_reviewed == "2026-11-21"
    assert len(doc.version) == 8


def test_scope_must_be_a_list_of_words():
    good = b"---\nid: s\ntitle: T\nkind: guidance\nsource_url: https://example.org\nscope: [Baby, infant]\n---\n\nBody.\n"
    assert load_document_bytes(good, "s.md").scope == ("baby", "infant")
    bad = b"---\nid: s\ntitle: T\nkind: guidance\nsource_url: https://example.org\nscope: {a: 1}\n---\n\nBody.\n"
    with pytest.raises(DocumentError) as info:
        load_document_bytes(bad, "s.md")
    assert info.value.field == "scope" and info.value.line == 6
