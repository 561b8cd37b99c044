"""Uploaded files turned into Markdown: type detection, text decoding, and the HTML, Word and PDF converters.

An upload's type is checked by its extension and by its content (a mismatch is refused); Markdown
and HTML text is decoded from UTF-8, UTF-16/32 with a byte-order mark, or an HTML page's declared
single-byte character set; HTML, DOCX and PDF become a `Conversion`: a title, a Markdown body whose text is escaped (so
nothing in a file's words can become raw HTML or a link in the Markdown), and a list of what did not
carry over (images, embedded objects, link addresses that were not web, email or phone addresses),
for the editor to check before saving.

Links are written in words, not as Markdown links: `Somerset Direct (03001232224)`, `the NSPCC
guidance (https://...)`. The indexer keeps only a link's text (`kb.index.markdown.inline_plain_text`),
so a Markdown link's address, a phone number above all, would never reach a quoted answer; written
in words it is quoted, searched, and shown as a tap-to-call link by the Ask page, the way the corpus
already writes "Somerset Direct on 0300 123 2224". Word's bold and italic become `**` and `*`, its
tables pipe tables, and its Title (or first heading) the `# ` title, with Heading 1 as `## `.

Uploads are untrusted: a Word file's zip directory is checked before anything is unpacked (a "zip
bomb" is refused from its declared sizes, and no part is ever read past its declared size), HTML is
parsed by lxml's C parser (linear time on malformed input, unlike `html.parser` on Python 3.11), PDF
reading runs under tighter pypdf limits with a page and content budget, and every parser error
becomes an `EditorError` naming the file and what would be accepted.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import re
import urllib.parse
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kb.errors import EditorError
from kb.index.documents import decode_text
from kb.index.markdown import body_parser

MB = 1024 * 1024
UPLOAD_TYPES = ("md", "html", "htm", "docx", "pdf")
ACCEPTED = "Markdown (.md), HTML (.html, .htm), Word (.docx) or PDF (.pdf)"

# A Word file is a zip; these are checked from its directory before any part is unpacked.
MAX_DOCX_PARTS = 1000  # Word writes a few dozen; thousands only come from a made-up file
MAX_DOCX_UNPACKED_BYTES = 16 * MB  # all parts together, images included
MAX_DOCX_RATIO = 100  # unpacked / packed size of one part: Word's XML packs 5-30 times, a zip bomb about 1000
DOCX_RATIO_CHECKED_FROM = 64 * 1024  # smaller parts may pack tighter, and cannot hurt

MAX_PDF_PAGES = 1000
MAX_PDF_CONTENT_BYTES = 4 * MB  # the pages' decoded drawing instructions, all pages together (text pages use 5-20 KB each)
# pypdf's text extraction takes about 16 microseconds per drawing operation, so 4 MB of one-letter
# operations ("(a) Tj ") would take 9 seconds. Operations are counted, cheaply, by the separators
# between them: a page of text has a few hundred, an attack hundreds of thousands.
MAX_PDF_CONTENT_TOKENS = 300_000
PDF_SEPARATORS = tuple(bytes([c]) for c in b" \n\r\t\f\x00()<>[]{}/%")
PDF_LIMITS = {  # tighter than pypdf's defaults (75 MB per stream, 2 million tokens): a 2 MB upload needs far less
    "maximum_declared_stream_length": 16 * MB,
    "zlib_maximum_output_length": 16 * MB,
    "lzw_maximum_output_length": 16 * MB,
    "run_length_maximum_output_length": 16 * MB,
    "array_based_stream_maximum_output_length": 16 * MB,
    "stream_parsing_work_maximum_count": 1_000_000,
    "xform_maximum_invocations_per_extraction": 200,
    "page_tree_maximum_entries": MAX_PDF_PAGES * 2,
    "jbig2dec_binary": None,  # never run an outside program on an upload
}

HTML_CHARSETS = {"utf-8", "ascii", "cp1252", "iso8859-1", "iso8859-15"}  # single-byte or UTF-8: decoding is linear
TEXT_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")  # tab, line breaks and form feed are text

LINK_SCHEMES = ("https", "http", "mailto", "tel")  # kept, in words; any other scheme is dropped and reported
MAX_LINK_ADDRESS_CHARS = 500  # a longer address is not one a reader can use
SHOWN_PLACES = 5  # places named for a kind of thing dropped ("lines 12, 30, 41...")
MAX_DROPPED_LINES = 20  # one-per-item lines (links) listed before the rest are counted


@dataclass(frozen=True)
class Conversion:
    """An upload converted to Markdown: its title, the Markdown body, and what did not carry over
    (one line each, e.g. "2 images dropped (lines 12, 30)"), for the editor to check."""

    title: str
    markdown: str
    dropped: tuple[str, ...] = ()


# What did not carry over, by kind: (one, several, what the editor can do about it).
DROPPED_KINDS = {
    "image": ("an image", "images", ""),
    "drawing": ("an image or drawing", "images or drawings", ""),
    "embedded": ("an embedded object", "embedded objects", ""),
    "frame": ("an embedded page (iframe)", "embedded pages (iframes)", ""),
    "video": ("a video or sound clip", "videos or sound clips", ""),
    "form": ("a form", "forms", ""),
    "nav": ("the page's navigation menu", "navigation menus", ""),
    "footer": ("the page footer", "page footers", ": copy any phone numbers or addresses in it that matter into the text"),
    "svg": ("a drawing (SVG)", "drawings (SVG)", ""),
    "math": ("a formula", "formulas", ""),
    "text box": ("the text in a text box", "the text in text boxes", ": copy it into the document's text if it matters"),
    "content control": ("a content control (such as a cover page or contents list)", "content controls (such as a cover page or contents list)", ""),
    "footnote": ("a footnote", "footnotes", ": copy any that matter into the text"),
    "endnote": ("an endnote", "endnotes", ": copy any that matter into the text"),
    "comment": ("a comment", "comments", ""),
    "pdf link": ("a link address", "link addresses", ": add the ones that matter to the text"),
}


# type detection


def upload_extension(filename: str) -> str:
    """The upload's extension, lower case without the dot, refused unless it is one of UPLOAD_TYPES."""
    ext = Path(str(filename or "").strip()).suffix.lower().lstrip(".")
    if ext not in UPLOAD_TYPES:
        raise EditorError(f"{quoted_name(str(filename or ''))}: file type {('.' + ext) if ext else '(none)'!r} is not accepted: upload {ACCEPTED}")
    return ext


