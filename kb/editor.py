"""The procedure editor's document operations: upload and convert, validate, write, delete, list.

Everything the Editor page does to the corpus folder goes through here, so the rules hold in one
place: uploads are size- and type-checked (by extension and by content), file names are safe
lower-case kebab names that always land inside the corpus folder, HTML, DOCX and PDF become
Markdown with a front-matter template for the editor to complete, and a document is written
(atomically) only after it validates exactly as the indexer will validate it.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from kb.config import Settings
from kb.errors import DocumentError, KBError
from kb.index.documents import CONTACTS_FILE, SourceDocument, decode_text, load_corpus, load_document_bytes
from kb.text import slugify

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
UPLOAD_TYPES = ("md", "html", "htm", "docx", "pdf")
SOURCE_URL_PLACEHOLDER = "REPLACE-WITH-THE-PUBLIC-WEB-ADDRESS-THIS-IS-BASED-ON"
DOCUMENT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}\.md$")
PROTECTED_NAMES = {CONTACTS_FILE}


class EditorError(KBError):
    """An editor operation was refused: an unsafe name, a file too big, a type that is not accepted."""


@dataclass(frozen=True)
class Preview:
    """An upload converted to Markdown, not yet written: the editor reviews and completes it."""

    name: str  # the corpus file it will be saved as, e.g. "making-a-referral.md"
    markdown: str
    source_type: str  # md, html, docx or pdf
    notes: tuple[str, ...] = ()  # what the editor should check before saving
    exists: bool = False  # saving would replace a document already in the corpus


@dataclass(frozen=True)
class SavedDocument:
    name: str
    path: Path
    doc_id: str
    title: str
    replaced: bool


@dataclass(frozen=True)
class DocumentInfo:
    name: str
    size: int
    modified: str
    doc_id: str = ""
    title: str = ""
    kind: str = ""
    last_reviewed: str = ""
    error: str = ""

    @property
    def valid(self) -> bool:
        return not self.error


# names


def upload_name(filename: str) -> str:
    """The corpus file name for an uploaded file: its base name as a lower-case kebab `.md` name.

    Names with folders in them, hidden names and names with nothing usable are refused.
    """
    raw = str(filename or "").strip()
    if not raw:
        raise EditorError("the uploaded file has no name")
    if "/" in raw or "\\" in raw or "\x00" in raw or ".." in raw:
        raise EditorError(f"file name {raw!r} is not allowed: give a plain file name without folders or '..'")
    if raw.startswith("."):
        raise EditorError(f"file name {raw!r} is a hidden file name: rename it so it does not start with a dot")
    stem, _, _ext = raw.rpartition(".")
    slug = slugify(stem or raw, limit=80)
    if not slug:
        raise EditorError(f"file name {raw!r} has no letters or digits to make a document name from: rename it, e.g. 'making-a-referral.md'")
    return f"{slug}.md"



def document_path(settings: Settings, name: str) -> Path:
    """The path of corpus file `name`, refused unless it is a safe top-level name in the corpus folder."""
    name = str(name or "")
    if name not in PROTECTED_NAMES and not DOCUMENT_NAME.match(name):
        raise EditorError(f"document name {name!r} is not allowed: use lower-case letters, digits and hyphens ending in .md (e.g. 'making-a-referral.md'), or {CONTACTS_FILE}")
    corpus = Path(settings.corpus_dir).resolve()
    path = (corpus / name).resolve()
    if path.parent != corpus:
        raise EditorError(f"document name {name!r} points outside the corpus folder")
    return path


# upload and conversion


def detect_type(filename: str, data: bytes) -> str:
    """The upload's type, checked by its extension and by its content; a mismatch is refused."""
    ext = Path(str(filename)).suffix.lower().lstrip(".")
    if ext not in UPLOAD_TYPES:
        raise EditorError(f"file type {('.' + ext) if ext else '(none)'!r} is not accepted: upload Markdown (.md), HTML (.html, .htm), Word (.docx) or PDF (.pdf)")
    head = data[:1024]
    looks_pdf = b"%PDF-" in head
    looks_zip = data.startswith(b"PK\x03\x04")
    if ext == "pdf":
        if not looks_pdf:
            raise EditorError(f"{filename!r} is named .pdf but is not a PDF file (it does not start with '%PDF-')")
        return "pdf"
    if ext == "docx":
        if not looks_zip or not _zip_has(data, "word/document.xml"):
            raise EditorError(f"{filename!r} is named .docx but is not a Word document (an old .doc file? save it as .docx)")
        return "docx"
    if looks_pdf or looks_zip or b"\x00" in data[:8192]:
        kind = "a PDF" if looks_pdf else "a Word or zip" if looks_zip else "a binary"
        raise EditorError(f"{filename!r} is named .{ext} but is {kind} file: upload it with its real extension")
    if ext in ("html", "htm"):
        text = _decode_html(data, filename)
        if not re.search(r"<\s*(?:!doctype\s+html|html|head|body|p|h[1-6]|div|ul|ol|table|section|article|main)\b", text, re.IGNORECASE):
            raise EditorError(f"{filename!r} is named .{ext} but has no HTML tags in it")
        return "html"
    return "md"


