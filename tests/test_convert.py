"""Conversions that keep what matters and say what they dropped: real HTML pages, Word files written
with python-docx and hand-written PDFs, converted by `kb.convert` and read back as the indexer and the
Ask page read them."""

from __future__ import annotations

import datetime as dt
import io
import struct
import zlib

import pytest
from pdf_files import pdf_file

from kb import convert, editor
from kb.config import Settings
from kb.index.chunker import chunk_document
from kb.index.documents import load_document_bytes
from kb.index.markdown import parse_body
from kb.quoting import quote_spans
from kb.text import split_sentences

docx = pytest.importorskip("docx")
from docx.opc.constants import RELATIONSHIP_TYPE as RT  # noqa: E402
from docx.oxml import OxmlElement  # noqa: E402
from docx.oxml.ns import qn  # noqa: E402

CONTACTS_PAGE = """<!DOCTYPE html>
<html><head><title>Contacts</title></head>
<body>
<h1>Who to call</h1>
<p>Call <a href="tel:03001232224">Somerset Direct</a> in office hours.</p>
<p>The NSPCC helpline is <a href="tel:0808 800 5000">0808 800 5000</a>.</p>
<p>Email <a href="mailto:sdinputters@somerset.gov.uk?subject=Referral">the inputters</a> or read
<a href="https://learning.nspcc.org.uk/safeguarding-checklist">the NSPCC checklist</a>.</p>
<p><a href="javascript:alert('x')">click here</a> and <a href=" JaVa&#x09;script:alert(1)">this</a>.</p>
<p><a href="data:text/html,hi">a data link</a>, <a href="file:///C:/procedures.docx">the file</a>, <a href="vbscript:msgbox">old</a>.</p>
<p><a href="../chapters/referral.html">the referral chapter</a> and <a href="#top">back to the top</a>.</p>
<p><img src="a.png" alt="chart"><img src="b.png"></p>
<iframe src="https://maps.example/embed"></iframe>
</body></html>
"""


# links in HTML


def test_html_links_with_safe_schemes_are_kept_in_words():
    conversion = convert.html_to_markdown(CONTACTS_PAGE)
    body = conversion.markdown
    assert "Call Somerset Direct (03001232224) in office hours." in body, "a tel: link keeps its number"
    assert "The NSPCC helpline is 0808 800 5000." in body, "a number already shown is not written twice"
    assert "Email the inputters (sdinputters@somerset.gov.uk) or read the NSPCC checklist (https://learning.nspcc.org.uk/safeguarding-checklist)." in body
    assert "](" not in body and "tel:" not in body and "mailto:" not in body, "links are written in words, not as Markdown links"


def test_html_links_with_other_schemes_are_kept_as_their_text_and_reported_with_their_line():
    conversion = convert.html_to_markdown(CONTACTS_PAGE)
    body = conversion.markdown
    assert "click here and this." in body
    assert "a data link, the file, old." in body
    assert "the referral chapter and back to the top." in body
    for gone in ("javascript", "alert", "data:", "file:", "vbscript", "chapters/referral"):
        assert gone not in body
    dropped = conversion.dropped
    assert "A link with the scheme javascript: kept as its text only: 'click here' (line 9)" in dropped
    assert "A link with the scheme javascript: kept as its text only: 'this' (line 9)" in dropped, "a scheme hidden by a tab and capitals is still found"
    assert "A link with the scheme data: kept as its text only: 'a data link' (line 10)" in dropped
    assert "A link with the scheme file: kept as its text only: 'the file' (line 10)" in dropped
    assert "A link with the scheme vbscript: kept as its text only: 'old' (line 10)" in dropped
    assert "A link to '../chapters/referral.html' on the original site kept as its text only: 'the referral chapter' (line 11)" in dropped
    assert not any("#top" in line for line in dropped), "a jump within the page loses nothing"
    assert "2 images dropped (line 12)" in dropped
    assert "An embedded page (iframe) dropped (line 13)" in dropped


@pytest.mark.parametrize(
    ("href", "address", "problem"),
    [
        ("TEL:+44 300 123 2224", "+44 300 123 2224", ""),
        ("mailto:sdinputters@somerset.gov.uk", "sdinputters@somerset.gov.uk", ""),
        ("//www.nspcc.org.uk/advice", "https://www.nspcc.org.uk/advice", ""),
        ("https://example.org/a page", "https://example.org/a%20page", ""),
        ("#contacts", "", ""),
        ("java\nscript:alert(1)", "", "the scheme javascript:"),
        ("%6Aavascript:alert(1)", "", "the scheme javascript:"),
        ("tel:javascript:alert(1)", "", "not a phone number"),
        ("mailto:javascript:alert(1)", "", "not an email address"),
        ("https://example.org/" + "a" * 600, "", "address kept as its text only"),
    ],
)
def test_which_link_addresses_are_kept(href, address, problem):
    kept, why = convert.link_address(href)
    assert kept == address
    assert (problem in why) if problem else why == ""