def detect_type(filename: str, data: bytes) -> str:
    """The upload's type, checked by its extension and by its content; a mismatch is refused."""
    shown = quoted_name(str(filename))
    ext = upload_extension(filename)
    looks_pdf = b"%PDF-" in data[:1024]
    looks_zip = data.startswith(b"PK\x03\x04")
    if ext == "pdf":
        if not looks_pdf:
            raise EditorError(f"{shown} is named .pdf but is not a PDF file (it does not start with '%PDF-'): upload the PDF itself, or a saved web page as .html")
        return "pdf"
    if ext == "docx":
        if not looks_zip or not _zip_has(data, "word/document.xml"):
            raise EditorError(f"{shown} is named .docx but is not a Word document (an old .doc file? open it in Word and save it as .docx)")
        return "docx"
    if looks_pdf or looks_zip:
        kind = "a PDF" if looks_pdf else "a Word or zip"
        raise EditorError(f"{shown} is named .{ext} but is {kind} file: upload it with its real extension (.pdf or .docx)")
    text = upload_text(data, str(filename), ext)
    if ext in ("html", "htm"):
        if not re.search(r"<\s*(?:!doctype\s+html|html|head|body|p|h[1-6]|div|ul|ol|table|section|article|main)\b", text, re.IGNORECASE):
            raise EditorError(f"{shown} is named .{ext} but has no HTML tags in it: upload it as Markdown (.md), or save the web page as HTML")
        return "html"
    return "md"


def _zip_has(data: bytes, member: str) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return member in zf.namelist()
    except zipfile.BadZipFile:
        return False


# text decoding


def upload_text(data: bytes, filename: str, ext: str) -> str:
    """An uploaded Markdown or HTML file's text: UTF-8 (or UTF-16/32 with a byte-order mark), with
    no control characters; binary files and UTF-16 without a byte-order mark are refused."""
    shown = quoted_name(filename)
    codec = next((codec for bom, codec in TEXT_BOMS if data.startswith(bom)), None)
    if codec:
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as exc:
            raise EditorError(f"{shown} starts with a {codec.upper()} marker but is not valid {codec.upper()} text: save it as UTF-8") from exc
    elif b"\x00" in data:
        if _looks_utf16(data):
            raise EditorError(f"{shown} is UTF-16 text without a byte-order mark: save it as UTF-8 (in Notepad: File, Save as, Encoding UTF-8)")
        raise EditorError(f"{shown} is named .{ext} but is a binary file, not text: upload {ACCEPTED}, each with its real extension")
    elif ext == "md":
        text = decode_text(data, filename)
    else:
        text = _decode_html(data, filename)
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    control = CONTROL_CHARACTER.search(text)
    if control:
        line = text.count("\n", 0, control.start()) + 1
        raise EditorError(f"{shown} has a control character ({control.group()!r}) on line {line}, so it is not a text document: upload {ACCEPTED}, saved as UTF-8 text")
    return text


def _looks_utf16(data: bytes) -> bool:
    """Mostly ASCII UTF-16 text: every other byte is zero, and only those."""
    head = data[:4096]
    even, odd = head[0::2], head[1::2]
    if len(odd) < 2:
        return False
    for zeros, others in ((odd, even), (even, odd)):
        if zeros.count(0) >= 0.9 * len(zeros) and others.count(0) <= 0.1 * len(others):
            return True
    return False