def prepare_upload(settings: Settings, filename: str, data: bytes) -> Preview:
    """Check an uploaded file and convert it to Markdown with front matter; nothing is written."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise EditorError(f"{filename!r} is {len(data) / 1024 / 1024:.1f} MB; the limit is {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    if not data:
        raise EditorError(f"{filename!r} is empty")
    name = upload_name(filename)
    kind = detect_type(filename, data)
    notes: list[str] = []
    if kind == "md":
        text = decode_text(data, name)
        if text.startswith("---\n"):
            markdown = text
        else:
            body = text.strip()
            markdown = front_matter_template(name, _first_heading(body) or _title_from_name(name)) + "\n" + body + "\n"
            notes.append("The file had no front matter; a template was added at the top.")
    else:
        if kind == "html":
            title, body = html_to_markdown(_decode_html(data, filename))
        elif kind == "docx":
            title, body = docx_to_markdown(data, filename)
        else:
            title, body = pdf_to_markdown(data, filename)
            notes.append("PDF text has no headings: add '## ' headings (ideally as questions) so each section can be found and cited.")
        title = title or _title_from_name(name)
        if not body.lstrip().startswith("# "):
            body = f"# {title}\n\n{body}"
        markdown = front_matter_template(name, title) + "\n" + body.strip() + "\n"
        notes.append(f"Converted from {kind.upper()}: check the headings, lists and wording against the original.")
    if SOURCE_URL_PLACEHOLDER in markdown:
        notes.append("Fill in source_url with the public web page this document is based on; it will not save until you do.")
    return Preview(name=name, markdown=markdown, source_type=kind, notes=tuple(notes), exists=document_path(settings, name).exists())


def save_upload(settings: Settings, filename: str, data: bytes) -> SavedDocument:
    """Convert an upload and write it in one go; only succeeds when it validates as converted
    (a Markdown file with complete front matter). The Editor page uses `prepare_upload` instead,
    so the editor can review and complete the Markdown before `write_document`."""
    preview = prepare_upload(settings, filename, data)
    return write_document(settings, preview.name, preview.markdown)


def front_matter_template(name: str, title: str) -> str:
    doc_id = Path(name).stem
    return (
        "---\n"
        f"id: {doc_id}\n"
        f"title: {json.dumps(title, ensure_ascii=False)}\n"
        "kind: guidance  # procedure, protocol, toolkit, glossary, guidance or contacts\n"
        f"source_url: {SOURCE_URL_PLACEHOLDER}  # the public page this is based on (https://...)\n"
        'publisher: ""\n'
        'last_reviewed: ""  # YYYY-MM-DD, the date the content was last checked\n'
        "audience: [volunteer, professional]\n"
        "---\n"
    )


class _MarkdownFromHTML(HTMLParser):
    """Headings, paragraphs, lists, quotes and table rows of an HTML page, as Markdown blocks."""

    SKIP = {"script", "style", "noscript", "template", "svg", "nav", "footer", "form", "button", "iframe", "select", "head"}
    BLOCKS = {"p", "div", "section", "article", "main", "header", "aside", "pre", "dd", "dt", "figcaption", "address", "caption"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
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
        text = " ".join("".join(self._text).split())
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
            text = text.replace("#", "").strip() or text
        else:
            text = _escape_block_start(text)
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
        super().close()
        self._flush()
        self._group_depth = 1
        self._close_group()


def html_to_markdown(text: str) -> tuple[str, str]:
    """(title, Markdown body) of an HTML page, using the standard library's HTML parser."""
    parser = _MarkdownFromHTML()
    parser.feed(text)
    parser.close()
    body = "\n\n".join(parser.blocks).strip()
    if not body:
        raise EditorError("the HTML page has no headings, paragraphs or lists to convert")
    title = _first_heading(body) or " ".join(parser.title.split())
    return title, body + "\n"