def test_a_converted_phone_link_reaches_the_quoted_answer(tmp_path):
    """The indexer keeps a Markdown link's text only; written in words, the number is indexed and
    quoted verbatim (tests/ui/test_pages.py checks the Ask page makes it a link that calls it)."""
    settings = Settings.from_env(environ={}, corpus_dir=tmp_path, data_dir=tmp_path / "data")
    preview = editor.prepare_upload(settings, "contacts.html", CONTACTS_PAGE.encode())
    text = preview.markdown.replace(editor.SOURCE_URL_PLACEHOLDER, "https://example.org/contacts")
    saved = editor.write_document(settings, preview.name, text)
    doc = load_document_bytes(saved.path.read_bytes(), saved.name)
    passage = next(c.text for c in chunk_document(doc) if "Somerset Direct" in c.text)
    sentence = next(passage[a:b] for a, b in split_sentences(passage) if "Somerset Direct" in passage[a:b])
    assert sentence == "Call Somerset Direct (03001232224) in office hours."
    assert any("03001232224" in passage[a:b] for a, b in quote_spans(passage, {"somerset"}))


def test_a_long_dropped_list_is_cut_short():
    page = "<h1>Links</h1><p>" + " ".join(f'<a href="javascript:n({n})">link {n}</a>' for n in range(30)) + "</p>"
    dropped = convert.html_to_markdown(page).dropped
    assert len(dropped) == convert.MAX_DROPPED_LINES + 1 and dropped[-1] == "… and 10 more like these"


def test_html_link_addresses_in_headings_are_reported_not_written():
    conversion = convert.html_to_markdown('<h1>Private fostering</h1><h2><a href="https://example.org/pf">What is it?</a></h2><p>Text.</p>')
    assert "## What is it?\n" in conversion.markdown
    assert conversion.dropped == ("The address of a link in a heading dropped: 'What is it?' went to 'https://example.org/pf' (line 1)",)


# Word


def word_file(build) -> bytes:
    document = docx.Document()
    build(document)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def add_link(paragraph, url: str, text: str) -> None:
    """A real Word hyperlink (python-docx reads them but has no call to write one)."""
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), paragraph.part.relate_to(url, RT.HYPERLINK, is_external=True))
    run, words = OxmlElement("w:r"), OxmlElement("w:t")
    words.text = text
    run.append(words)
    link.append(run)
    paragraph._p.append(link)


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b"")


def test_word_title_is_the_title_and_heading_1_a_section():
    def build(d):
        d.add_paragraph("Home alone", style="Title")
        d.add_heading("Can a child be left alone?", 1)
        d.add_paragraph("There is no legal minimum age.")
        d.add_heading("What about babies?", 2)
        d.add_paragraph("Never leave a baby alone.")
        d.add_heading("Very deep", 6)

    conversion = convert.docx_to_markdown(word_file(build))
    assert conversion.title == "Home alone"
    assert conversion.markdown == (
        "# Home alone\n\n## Can a child be left alone?\n\nThere is no legal minimum age.\n\n### What about babies?\n\nNever leave a baby alone.\n\n###### Very deep\n"
    )


def test_without_a_title_style_the_first_heading_is_the_title():
    def build(d):
        d.add_heading("Home alone", 1)
        d.add_paragraph("Introduction.")
        d.add_heading("Can a child be left alone?", 1)
        d.add_heading("Babies", 2)

    conversion = convert.docx_to_markdown(word_file(build))
    assert conversion.title == "Home alone"
    assert conversion.markdown == "# Home alone\n\nIntroduction.\n\n## Can a child be left alone?\n\n### Babies\n"
    assert [(h.tag, h.map[0]) for h in parse_body(conversion.markdown) if h.type == "heading_open"] == [("h1", 0), ("h2", 4), ("h3", 6)]