def _decode_html(data: bytes, filename: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    m = re.search(rb"charset=[\"']?([A-Za-z0-9_-]+)", data[:2048])
    declared = m.group(1).decode("ascii") if m else "windows-1252"
    try:
        codec = codecs.lookup(declared).name
    except LookupError:
        codec = ""
    if codec not in HTML_CHARSETS:
        raise EditorError(f"{quoted_name(filename)} is not UTF-8, and its character set {declared!r} is not accepted: save it as UTF-8 (or Windows-1252 or ISO-8859-1)")
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise EditorError(f"{quoted_name(filename)} is not valid {declared} text (byte {exc.start}): save it as UTF-8") from exc


# HTML


class _MarkdownFromHTML:
    """Headings, paragraphs, lists, quotes and table rows of an HTML page, as Markdown blocks.

    Fed start tags, end tags and text in document order (by `html_to_markdown`, from lxml's tree);
    text is escaped, so nothing in the page's words can become HTML or a link in the Markdown. A
    link's web, email or phone address is written after its text; what is left out is counted in
    `found` (kind -> lines) and `dropped` (one line per link).
    """

    # Elements whose content is not the page's text. Empty elements (embed, img, frame...) are not
    # listed: libxml2 may nest the rest of the page inside one, and skipping it would lose the page.
    SKIP = {"script", "style", "noscript", "template", "svg", "math", "nav", "footer", "form", "button", "iframe", "frameset", "object", "applet", "select", "head"}
    BLOCKS = {"p", "div", "section", "article", "main", "header", "aside", "pre", "dd", "dt", "figcaption", "address", "caption"}
    REPORTED = {  # tag -> kind in DROPPED_KINDS, for what a reader of the page would miss
        "img": "image", "embed": "embedded", "object": "embedded", "applet": "embedded", "iframe": "frame", "frameset": "frame",
        "video": "video", "audio": "video", "form": "form", "nav": "nav", "footer": "footer", "svg": "svg", "math": "math",
    }  # fmt: skip

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.title = ""
        self._text: list[str] = []
        self._prefix = ""
        self._skip = 0
        self._in_title = False
        self._lists: list[list] = []  # per open list: [ordered, counter]
        self._cells: list[str] | None = None
        self._quote = 0
        self._group: list[str] | None = None  # the lines of the list or table being read, one block
        self._group_depth = 0
        self.found: dict[str, list[int]] = {}
        self.dropped: list[str] = []
        self._links: list[tuple[int, int, str | None, int]] = []  # open links: (flushes then, start in _text, href, line)
        self._flushes = 0

    def handle_starttag(self, tag: str, attrs, line: int = 0) -> None:
        if tag == "title":
            self._in_title = True
            return
        if self._skip:
            self._skip += tag in self.SKIP
            return
        if tag in self.REPORTED:
            self.found.setdefault(self.REPORTED[tag], []).append(line)
        if tag in self.SKIP:
            self._skip += 1
            return
        if tag == "a":
            self._links.append((self._flushes, len(self._text), dict(attrs).get("href"), line))
        elif re.fullmatch(r"h[1-6]", tag):
            self._flush()
            self._prefix = "#" * int(tag[1]) + " "
        elif tag in ("ul", "ol"):
            self._flush()
            self._open_group()
            self._lists.append([tag == "ol", 0])
        elif tag == "li":
            self._flush()
            indent = "   " * max(len(self._lists) - 1, 0)
            if self._lists and self._lists[-1][0]:
                self._lists[-1][1] += 1
                self._prefix = f"{indent}{self._lists[-1][1]}. "
            else:
                self._prefix = f"{indent}- "
        elif tag == "br":
            self._text.append("\n")
        elif tag == "blockquote":
            self._flush()
            self._quote += 1
        elif tag == "table":
            self._flush()
            self._open_group()
        elif tag == "tr":
            self._flush()
            self._cells = []
        elif tag in ("td", "th") and self._cells is not None:
            self._flush_cell()
        elif tag in self.BLOCKS:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
            return
        if tag in self.SKIP:
            self._skip = max(self._skip - 1, 0)
            return
        if self._skip:
            return
        if tag == "a" and self._links:
            self._end_link(*self._links.pop())
        elif tag in ("td", "th") and self._cells is not None:
            self._flush_cell()
        elif tag == "tr" and self._cells is not None:
            self._flush_cell()
            cells = [c for c in self._cells if c]
            self._cells = None
            if cells:
                self._emit("- " + "; ".join(cells))
        elif tag in ("ul", "ol"):
            self._flush()
            if self._lists:
                self._lists.pop()
            self._close_group()
        elif tag == "table":
            self._flush()
            self._close_group()
        elif tag == "blockquote":
            self._flush()
            self._quote = max(self._quote - 1, 0)
        elif re.fullmatch(r"h[1-6]", tag) or tag == "li" or tag in self.BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self._text.append(data)

    def _end_link(self, flushes: int, start: int, href: str | None, line: int) -> None:
        """Write the link's address after its text, or report why it was left out."""
        if href is None:  # an anchor to jump to, not a link
            return
        if flushes != self._flushes:  # the link spans blocks: its text so far in this block
            start = 0
        words = " ".join("".join(self._text[start:]).split())
        address, problem = link_address(href)
        if problem:
            self.dropped.append(f"{problem}: {_link_words(words)} (line {line})")
        elif address and self._prefix.startswith("#"):
            self.dropped.append(f"The address of a link in a heading dropped: {_link_words(words)} went to {quoted_snippet(address, 80)} (line {line})")
        elif address and not _says_address(words, address):
            self._text.append(f" ({address})" if words else address)

    def _flush_cell(self) -> None:
        self._flushes += 1
        text = escape_inline(" ".join("".join(self._text).split()))
        self._text = []
        if text and self._cells is not None:
            self._cells.append(text)

    def _flush(self) -> None:
        self._flushes += 1
        if self._cells is not None:
            self._flush_cell()
            return
        raw = "".join(self._text)
        self._text = []
        text = " ".join(raw.split())
        prefix, self._prefix = self._prefix, ""
        if not text:
            return
        if prefix.startswith("#"):
            text = escape_inline(text.replace("#", "").strip() or text)
        else:
            text = _escape_block_start(escape_inline(text))
        block = prefix + text
        self._emit(block)

    def _emit(self, block: str) -> None:
        if self._group is not None:
            self._group.append(block)
            return
        if self._quote:
            block = "\n".join("> " + line for line in block.split("\n"))
        self.blocks.append(block)

    def _open_group(self) -> None:
        self._group_depth += 1
        if self._group is None:
            self._group = []

    def _close_group(self) -> None:
        self._group_depth = max(self._group_depth - 1, 0)
        if self._group_depth == 0 and self._group is not None:
            lines, self._group = self._group, None
            if lines:
                self._emit("\n".join(lines))

    def close(self) -> None:
        self._flush()
        self._group_depth = 1
        self._close_group()


def html_to_markdown(text: str) -> Conversion:
    """An HTML page's title, Markdown body and what did not carry over.

    The page is parsed by lxml (libxml2's HTML parser: linear time however malformed the page, no
    network, comments and processing instructions dropped) and its tree walked in document order.
    """
    from lxml import etree
    from lxml import html as lxml_html

    parser = lxml_html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True)
    try:
        root = lxml_html.document_fromstring(text.encode("utf-8"), parser=parser)
    except (etree.LxmlError, ValueError) as exc:  # an empty page, or nothing lxml can make a tree of
        raise EditorError(f"the HTML page has no headings, paragraphs or lists to convert ({exc})") from exc
    converter = _MarkdownFromHTML()
    for event, element in etree.iterwalk(root, events=("start", "end")):
        is_tag = isinstance(element.tag, str)  # not a comment or an entity left in the tree
        if event == "start":
            if is_tag:
                converter.handle_starttag(element.tag.lower(), list(element.attrib.items()), element.sourceline or 0)
                if element.text:
                    converter.handle_data(element.text)
            continue
        if is_tag:
            converter.handle_endtag(element.tag.lower())
        if element.tail:
            converter.handle_data(element.tail)
    converter.close()
    body = "\n\n".join(converter.blocks).strip()
    if not body:
        raise EditorError("the HTML page has no headings, paragraphs or lists to convert")
    title = plain_title(first_heading(body)) or " ".join(converter.title.split())
    dropped = [_dropped_line(kind, len(lines), [f"{n}" for n in lines if n]) for kind, lines in converter.found.items()]
    return Conversion(title, body + "\n", tuple(dropped + _capped(converter.dropped)))