def docx_to_markdown(data: bytes, filename: str = "document.docx") -> tuple[str, str]:
    """(title, Markdown body) of a Word document: headings by paragraph style, lists, tables as rows."""
    try:
        import docx
        from docx.table import Table
    except ImportError as exc:  # pragma: no cover - an optional dependency
        raise EditorError("converting Word documents needs the package python-docx (pip install python-docx)") from exc
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises several unrelated types for a broken file
        raise EditorError(f"{filename!r} could not be read as a Word document: {exc}") from exc
    blocks: list[tuple[str, str]] = []  # (kind, Markdown): consecutive items of one kind make one list
    title = ""
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            rows = []
            for row in item.rows:
                cells: list[str] = []
                for cell in row.cells:
                    text = " ".join(cell.text.split())
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
            blocks.append(("heading", "#" * min(level, 6) + " " + text))
            title = title or text
        elif style.startswith("List Number"):
            blocks.append(("ol", "1. " + _escape_block_start(text)))
        elif style.startswith("List"):
            blocks.append(("ul", "- " + _escape_block_start(text)))
        else:
            blocks.append(("p", _escape_block_start(text)))
    merged: list[tuple[str, str]] = []
    for kind, text in blocks:
        if merged and kind in ("ol", "ul") and merged[-1][0] == kind:
            merged[-1] = (kind, merged[-1][1] + "\n" + text)
        else:
            merged.append((kind, text))
    body = "\n\n".join(text for _kind, text in merged).strip()
    if not body:
        raise EditorError(f"{filename!r} has no text to convert")
    return title, body + "\n"


def pdf_to_markdown(data: bytes, filename: str = "document.pdf") -> tuple[str, str]:
    """(title, Markdown body) of a PDF's text: paragraphs only, since PDFs carry no headings."""
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as exc:  # pragma: no cover - an optional dependency
        raise EditorError("converting PDF files needs the package pypdf (pip install pypdf)") from exc
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise EditorError(f"{filename!r} is password-protected: save an unprotected copy and upload that")
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise EditorError(f"{filename!r} could not be read as a PDF: {exc}") from exc
    paragraphs: list[str] = []
    for page in pages:
        for para in re.split(r"\n\s*\n", page.replace("\r", "\n")):
            text = " ".join(para.split())
            if text:
                paragraphs.append(_escape_block_start(text))
    if not paragraphs:
        raise EditorError(f"{filename!r} has no text layer (a scanned image?): the assistant can only use documents with real text")
    title = ""
    meta_title = (reader.metadata.title if reader.metadata else None) or ""
    if meta_title.strip():
        title = " ".join(meta_title.split())
    return title, "\n\n".join(paragraphs) + "\n"


# validate, write, delete, list


def validate_document(name: str, text: str) -> SourceDocument:
    """The document as the indexer will read it, or `DocumentError` naming the line and field."""
    if not isinstance(text, str):
        raise EditorError("the document must be text")
    return load_document_bytes(text.encode("utf-8"), name)