def test_word_bold_and_italic_are_kept_and_stray_asterisks_stay_text():
    def build(d):
        p = d.add_paragraph("Call ")
        p.add_run("999").bold = True
        p.add_run(" if a child is in ")
        p.add_run("immediate").italic = True
        both = p.add_run(" danger")
        both.bold = both.italic = True
        p.add_run(". Footnote* and snake_case and _underlined_ text.")
        q = d.add_paragraph()
        q.add_run("Strong").style = "Strong"
        q.add_run(" and ")
        q.add_run("emphasised").style = "Emphasis"
        r = d.add_paragraph()
        r.add_run("Note:").bold = True
        r.add_run("call first.")  # "**Note:**call" is not emphasis in CommonMark: the closing ** sits between ':' and a letter

    body = convert.docx_to_markdown(word_file(build)).markdown
    first, second, third = body.strip().split("\n\n")
    assert first == "Call **999** if a child is in *immediate* ***danger***. Footnote\\* and snake_case and \\_underlined\\_ text."
    assert second == "**Strong** and *emphasised*"
    assert third == "Note:call first.", "emphasis CommonMark would not read is left out, not shown as asterisks"
    inline = parse_body(first)[1].children
    assert [t.type for t in inline if t.type.endswith("_open")] == ["strong_open", "em_open", "em_open", "strong_open"]
    assert "".join(t.content for t in inline if t.type in ("text", "text_special")) == (
        "Call 999 if a child is in immediate danger. Footnote* and snake_case and _underlined_ text."
    )


def test_a_word_table_becomes_a_pipe_table_that_reads_back_cell_for_cell():
    rows = [["Who", "Telephone", "When"], ["Somerset Direct", "0300 123 2224", "Mon | Fri, 8am to 6pm"], ["EDT", "0300 123 23 27", "Out of hours"]]

    def build(d):
        d.add_heading("Contacts", 0)
        table = d.add_table(rows=3, cols=3)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                table.cell(r, c).text = text
        table.cell(1, 0).paragraphs[0].runs[0].bold = True

    body = convert.docx_to_markdown(word_file(build)).markdown
    assert body == (
        "# Contacts\n\n| Who | Telephone | When |\n| --- | --- | --- |\n"
        "| **Somerset Direct** | 0300 123 2224 | Mon \\| Fri, 8am to 6pm |\n| EDT | 0300 123 23 27 | Out of hours |\n"
    )
    cells, row = [], []
    for token in parse_body(body.split("\n\n", 1)[1]):
        if token.type == "inline":
            row.append("".join(t.content for t in token.children if t.type in ("text", "text_special")))
        elif token.type == "tr_close":
            cells.append(row)
            row = []
    assert cells == rows, "the table reads back as the cells written, the escaped pipe included"


def test_merged_cells_are_written_once_and_reported():
    def build(d):
        table = d.add_table(rows=3, cols=2)
        table.cell(0, 0).text, table.cell(0, 1).text = "Service", "Telephone"
        table.cell(1, 0).merge(table.cell(2, 0)).text = "Somerset Direct"
        table.cell(1, 1).text, table.cell(2, 1).text = "0300 123 2224", "0300 123 23 27"
        wide = d.add_table(rows=2, cols=2)
        wide.cell(0, 0).merge(wide.cell(0, 1)).text = "Out of hours"
        wide.cell(1, 0).text, wide.cell(1, 1).text = "EDT", "0300 123 23 27"

    conversion = convert.docx_to_markdown(word_file(build))
    assert conversion.markdown == (
        "| Service | Telephone |\n| --- | --- |\n| Somerset Direct | 0300 123 2224 |\n|  | 0300 123 23 27 |\n\n| Out of hours |  |\n| --- | --- |\n| EDT | 0300 123 23 27 |\n"
    )
    assert sum("merged cells" in line for line in conversion.dropped) == 2


def test_a_one_cell_table_is_its_paragraphs():
    def build(d):
        box = d.add_table(rows=1, cols=1).cell(0, 0)
        box.text = "In an emergency call 999."
        box.add_paragraph("Then tell your safeguarding lead.")

    assert convert.docx_to_markdown(word_file(build)).markdown == "In an emergency call 999.\n\nThen tell your safeguarding lead.\n"


def test_word_links_are_kept_in_words_or_reported():
    def build(d):
        p = d.add_paragraph("Call ")
        add_link(p, "tel:03001232224", "Somerset Direct")
        p.add_run(", see ")
        add_link(p, "https://www.nspcc.org.uk/", "www.nspcc.org.uk")
        p.add_run(" or ")
        add_link(p, "javascript:alert(1)", "press here")
        p.add_run(".")

    conversion = convert.docx_to_markdown(word_file(build))
    assert conversion.markdown == "Call Somerset Direct (03001232224), see www.nspcc.org.uk or press here.\n"
    assert conversion.dropped == ("A link with the scheme javascript: kept as its text only: 'press here' (in the paragraph 'Call Somerset Direct, see www.nspcc.org.…')",)