def link_address(href: str) -> tuple[str, str]:
    """A link's address as it is written after the link's text, and why it is not: ("", reason).

    Web, email and phone addresses are kept (an email or phone address without its "mailto:" or
    "tel:"); a jump within the page ("#section") is left out silently; any other scheme
    (javascript:, data:, file:...) and addresses relative to the original site are left out and
    reported. Schemes are read as a browser reads them, ignoring spaces, control characters and
    percent-escapes.
    """
    href = str(href or "").strip()
    plain = re.sub(r"[\x00-\x20\x7f]+", "", urllib.parse.unquote(href)).lower()
    scheme = re.match(r"^([a-z][a-z0-9+.-]*):", plain)
    if not plain or plain.startswith("#"):
        return "", ""
    if scheme is None:
        if plain.startswith("//"):
            return link_address("https:" + href)
        return "", f"A link to {quoted_snippet(href)} on the original site kept as its text only"
    name = scheme.group(1)
    if name not in LINK_SCHEMES:
        return "", f"A link with the scheme {name}: kept as its text only"
    if len(href) > MAX_LINK_ADDRESS_CHARS:
        return "", f"A link with a {len(href):,}-character address kept as its text only"
    if name in ("tel", "mailto"):
        address = urllib.parse.unquote(href.split(":", 1)[1].split("?", 1)[0]).strip().removeprefix("//")
    else:
        address = href
    address = re.sub(r"\s+", "%20" if name in ("http", "https") else " ", CONTROL_CHARACTER.sub("", address)).strip()
    if name == "tel" and not re.fullmatch(r"\+?[\d\s().-]{3,}", address):
        return "", "A tel: link that is not a phone number kept as its text only"
    if name == "mailto" and not re.fullmatch(r"[^\s@<>()\[\]:;,]+@[^\s@<>()\[\]:;,]+", address):
        return "", "A mailto: link that is not an email address kept as its text only"
    return address, ""


def _says_address(words: str, address: str) -> bool:
    """The link's text already shows its address (so it is not written twice)."""
    if re.fullmatch(r"\+?[\d\s().-]+", address):  # a phone number: the same digits, 0 or +44
        digits = re.sub(r"\D", "", address)
        shown = re.sub(r"\D", "", words)
        return bool(digits) and (digits in shown or re.sub(r"^44", "0", digits) in shown)
    bare = re.sub(r"^[a-z]+://(?:www\.)?", "", address.lower()).rstrip("/")
    return address.lower() in words.lower() or (bool(bare) and bare in words.lower())


def _capped(lines: list[str]) -> list[str]:
    """At most MAX_DROPPED_LINES lines, the rest counted in one more."""
    if len(lines) <= MAX_DROPPED_LINES:
        return lines
    return lines[:MAX_DROPPED_LINES] + [f"… and {len(lines) - MAX_DROPPED_LINES:,} more like these"]


def _link_words(words: str) -> str:
    return quoted_snippet(words) if words else "(no text)"


def _dropped_line(kind: str, count: int, places: Iterable[str] = (), where: str = "line") -> str:
    """ "2 images dropped (lines 12, 30)": one line of the dropped list."""
    one, several, advice = DROPPED_KINDS[kind]
    places = list(dict.fromkeys(places))
    shown = ", ".join(places[:SHOWN_PLACES]) + (", …" if len(places) > SHOWN_PLACES else "")
    label = f"{where}{'s' if len(places) > 1 else ''} " if where else ""
    at = f" ({label}{shown})" if places else ""
    what = one if count == 1 else f"{count} {several}"
    return f"{what[0].upper()}{what[1:]} dropped{at}{advice}"