def write_document(settings: Settings, name: str, text: str) -> SavedDocument:
    """Validate, check the id is not used by another file, then write atomically (temp file + rename)."""
    path = document_path(settings, name)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    doc = validate_document(name, text)
    corpus = path.parent
    if not corpus.is_dir():
        raise EditorError(f"the corpus folder {corpus} does not exist; set KB_CORPUS_DIR to an existing folder")
    for other in load_corpus(corpus).documents:
        if other.id == doc.id and other.path != name:
            raise DocumentError(name, f"id {doc.id!r} is already used by {other.path}; give this document its own id", field="id")
    replaced = path.exists()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=corpus)  # hidden: the indexer skips it
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.info("editor wrote %s (%s)", name, "replaced" if replaced else "new")
    return SavedDocument(name=name, path=path, doc_id=doc.id, title=doc.title, replaced=replaced)


def read_document(settings: Settings, name: str) -> str:
    path = document_path(settings, name)
    if not path.is_file():
        raise EditorError(f"there is no document {name!r} in the corpus folder")
    return decode_text(path.read_bytes(), name)


def delete_document(settings: Settings, name: str) -> Path:
    path = document_path(settings, name)
    if name in PROTECTED_NAMES:
        raise EditorError(f"{name} holds the contacts the flows and answers use: edit it instead of deleting it")
    if not path.is_file():
        raise EditorError(f"there is no document {name!r} in the corpus folder")
    path.unlink()
    log.info("editor deleted %s", name)
    return path


def list_documents(settings: Settings) -> list[DocumentInfo]:
    """Every top-level corpus document, with its id and title, or the reason it will not index."""
    corpus = Path(settings.corpus_dir)
    if not corpus.is_dir():
        raise EditorError(f"the corpus folder {corpus} does not exist; set KB_CORPUS_DIR to an existing folder")
    out: list[DocumentInfo] = []
    for path in sorted(corpus.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.name == "README.md":
            continue
        if not (path.suffix == ".md" or path.name == CONTACTS_FILE):
            continue
        stat = path.stat()
        modified = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        try:
            doc = load_document_bytes(path.read_bytes(), path.name)
        except DocumentError as exc:
            out.append(DocumentInfo(path.name, stat.st_size, modified, error=str(exc)))
            continue
        out.append(DocumentInfo(path.name, stat.st_size, modified, doc.id, doc.title, doc.kind, doc.last_reviewed))
    return out


# helpers


def _zip_has(data: bytes, member: str) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return member in zf.namelist()
    except zipfile.BadZipFile:
        return False


def _decode_html(data: bytes, filename: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        m = re.search(rb"charset=[\"']?([A-Za-z0-9_-]+)", data[:2048])
        encoding = m.group(1).decode("ascii") if m else "cp1252"
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError) as exc:
            raise EditorError(f"{filename!r} is not UTF-8 and its character set ({encoding}) could not be read: save it as UTF-8") from exc


def _heading_level(style: str) -> int:
    m = re.fullmatch(r"Heading (\d)", style)
    return int(m.group(1)) if m else 0


def _first_heading(markdown: str) -> str:
    for line in markdown.split("\n"):
        m = re.match(r"^#{1,6}\s+(.+?)\s*#*\s*$", line)
        if m:
            return m.group(1).strip()
    return ""


def _title_from_name(name: str) -> str:
    return Path(name).stem.replace("-", " ").capitalize()


def _escape_block_start(text: str) -> str:
    """Keep converted text a paragraph: a line that would start a heading, list or quote is escaped."""
    numbered = re.match(r"^(\d+)([.)]\s)", text)
    if numbered:
        return numbered.group(1) + "\\" + text[len(numbered.group(1)) :]
    if re.match(r"^(?:#{1,6}\s|[-*+]\s|>|---|===|```|~~~)", text):
        return "\\" + text
    return text