def test_what_a_word_file_loses_is_listed(tmp_path):
    image = tmp_path / "dot.png"
    image.write_bytes(tiny_png())

    def build(d):
        d.add_heading("Neglect", 0)
        p = d.add_paragraph("Neglect is the persistent failure to meet a child's basic needs.")
        d.add_picture(str(image))
        d.add_picture(str(image))
        d.add_comment(p.runs[0], text="Check this wording", author="Ann")
        d.sections[0].footer.paragraphs[0].text = "Somerset Council, call 0300 123 2224"
        inserted = OxmlElement("w:ins")
        inserted.set(qn("w:id"), "7")
        inserted.set(qn("w:author"), "Bob")
        run, words = OxmlElement("w:r"), OxmlElement("w:t")
        words.text = " Added later."
        run.append(words)
        inserted.append(run)
        p._p.append(inserted)

    dropped = convert.docx_to_markdown(word_file(build)).dropped
    assert "2 images or drawings dropped" in dropped
    assert "A comment dropped" in dropped
    assert "Text in the page headers or footers dropped ('Somerset Council, call 0300 123 2224'): copy any contact details in it that matter into the text" in dropped
    assert any(line.startswith("1 tracked change not carried over") for line in dropped)


# PDF


def test_pdf_link_addresses_and_images_are_listed():
    stream = b"BT /F1 12 Tf 72 720 Td (Call Somerset Direct for advice.) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> /XObject << /Im1 7 0 R >> >> /Contents 5 0 R /Annots [6 0 R 8 0 R] >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Annot /Subtype /Link /Rect [72 710 300 730] /A << /S /URI /URI (tel:03001232224) >> >>",
        b"<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray /BitsPerComponent 8 /Length 1 >>\nstream\n\x00\nendstream",
        b"<< /Type /Annot /Subtype /Link /Rect [72 690 300 710] /A << /S /URI /URI (javascript:alert(1)) >> >>",
    ]
    conversion = convert.pdf_to_markdown(pdf_file(objects), "advice.pdf")
    assert conversion.markdown == "Call Somerset Direct for advice.\n"
    assert conversion.dropped == (
        "An image dropped (page 1)",
        "A link address dropped (03001232224): add the ones that matter to the text",
    )


# the Editor's preview, and the review date


def test_the_upload_preview_lists_what_was_dropped(tmp_path):
    settings = Settings.from_env(environ={}, corpus_dir=tmp_path, data_dir=tmp_path / "data")
    preview = editor.prepare_upload(settings, "contacts.html", CONTACTS_PAGE.encode())
    assert preview.dropped == convert.html_to_markdown(CONTACTS_PAGE).dropped
    assert len(preview.dropped) == 8
    markdown = editor.prepare_upload(settings, "kites.md", b"# Kites\n\n![a kite](kite.png)\n")
    assert markdown.dropped == (), "a Markdown upload is not converted"


REVIEWED = """---
id: kites
title: Kites
kind: guidance
source_url: https://example.org/kites
last_reviewed: 2026-11-21  # the date the text was last checked
audience: [volunteer]
---

# Kites

Fly them safely.
"""
DAY = dt.date(2026, 12, 2)


def test_with_last_reviewed_rewrites_only_that_field():
    updated = editor.with_last_reviewed(REVIEWED, DAY)
    assert updated == REVIEWED.replace("last_reviewed: 2026-11-21  #", "last_reviewed: 2026-12-02  #")
    assert editor.validate_document("kites.md", updated).last_reviewed == "2026-12-02"
    assert editor.with_last_reviewed(updated, DAY) == updated, "already today: unchanged"
    quoted = REVIEWED.replace("last_reviewed: 2026-11-21", 'last_reviewed: "2026-12-02"')
    assert editor.with_last_reviewed(quoted, DAY) == quoted


def test_with_last_reviewed_fills_an_empty_or_missing_field():
    template = editor.front_matter_template("kites.md", "Kites") + "\n# Kites\n"
    assert "last_reviewed: 2026-12-02  # YYYY-MM-DD" in editor.with_last_reviewed(template, DAY)
    missing = REVIEWED.replace("last_reviewed: 2026-11-21  # the date the text was last checked\n", "")
    assert editor.with_last_reviewed(missing, DAY) == missing.replace("audience: [volunteer]\n", "audience: [volunteer]\nlast_reviewed: 2026-12-02\n")
    body_only = "# Kites\n\nlast_reviewed: 2020-01-01\n"
    assert editor.with_last_reviewed(body_only, DAY) == body_only, "no front matter: nothing to set"
    nested = REVIEWED.replace("audience: [volunteer]", "editor_notes:\n  - last_reviewed: keep this note")
    assert "  - last_reviewed: keep this note" in editor.with_last_reviewed(nested, DAY)