# Word


def docx_to_markdown(data: bytes, filename: str = "document.docx") -> Conversion:
    """A Word document's title, Markdown body and what did not carry over.

    Headings by paragraph style: the Title (or, without one, the first heading) is the `# ` title
    and Heading N has N+1 `#`s, since the corpus's sections are `## ` headings; lists by style; bold
    and italic as `**` and `*`; links in words; tables as pipe tables.
    """
    try:
        import docx
    except ImportError as exc:  # pragma: no cover - an optional dependency
        raise EditorError("converting Word documents needs the package python-docx (pip install python-docx)") from exc
    unpacked = _unpacked_docx(data, filename)
    try:
        document = docx.Document(io.BytesIO(unpacked))
        converter = _MarkdownFromWord(document)
        body = "\n\n".join(converter.blocks()).strip()
        dropped = _capped(converter.dropped) + _left_out_of_word(document)
    except EditorError:
        raise
    except Exception as exc:  # python-docx raises several unrelated types for a broken file
        raise EditorError(f"{quoted_name(filename)} could not be read as a Word document: {exc}: open it in Word and save it again as .docx") from exc
    if not body:
        raise EditorError(f"{quoted_name(filename)} has no text to convert: check it is not only images")
    title = converter.title or " ".join(str(document.core_properties.title or "").split())
    return Conversion(title, body + "\n", tuple(dropped))


class _MarkdownFromWord:
    """The paragraphs and tables of a Word document, in order, as Markdown blocks."""

    STRONG_STYLES = {"Strong", "Intense Emphasis"}
    EMPHASIS_STYLES = {"Emphasis", "Subtle Emphasis", "Intense Emphasis"}

    def __init__(self, document) -> None:
        from docx.enum.style import WD_STYLE_TYPE

        self.document = document
        self.title = ""
        self.dropped: list[str] = []
        # style id -> name, read once: python-docx looks a paragraph's style up anew each time (2 ms each)
        self._styles = {style.style_id: style.name for style in document.styles}
        default = document.styles.default(WD_STYLE_TYPE.PARAGRAPH)
        self._default_style = default.name if default is not None else ""
        self._has_title_style = any(self._style_name(p) == "Title" and p.text.strip() for p in document.paragraphs)
        self._titled = False

    def blocks(self) -> list[str]:
        """The Markdown blocks, a list's items in one block."""
        merged: list[tuple[str, str]] = []  # consecutive items of one kind of list make one list
        for kind, text in self._items(self.document.iter_inner_content()):
            if merged and kind in ("ol", "ul") and merged[-1][0] == kind:
                merged[-1] = (kind, merged[-1][1] + "\n" + text)
            else:
                merged.append((kind, text))
        return [text for _kind, text in merged]

    def _items(self, content) -> list[tuple[str, str]]:
        from docx.table import Table

        items: list[tuple[str, str]] = []
        for item in content:
            if isinstance(item, Table):
                items.extend(self._table(item))
            elif (block := self._paragraph(item)) is not None:
                items.append(block)
        return items

    def _style_name(self, paragraph) -> str:
        style_id = paragraph._p.style
        return (self._styles.get(style_id, "") if style_id else self._default_style) or ""

    def _paragraph(self, paragraph) -> tuple[str, str] | None:
        style = self._style_name(paragraph)
        level = _heading_level(style)
        if style == "Title" or level:
            text = self._inline(paragraph, heading=True)
            if not text:
                return None
            if not self._titled and (style == "Title" or not self._has_title_style):
                self._titled, self.title, depth = True, plain_title(text), 1
            else:
                depth = min((level or 1) + 1, 6)
            return "heading", "#" * depth + " " + text
        text = self._inline(paragraph)
        if not text:
            return None
        if style.startswith("List Number"):
            return "ol", "1. " + _escape_block_start(text)
        if style.startswith("List"):
            return "ul", "- " + _escape_block_start(text)
        return "p", _escape_block_start(text)

    def _inline(self, paragraph, *, heading: bool = False) -> str:
        """A paragraph's text, escaped, with bold and italic (not in headings) and links in words."""
        from docx.text.hyperlink import Hyperlink

        pieces: list[tuple[str, bool, bool]] = []
        for item in paragraph.iter_inner_content():
            if isinstance(item, Hyperlink):
                words = " ".join(item.text.split())
                pieces.append((words + self._address(words, item.url, paragraph, heading), False, False))
            else:
                style = self._styles.get(item._r.style or "", "")
                bold = bool(item.bold) or (item.bold is None and style in self.STRONG_STYLES)
                italic = bool(item.italic) or (item.italic is None and style in self.EMPHASIS_STYLES)
                pieces.append((item.text, bold and not heading, italic and not heading))
        if heading:
            text = " ".join("".join(text for text, _b, _i in pieces).split())
            return escape_inline(text.replace("#", "").strip() or text)
        return emphasised(pieces)

    def _address(self, words: str, url: str, paragraph, heading: bool) -> str:
        """What follows a link's words: " (address)", or nothing (the address reported if dropped)."""
        address, problem = link_address(url)
        where = f"in the paragraph {quoted_snippet(paragraph.text)}"
        if problem:
            self.dropped.append(f"{problem}: {_link_words(words)} ({where})")
        elif address and heading:
            self.dropped.append(f"The address of a link in a heading dropped: {_link_words(words)} went to {quoted_snippet(address, 80)} ({where})")
        elif address and not _says_address(words, address):
            return f" ({address})" if words else address
        return ""

    def _table(self, table) -> list[tuple[str, str]]:
        """A pipe table, its first row the header; a merged cell's text once, in its first row and
        column; a one-cell table (a box around text) as its paragraphs."""
        rows = [list(row.cells) for row in table.rows]
        cells = {id(cell._tc): cell for row in rows for cell in row}
        if len(cells) == 1:
            return self._items(next(iter(cells.values())).iter_inner_content())
        grid: list[list[str]] = []
        merged = False
        for r, row in enumerate(rows):
            line = []
            for c, cell in enumerate(row):
                left = row[c - 1] if c else None
                above = rows[r - 1][c] if r and c < len(rows[r - 1]) else None
                if any(other is not None and other._tc is cell._tc for other in (left, above)):
                    merged = True
                    line.append("")
                else:
                    line.append(self._cell(cell))
            grid.append(line)
        width = max((len(line) for line in grid), default=0)
        grid = [line + [""] * (width - len(line)) for line in grid]
        grid = grid[:1] + [line for line in grid[1:] if any(line)]
        if not any(any(line) for line in grid):
            return []
        if merged:
            self.dropped.append(
                f"A table with merged cells (starting {quoted_snippet(next(c for c in grid[0] + grid[-1] if c))}): each merged cell's text is written once, in its first row and column"
            )
        lines = ["| " + " | ".join(grid[0]) + " |", "|" + "|".join([" --- "] * width) + "|"]
        lines += ["| " + " | ".join(line) + " |" for line in grid[1:]]
        return [("table", "\n".join(lines))]

    def _cell(self, cell) -> str:
        from docx.table import Table

        parts = []
        for item in cell.iter_inner_content():
            if isinstance(item, Table):
                texts = [" ".join(c.text.split()) for row in item.rows for c in dict.fromkeys(row.cells)]
                parts.append(escape_inline("; ".join(t for t in texts if t)))
                self.dropped.append(f"A table inside a table cell written as plain text in that cell: {quoted_snippet(parts[-1])}")
            else:
                parts.append(self._inline(item))
        return " ".join(p for p in parts if p).replace("|", "\\|")


