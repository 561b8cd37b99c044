"""The editor's document operations: safe names, upload checks, conversion, validation before writing."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from pdf_files import pdf_file

from kb import editor
from kb.config import Settings
from kb.errors import DocumentError, EditorError, KBError

FIXTURES = Path(__file__).parent / "fixtures" / "editor"

VALID = (Path(__file__).parent / "fixtures" / "editor" / "kite-safety.md").read_text(encoding="utf-8")  # a small valid document


@pytest.fixture
def settings(tmp_path) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    return Settings.from_env(environ={}, corpus_dir=corpus, data_dir=tmp_path / "data")


def corpus_files(settings: Settings) -> list[str]:
    return sorted(p.name for p in Path(settings.corpus_dir).iterdir())


def minimal_pdf(lines: list[str]) -> bytes:
    """A one-page PDF with real text, written by hand (no PDF writer needed)."""
    text = " ".join(f"({line}) Tj 0 -20 Td" for line in lines)
    stream = f"BT /F1 12 Tf 72 720 Td {text} ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    return pdf_file(objects)


# names


@pytest.mark.parametrize(
    "filename",
    ["../../etc/passwd.md", "..\\secrets.md", "/etc/cron.d/job.md", "sub/dir/file.md", "a..b.md", ".hidden.md", ".md", "###.md", ""],
)
def test_unsafe_upload_names_are_refused(settings, filename):
    with pytest.raises(EditorError):
        editor.prepare_upload(settings, filename, VALID.encode())
    assert corpus_files(settings) == []


@pytest.mark.parametrize(
    ("filename", "name"),
    [("My Procedure (v2).MD", "my-procedure-v2.md"), ("École_privée.html", "ecole-privee.md"), ("making-a-referral.docx", "making-a-referral.md")],
)
def test_upload_names_become_lower_case_kebab_names(filename, name):
    assert editor.upload_name(filename) == name


@pytest.mark.parametrize("name", ["../outside.md", "sub/inside.md", "Capital.md", "notes.txt", ".hidden.md", "x.md/", "contacts.yml"])
def test_writes_and_deletes_refuse_names_outside_the_rules(settings, name):
    with pytest.raises(EditorError):
        editor.write_document(settings, name, VALID)
    with pytest.raises(EditorError):
        editor.delete_document(settings, name)
    assert not (Path(settings.corpus_dir).parent / "outside.md").exists()


def test_a_symlink_pointing_outside_the_corpus_is_refused(settings, tmp_path):
    outside = tmp_path / "outside.md"
    outside.write_text("keep me")
    (Path(settings.corpus_dir) / "linked.md").symlink_to(outside)
    with pytest.raises(EditorError, match="outside the corpus"):
        editor.write_document(settings, "linked.md", VALID)
    with pytest.raises(EditorError, match="outside the corpus"):
        editor.delete_document(settings, "linked.md")
    assert outside.read_text() == "keep me"


# size and type


def test_oversize_uploads_are_refused(settings):
    data = b"a" * (editor.MAX_UPLOAD_BYTES + 1)
    with pytest.raises(EditorError, match="the limit is 2 MB"):
        editor.prepare_upload(settings, "big.md", data)


@pytest.mark.parametrize("filename", ["program.exe", "notes.txt", "README", "sheet.xlsx", "old.doc"])
def test_other_file_types_are_refused(settings, filename):
    with pytest.raises(EditorError, match="not accepted"):
        editor.prepare_upload(settings, filename, b"hello")


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("innocent.md", b"\x7fELF\x02\x01\x01\x00\x00\x00binary", "binary"),
        ("innocent.md", b"%PDF-1.4\n%binary pdf", "PDF"),
        ("innocent.html", b"PK\x03\x04zipped", "Word or zip"),
        ("report.pdf", b"<html><body><p>not a pdf</p></body></html>", "not a PDF"),
        ("report.docx", b"PK\x03\x04not really a zip", "not a Word document"),
        ("page.html", b"just words, no tags at all", "no HTML tags"),
    ],
)
def test_content_must_match_the_extension(settings, filename, data, message):
    with pytest.raises(EditorError, match=message):
        editor.prepare_upload(settings, filename, data)


def test_markdown_that_is_not_utf8_is_refused(settings):
    with pytest.raises(DocumentError, match="UTF-8"):
        editor.prepare_upload(settings, "latin.md", "# Caf\u00e9".encode("latin-1"))


# conversion


def test_html_becomes_markdown_headings_paragraphs_and_lists():
    conversion = editor.html_to_markdown((FIXTURES / "procedure-page.html").read_text(encoding="utf-8"))
    assert conversion.title == "Private fostering"
    assert conversion.markdown == (FIXTURES / "procedure-page.expected.md").read_text(encoding="utf-8")


def test_html_upload_gets_a_front_matter_template_that_fails_until_completed(settings):
    preview = editor.prepare_upload(settings, "Private Fostering.html", (FIXTURES / "procedure-page.html").read_bytes())
    assert preview.name == "private-fostering.md" and preview.source_type == "html" and not preview.exists
    assert preview.markdown.startswith('---\nid: private-fostering\ntitle: "Private fostering"\nkind: guidance')
    assert any("source_url" in note for note in preview.notes)
    with pytest.raises(DocumentError) as caught:
        editor.validate_document(preview.name, preview.markdown)
    assert caught.value.field == "source_url" and caught.value.line == 5
    completed = preview.markdown.replace(editor.SOURCE_URL_PLACEHOLDER, "https://example.org/private-fostering")
    doc = editor.validate_document(preview.name, completed)
    assert (doc.id, doc.title, doc.kind) == ("private-fostering", "Private fostering", "guidance")


def test_docx_headings_by_style_lists_and_tables():
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_heading("Home alone", 0)
    document.add_heading("Can a child be left alone?", 2)
    document.add_paragraph("There is no legal minimum age.")
    document.add_paragraph("Think about the child's age", style="List Bullet")
    document.add_paragraph("Think about how long", style="List Bullet")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "NSPCC"
    table.cell(0, 1).text = "0808 800 5000"
    document.add_paragraph("1. Written as a number, not a list.")
    buffer = io.BytesIO()
    document.save(buffer)
    conversion = editor.docx_to_markdown(buffer.getvalue())
    assert conversion.title == "Home alone"
    assert conversion.markdown == (  # the Title is the title, so Heading 2 is a level below the corpus's '## ' sections
        "# Home alone\n\n### Can a child be left alone?\n\nThere is no legal minimum age.\n\n"
        "- Think about the child's age\n- Think about how long\n\n| NSPCC | 0808 800 5000 |\n| --- | --- |\n\n1\\. Written as a number, not a list.\n"
    )
    assert conversion.dropped == ()


def test_pdf_text_becomes_paragraphs_under_a_title(settings):
    pytest.importorskip("pypdf")
    preview = editor.prepare_upload(settings, "Neglect Leaflet.pdf", minimal_pdf(["Neglect is the persistent failure", "to meet a child's basic needs."]))
    assert preview.source_type == "pdf"
    assert "# Neglect leaflet" in preview.markdown
    assert "Neglect is the persistent failure" in preview.markdown
    assert any("no headings" in note for note in preview.notes)


def test_markdown_with_front_matter_is_kept_as_it_is(settings):
    preview = editor.prepare_upload(settings, "kite-safety.md", VALID.encode())
    assert preview.markdown == VALID and not preview.notes


def test_markdown_without_front_matter_gets_the_template(settings):
    preview = editor.prepare_upload(settings, "kites.md", b"# Kites\n\nFly them safely.\n")
    assert preview.markdown.startswith('---\nid: kites\ntitle: "Kites"')
    assert preview.markdown.endswith("# Kites\n\nFly them safely.\n")


# validate, write, delete, list


def test_invalid_documents_are_not_written(settings):
    for text in ("# No front matter\n\nText.\n", VALID.replace("kind: guidance", "kind: leaflet"), VALID.replace("https://example.org/kites", editor.SOURCE_URL_PLACEHOLDER)):
        with pytest.raises(DocumentError):
            editor.write_document(settings, "kite-safety.md", text)
    assert corpus_files(settings) == []


def test_write_is_atomic_and_reports_a_replacement(settings):
    saved = editor.write_document(settings, "kite-safety.md", VALID)
    assert (saved.name, saved.doc_id, saved.replaced) == ("kite-safety.md", "kite-safety", False)
    assert saved.path.read_text(encoding="utf-8") == VALID
    again = editor.write_document(settings, "kite-safety.md", VALID.replace("every kite line", "each kite line").replace("\n", "\r\n"))
    assert again.replaced
    assert "each kite line" in again.path.read_text(encoding="utf-8") and "\r" not in again.path.read_text(encoding="utf-8")
    assert corpus_files(settings) == ["kite-safety.md"], "no temporary files are left behind"
    assert oct(os.stat(again.path).st_mode & 0o777) == "0o644"


def test_an_id_already_used_by_another_file_is_refused(settings):
    editor.write_document(settings, "kite-safety.md", VALID)
    with pytest.raises(DocumentError, match="already used by kite-safety.md"):
        editor.write_document(settings, "kites-again.md", VALID)
    assert corpus_files(settings) == ["kite-safety.md"]


def test_save_upload_writes_a_complete_markdown_upload(settings):
    saved = editor.save_upload(settings, "Kite Safety.md", VALID.encode())
    assert saved.name == "kite-safety.md" and saved.path.exists()
    with pytest.raises(DocumentError):
        editor.save_upload(settings, "page.html", (FIXTURES / "procedure-page.html").read_bytes())


def test_delete_and_list_documents(settings):
    editor.write_document(settings, "kite-safety.md", VALID)
    (Path(settings.corpus_dir) / "broken.md").write_text("no front matter\n")
    (Path(settings.corpus_dir) / ".draft.md").write_text("hidden")
    listed = {d.name: d for d in editor.list_documents(settings)}
    assert set(listed) == {"kite-safety.md", "broken.md"}
    assert listed["kite-safety.md"].valid and listed["kite-safety.md"].title == "Kite safety at youth clubs"
    assert not listed["broken.md"].valid and "front matter" in listed["broken.md"].error
    editor.delete_document(settings, "kite-safety.md")
    assert corpus_files(settings) == [".draft.md", "broken.md"]
    with pytest.raises(EditorError, match="no document"):
        editor.delete_document(settings, "kite-safety.md")


def test_the_contacts_file_can_be_edited_but_not_deleted(settings):
    (Path(settings.corpus_dir) / "contacts.yaml").write_text("contacts: []\n")
    with pytest.raises(EditorError, match="edit it instead"):
        editor.delete_document(settings, "contacts.yaml")
    with pytest.raises(DocumentError, match="contacts"):
        editor.write_document(settings, "contacts.yaml", "---\nid: c\n---\n")


def test_every_editor_error_is_a_kb_error():
    assert issubclass(EditorError, KBError)
