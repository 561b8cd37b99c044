"""Uploaded files turned into Markdown: type detection, text decoding, and the HTML, Word and PDF converters.

An upload's type is checked by its extension and by its content (a mismatch is refused); Markdown
and HTML text is decoded from UTF-8, UTF-16/32 with a byte-order mark, or an HTML page's declared
single-byte character set; HTML, DOCX and PDF become a (title, Markdown body) pair whose text is
escaped, so nothing in a file's words can become raw HTML or a link in the Markdown.

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
import zipfile
import zlib
from pathlib import Path

from kb.errors import EditorError
from kb.index.documents import decode_text

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
    text is escaped, so nothing in the page's words can become HTML or a link in the Markdown.
    """

    # Elements whose content is not the page's text. Empty elements (embed, img, frame...) are not
    # listed: libxml2 may nest the rest of the page inside one, and skipping it would lose the page.
    SKIP = {"script", "style", "noscript", "template", "svg", "math", "nav", "footer", "form", "button", "iframe", "frameset", "object", "applet", "select", "head"}
    BLOCKS = {"p", "div", "section", "article", "main", "header", "aside", "pre", "dd", "dt", "figcaption", "address", "caption"}

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

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "title":
            self._in_title = True
            return
        if tag in self.SKIP:
            self._skip += 1
            return
        if self._skip:
            return
        if re.fullmatch(r"h[1-6]", tag):
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
        if tag in ("td", "th") and self._cells is not None:
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

    def _flush_cell(self) -> None:
        text = escape_inline(" ".join("".join(self._text).split()))
        self._text = []
        if text and self._cells is not None:
            self._cells.append(text)

    def _flush(self) -> None:
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


def html_to_markdown(text: str) -> tuple[str, str]:
    """(title, Markdown body) of an HTML page.

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
                converter.handle_starttag(element.tag.lower(), list(element.attrib.items()))
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
    return title, body + "\n"


# Word


def docx_to_markdown(data: bytes, filename: str = "document.docx") -> tuple[str, str]:
    """(title, Markdown body) of a Word document: headings by paragraph style, lists, tables as rows."""
    try:
        import docx
        from docx.table import Table
    except ImportError as exc:  # pragma: no cover - an optional dependency
        raise EditorError("converting Word documents needs the package python-docx (pip install python-docx)") from exc
    unpacked = _unpacked_docx(data, filename)
    try:
        document = docx.Document(io.BytesIO(unpacked))
    except Exception as exc:  # python-docx raises several unrelated types for a broken file
        raise EditorError(f"{quoted_name(filename)} could not be read as a Word document: {exc}: open it in Word and save it again as .docx") from exc
    blocks: list[tuple[str, str]] = []  # (kind, Markdown): consecutive items of one kind make one list
    title = ""
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            rows = []
            for row in item.rows:
                cells: list[str] = []
                for cell in row.cells:
                    text = escape_inline(" ".join(cell.text.split()))
                    if text and (not cells or cells[-1] != text):  # merged cells repeat their text
                        cells.append(text)
                if cells:
                    rows.append("- " + "; ".join(cells))
            if rows:
                blocks.append(("table", "\n".join(rows)))
            continue
        text = " ".join(item.text.split())
        if not text:
            continue
        style = (item.style.name if item.style is not None else "") or ""
        level = _heading_level(style)
        if style == "Title" or level:
            text = text.replace("#", "").strip() or text
            level = level or 1
            blocks.append(("heading", "#" * min(level, 6) + " " + escape_inline(text)))
            title = title or text
        elif style.startswith("List Number"):
            blocks.append(("ol", "1. " + _escape_block_start(escape_inline(text))))
        elif style.startswith("List"):
            blocks.append(("ul", "- " + _escape_block_start(escape_inline(text))))
        else:
            blocks.append(("p", _escape_block_start(escape_inline(text))))
    merged: list[tuple[str, str]] = []
    for kind, text in blocks:
        if merged and kind in ("ol", "ul") and merged[-1][0] == kind:
            merged[-1] = (kind, merged[-1][1] + "\n" + text)
        else:
            merged.append((kind, text))
    body = "\n\n".join(text for _kind, text in merged).strip()
    if not body:
        raise EditorError(f"{quoted_name(filename)} has no text to convert: check it is not only images")
    return title, body + "\n"


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


def pdf_to_markdown(data: bytes, filename: str = "document.pdf") -> tuple[str, str]:
    """(title, Markdown body) of a PDF's text: paragraphs only, since PDFs carry no headings."""
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
    return title, "\n\n".join(paragraphs) + "\n"


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
    """Converted text kept as text in Markdown: no raw HTML, autolink, link or entity can form in it,
    and control characters are dropped."""
    text = CONTROL_CHARACTER.sub("", text).replace("\\", "\\\\").replace("<", "\\<").replace("[", "\\[")
    return re.sub(r"&(?=#?[A-Za-z0-9]+;)", r"\\&", text)


def _escape_block_start(text: str) -> str:
    """Keep converted text a paragraph: a line that would start a heading, list or quote is escaped."""
    numbered = re.match(r"^(\d+)([.)]\s)", text)
    if numbered:
        return numbered.group(1) + "\\" + text[len(numbered.group(1)) :]
    if re.match(r"^(?:#{1,6}\s|[-*+]\s|>|---|===|```|~~~)", text):
        return "\\" + text
    return text