def emphasised(pieces: Iterable[tuple[str, bool, bool]]) -> str:
    """Pieces of text (text, bold, italic) as one escaped line of Markdown with `**` and `*`.

    Emphasis that CommonMark would not read as emphasis (two differently emphasised pieces
    touching, or a mark between punctuation and a letter) is left out rather than shown as stray
    asterisks: unless every emphasised piece starts and ends with a letter or digit and stands apart
    from the others, the line is parsed, and when it holds fewer emphasis spans than were written,
    it is written without emphasis.
    """
    merged: list[list] = []
    for text, bold, italic in pieces:
        if not text:
            continue
        if merged and (merged[-1][1], merged[-1][2]) == (bold, italic):
            merged[-1][0] += text
        else:
            merged.append([text, bold, italic])
    out, spans, plain_edges = [], 0, True
    for text, bold, italic in merged:
        words = escape_inline(text)
        core = words.strip()
        mark = "*" * (2 * bold + italic)
        if mark and core:
            spans += bold + italic
            plain_edges = plain_edges and core[0].isalnum() and core[-1].isalnum() and not (out and out[-1].endswith("*"))
            words = words[: len(words) - len(words.lstrip())] + mark + core + mark + words[len(words.rstrip()) :]
        out.append(words)
    line = " ".join("".join(out).split())
    if spans and not plain_edges:
        inline = body_parser().parseInline(line)[0].children or []
        if sum(t.type in ("strong_open", "em_open") for t in inline) != spans:
            line = " ".join(escape_inline("".join(text for text, _b, _i in merged)).split())
    return line


def _left_out_of_word(document) -> list[str]:
    """What python-docx's paragraphs and tables do not hold: drawings, embedded objects, text boxes,
    content controls, tracked changes, headers and footers, footnotes, endnotes and comments."""
    from lxml import etree

    ns = {"w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main", "mc": "http://schemas.openxmlformats.org/markup-compatibility/2006"}

    def count(path: str, root) -> int:
        return int(etree.XPath(f"count({path})", namespaces=ns)(root))

    body = document.element.body
    dropped: list[str] = []
    for kind, path in (
        ("drawing", ".//w:drawing[not(ancestor::mc:Fallback)] | .//w:pict[not(ancestor::mc:Fallback)]"),
        ("embedded", ".//w:object[not(ancestor::mc:Fallback)]"),
        ("text box", ".//w:txbxContent[not(ancestor::mc:Fallback)][normalize-space(.)]"),
        ("content control", "./w:sdt[normalize-space(.)]"),
    ):
        if n := count(path, body):
            dropped.append(_dropped_line(kind, n))
    if changes := count(".//w:ins | .//w:del | .//w:moveFrom | .//w:moveTo", body):
        dropped.append(
            f"{changes:,} tracked change{'s' if changes > 1 else ''} not carried over (inserted text is missing, deleted text left out): "
            "accept or reject all changes in Word, save, and upload again"
        )
    margins: list[str] = []
    for section in document.sections:
        for part in (section.header, section.first_page_header, section.even_page_header, section.footer, section.first_page_footer, section.even_page_footer):
            if part.is_linked_to_previous:
                continue
            words = [p.text for p in part.paragraphs] + [cell.text for table in part.tables for row in table.rows for cell in row.cells]
            text = " ".join(" ".join(words).split())
            if text and text not in margins:
                margins.append(text)
    if margins:
        dropped.append(
            f"Text in the page headers or footers dropped ({'; '.join(quoted_snippet(t) for t in margins[:3])}): copy any contact details in it that matter into the text"
        )
    for rel in document.part.rels.values():
        kind = rel.reltype.rsplit("/", 1)[-1]
        if kind not in ("footnotes", "endnotes", "comments") or rel.is_external:
            continue
        root = etree.fromstring(rel.target_part.blob, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False))
        n = count({"footnotes": "//w:footnote[not(@w:type)]", "endnotes": "//w:endnote[not(@w:type)]", "comments": "//w:comment"}[kind], root)
        if n:
            dropped.append(_dropped_line(kind[:-1], n))
    return dropped


def _unpacked_docx(data: bytes, filename: str) -> bytes:
    """The Word file's parts re-packed uncompressed, for python-docx to open.

    Its zip directory is checked first, so a zip bomb is refused before anything is unpacked: the
    number of parts, their total declared size, each part's packing ratio, and that each declared
    packed size fits in the file. Each part is then read in small pieces, never past its declared
    size (a part whose data runs on fails its checksum), so a directory that lies cannot make this
    unpack more than MAX_DOCX_UNPACKED_BYTES; python-docx never sees the original compressed data.
    """
    shown = quoted_name(filename)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise EditorError(f"{shown} could not be read as a Word document ({exc}): open it in Word and save it again as .docx") from exc
    with archive:
        parts = archive.infolist()
        if len(parts) > MAX_DOCX_PARTS:
            raise EditorError(f"{shown} has {len(parts):,} parts inside; a Word document has at most {MAX_DOCX_PARTS:,}: it is not a normal Word file, so it was not opened")
        total = sum(part.file_size for part in parts)
        if total > MAX_DOCX_UNPACKED_BYTES:
            raise EditorError(
                f"{shown} would unpack to {total:,} bytes; the limit is {MAX_DOCX_UNPACKED_BYTES // MB} MB: it is a zip bomb or a very large document, "
                "so it was not opened (split it, or leave out images)"
            )
        names = [part.filename for part in parts]
        if len(set(names)) != len(names):
            raise EditorError(f"{shown} has two parts with the same name inside: it is not a normal Word file, so it was not opened")
        for part in parts:
            if part.flag_bits & 0x1:
                raise EditorError(f"{shown} is password-protected: save an unprotected copy and upload that")
            if part.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise EditorError(f"{shown} is packed in a way Word never uses (method {part.compress_type}): open it in Word and save it again as .docx")
            if part.header_offset + part.compress_size > len(data):
                raise EditorError(f"{shown} is damaged: part {quoted_snippet(part.filename)} claims {part.compress_size:,} packed bytes, more than the file holds")
            if part.file_size >= DOCX_RATIO_CHECKED_FROM and part.file_size > MAX_DOCX_RATIO * max(part.compress_size, 1):
                raise EditorError(
                    f"{shown} part {quoted_snippet(part.filename)} would unpack from {part.compress_size:,} to {part.file_size:,} bytes, "
                    f"more than {MAX_DOCX_RATIO} times; Word's files pack far less, so it looks like a zip bomb and was not opened"
                )
        repacked = io.BytesIO()
        try:
            with zipfile.ZipFile(repacked, "w", zipfile.ZIP_STORED) as clean:
                for part in parts:
                    if part.is_dir():
                        continue
                    with archive.open(part) as source, clean.open(part.filename, "w") as target:
                        while chunk := source.read(64 * 1024):  # never past the declared size; the checksum is checked at the end
                            target.write(chunk)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
            raise EditorError(f"{shown} is damaged ({exc}): open it in Word and save it again as .docx") from exc
    return repacked.getvalue()


def _heading_level(style: str) -> int:
    m = re.fullmatch(r"Heading (\d)", style)
    return int(m.group(1)) if m else 0


# PDF


def pdf_to_markdown(data: bytes, filename: str = "document.pdf") -> Conversion:
    """A PDF's title, its text as paragraphs (PDFs carry no headings), and what did not carry
    over: images, and link addresses (kept apart from the text in a PDF, so not placed in it)."""
    try:
        from pypdf import PdfReader
        from pypdf.errors import LimitReachedError
    except ImportError as exc:  # pragma: no cover - an optional dependency
        raise EditorError("converting PDF files needs the package pypdf (pip install pypdf)") from exc
    shown = quoted_name(filename)
    try:
        with _pdf_limits():
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                raise EditorError(f"{shown} is password-protected: save an unprotected copy and upload that")
            if len(reader.pages) > MAX_PDF_PAGES:
                raise EditorError(f"{shown} has {len(reader.pages):,} pages; the limit is {MAX_PDF_PAGES:,}: split it into shorter documents")
            pages: list[str] = []
            image_pages: list[str] = []
            links: list[str] = []
            content = tokens = 0
            for number, page in enumerate(reader.pages, start=1):
                stream = page.get_contents()
                instructions = stream.get_data() if stream is not None else b""
                content += len(instructions)
                tokens += sum(instructions.count(separator) for separator in PDF_SEPARATORS)
                if content > MAX_PDF_CONTENT_BYTES or tokens > MAX_PDF_CONTENT_TOKENS:
                    raise EditorError(
                        f"{shown} has more drawing instructions by page {number} than the limit ({MAX_PDF_CONTENT_BYTES // MB} MB, {MAX_PDF_CONTENT_TOKENS:,} "
                        "operations), far more than a text document needs (drawings, or a made-up file?): upload it as Word (.docx), or a PDF of the text only"
                    )
                pages.append(page.extract_text() or "")
                if _pdf_images(page):
                    image_pages.append(str(number))
                links += _pdf_links(page)
            meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except EditorError:
        raise
    except LimitReachedError as exc:
        raise EditorError(f"{shown} is too big or too complex to read safely ({exc}): upload it as Word (.docx), or a PDF of the text only") from exc
    except Exception as exc:  # pypdf raises many unrelated types (and RecursionError) for broken or hostile files
        raise EditorError(f"{shown} could not be read as a PDF ({type(exc).__name__}: {exc}): save it again from the program that made it, or upload it as Word (.docx)") from exc
    paragraphs: list[str] = []
    for page in pages:
        for para in re.split(r"\n\s*\n", page.replace("\r", "\n")):
            text = " ".join(para.split())
            if text:
                paragraphs.append(_escape_block_start(escape_inline(text)))
    if not paragraphs:
        raise EditorError(f"{shown} has no text layer (a scanned image?): the assistant can only use documents with real text")
    title = " ".join(str(meta_title).split())
    dropped = [_dropped_line("image", len(image_pages), image_pages, where="page")] if image_pages else []
    addresses = [a for a in dict.fromkeys(link_address(u)[0] for u in links) if a]  # other schemes carry nothing worth keeping
    if addresses:
        dropped.append(_dropped_line("pdf link", len(addresses), addresses, where=""))
    return Conversion(title, "\n\n".join(paragraphs) + "\n", tuple(dropped))


MAX_PDF_LINKS = 200  # link annotations read per page


def _pdf_images(page) -> int:
    """The images a page draws directly (not those inside drawings), counted from its resources."""
    from pypdf.generic import DictionaryObject

    resources = _pdf_object(page.get("/Resources"))
    xobjects = _pdf_object(resources.get("/XObject")) if isinstance(resources, DictionaryObject) else None
    if not isinstance(xobjects, DictionaryObject):
        return 0
    kinds = [_pdf_object(x) for x in list(xobjects.values())[:MAX_PDF_LINKS]]
    return sum(1 for x in kinds if isinstance(x, DictionaryObject) and x.get("/Subtype") == "/Image")


def _pdf_links(page) -> list[str]:
    """The addresses of a page's link annotations."""
    from pypdf.generic import ArrayObject, DictionaryObject

    annotations = _pdf_object(page.get("/Annots"))
    found = []
    for annotation in list(annotations)[:MAX_PDF_LINKS] if isinstance(annotations, ArrayObject) else []:
        annotation = _pdf_object(annotation)
        action = _pdf_object(annotation.get("/A")) if isinstance(annotation, DictionaryObject) else None
        if isinstance(action, DictionaryObject) and action.get("/URI") is not None:
            found.append(str(_pdf_object(action.get("/URI"))))
    return found


def _pdf_object(value):
    return value.get_object() if value is not None else None


def _pdf_limits() -> contextlib.AbstractContextManager:
    """pypdf's resource limits, tightened for this thread while an upload is read."""
    try:
        from pypdf import apply_configuration
    except ImportError:  # pypdf before 7 has only its built-in limits
        return contextlib.nullcontext()
    return apply_configuration(**PDF_LIMITS)


# text helpers


def first_heading(markdown: str) -> str:
    for line in markdown.split("\n"):
        m = re.match(r"^#{1,6}\s+(.+?)\s*#*\s*$", line)
        if m:
            return m.group(1).strip()
    return ""


def title_from_name(name: str) -> str:
    return Path(name).stem.replace("-", " ").capitalize()


def plain_title(text: str) -> str:
    """A title for the front matter: Markdown escapes undone, anything tag-like left out."""
    text = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text or "")
    text = re.sub(r"<[A-Za-z!/?][^<>]*>?", " ", text)
    return " ".join(CONTROL_CHARACTER.sub("", text).split())


def quoted_name(text: str, limit: int = 80) -> str:
    """A file name quoted in a message: control and direction characters escaped (by repr), long names cut."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def quoted_snippet(text: str, limit: int = 40) -> str:
    first = text.strip().split("\n")[0]
    return repr(first if len(first) <= limit else first[:limit] + "…")


def escape_inline(text: str) -> str:
    """Converted text kept as text in Markdown: no raw HTML, autolink, link, entity or emphasis can
    form in it (an underscore inside a word cannot, so stays as it is), and control characters are
    dropped."""
    text = CONTROL_CHARACTER.sub("", text).replace("\\", "\\\\").replace("<", "\\<").replace("[", "\\[").replace("*", "\\*")
    text = re.sub(r"(?<![^\W_])_|_(?![^\W_])", r"\\_", text)
    return re.sub(r"&(?=#?[A-Za-z0-9]+;)", r"\\&", text)


def _escape_block_start(text: str) -> str:
    """Keep converted text a paragraph: a line that would start a heading, list or quote is escaped."""
    numbered = re.match(r"^(\d+)([.)]\s)", text)
    if numbered:
        return numbered.group(1) + "\\" + text[len(numbered.group(1)) :]
    if re.match(r"^(?:#{1,6}\s|[-*+]\s|>|---|===|```|~~~)", text):
        return "\\" + text
    return text
