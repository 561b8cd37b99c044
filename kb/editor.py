"""The procedure editor's document operations: names and paths, upload, validate, write, delete, list.

Everything the Editor page does to the corpus folder goes through here, so the rules hold in one
place: file names are safe lower-case kebab names that always land inside the corpus folder,
uploads are size-checked and converted (by `kb.convert`) to Markdown with a front-matter template
for the editor to complete, and a document is written (atomically) only after it validates exactly
as the indexer will validate it, and only when it holds no raw HTML and no link a browser could run
(the corpus is plain Markdown, whoever renders it). Each save, upload, delete and restore is kept
in the document's history (`kb.doc_history`) and recorded once in the editors' audit log (`kb.audit`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import html
import json
import logging
import os
import re
import tempfile
import unicodedata
import urllib.parse
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from markdown_it import MarkdownIt
from mdit_py_plugins.front_matter import front_matter_plugin

from kb.audit import Action, AuditLog
from kb.config import Settings
from kb.convert import (
    ACCEPTED,
    CONTROL_CHARACTER,
    MB,
    TEXT_BOMS,
    detect_type,
    docx_to_markdown,
    escape_inline,
    first_heading,
    html_to_markdown,
    pdf_to_markdown,
    plain_title,
    quoted_name,
    quoted_snippet,
    title_from_name,
    upload_extension,
    upload_text,
)
from kb.convert import UPLOAD_TYPES as UPLOAD_TYPES  # re-exported: the Editor page's uploader offers these
from kb.doc_history import DocumentHistory, Version, digest
from kb.errors import DocumentError, EditConflictError, EditorError
from kb.index.documents import CONTACTS_FILE, MAX_DOCUMENT_BYTES, MAX_DOCUMENT_LINES, SourceDocument, decode_text, load_corpus, load_document_bytes
from kb.text import slugify

log = logging.getLogger(__name__)

UNCHECKED = object()  # write_document's `base` when the caller does not know, or mind, what it replaces
AUDITED_WRITES = {"saved": Action.SAVED, "uploaded": Action.UPLOADED, "restored": Action.RESTORED}  # write_document's actions

MAX_UPLOAD_BYTES = 2 * MB
MAX_NAME_CHARS = 255  # no file system keeps a longer name
SOURCE_URL_PLACEHOLDER = "REPLACE-WITH-THE-PUBLIC-WEB-ADDRESS-THIS-IS-BASED-ON"
DOCUMENT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}\.md$")
PROTECTED_NAMES = {CONTACTS_FILE}
WINDOWS_DEVICE_NAMES = frozenset({"con", "prn", "aux", "nul", *(f"com{n}" for n in range(10)), *(f"lpt{n}" for n in range(10))})

# Markdown parsing (markdown-it-py) is linear but slow on some input, on every save and every
# re-index: about 20 microseconds per link or emphasis character (512 KB of '![' takes 11 seconds,
# 2 MB 45) against well under 1 per character of prose. The indexer bounds a document's bytes and
# lines (MAX_DOCUMENT_BYTES, MAX_DOCUMENT_LINES); this bounds its markup. The largest corpus
# document (glossary.md, 70 KB) has 16 such characters.
MAX_MARKUP_CHARACTERS = 20_000
MARKUP_CHARACTER = re.compile(r"[\[\]*_&!<`\\]")

DIRECTION_CHARACTERS = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
SAFE_LINK_SCHEMES = ("http", "https", "mailto", "tel")  # and links without a scheme (relative, #section)


@dataclass(frozen=True)
class Preview:
    """An upload converted to Markdown, not yet written: the editor reviews and completes it."""

    name: str  # the corpus file it will be saved as, e.g. "making-a-referral.md"
    markdown: str
    source_type: str  # md, html, docx or pdf
    notes: tuple[str, ...] = ()  # what the editor should check before saving
    exists: bool = False  # saving would replace a document already in the corpus
    base: str = ""  # what saving it would replace, for write_document(base=...): "" for nothing
    dropped: tuple[str, ...] = ()  # what the conversion did not carry over (images, unsafe links...)


@dataclass(frozen=True)
class SavedDocument:
    name: str
    path: Path
    doc_id: str
    title: str
    replaced: bool  # there was a document of that name before
    version: int = 0  # its number in the document's history


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

    Names with folders in them, hidden names, names with control or text-direction characters,
    over-long names, Windows device names and names with nothing usable are refused; anything else
    (accents, look-alike letters) is reduced to ASCII letters, digits and hyphens.
    """
    raw = str(filename or "").strip()
    if not raw:
        raise EditorError("the uploaded file has no name: give it one such as 'making-a-referral.md'")
    shown = quoted_name(raw)
    if len(raw) > MAX_NAME_CHARS:
        raise EditorError(f"file name {shown} is {len(raw):,} characters long; the limit is {MAX_NAME_CHARS}: rename it, e.g. 'making-a-referral.md'")
    if any(unicodedata.category(c) == "Cc" for c in raw):
        raise EditorError(f"file name {shown} has control characters in it: rename it with letters, digits and hyphens, e.g. 'making-a-referral.md'")
    if any(c in DIRECTION_CHARACTERS for c in raw):
        raise EditorError(f"file name {shown} has invisible text-direction characters in it, so it shows differently from what it is: rename it, e.g. 'making-a-referral.md'")
    if "/" in raw or "\\" in raw or ".." in raw:
        raise EditorError(f"file name {shown} is not allowed: give a plain file name without folders or '..'")
    if raw.startswith("."):
        raise EditorError(f"file name {shown} is a hidden file name: rename it so it does not start with a dot")
    stem, _, _ext = raw.rpartition(".")
    slug = slugify(stem or raw, limit=80)
    if not slug:
        raise EditorError(f"file name {shown} has no letters or digits to make a document name from: rename it, e.g. 'making-a-referral.md'")
    _check_reserved(f"{slug}.md", f"file name {shown} would be saved as {slug}.md, which")
    return f"{slug}.md"


def _check_reserved(name: str, subject: str) -> None:
    stem = Path(name).stem
    if stem in WINDOWS_DEVICE_NAMES:
        raise EditorError(f"{subject} is a device name on Windows (a copy of the corpus there would break): rename it, e.g. '{stem}-procedure.md'")
    if stem == "readme":
        raise EditorError(f"{subject} would replace the corpus folder's README.md on Windows and macOS: rename it, e.g. 'readme-procedure.md'")


def document_path(settings: Settings, name: str) -> Path:
    """The path of corpus file `name`, refused unless it is a safe top-level name in the corpus folder."""
    name = str(name or "")
    if name not in PROTECTED_NAMES and not DOCUMENT_NAME.match(name):
        raise EditorError(f"document name {name!r} is not allowed: use lower-case letters, digits and hyphens ending in .md (e.g. 'making-a-referral.md'), or {CONTACTS_FILE}")
    corpus = Path(settings.corpus_dir).resolve()
    path = corpus / name  # the name is one plain component, so this is inside the corpus folder
    if path.is_symlink():  # never read, write or delete through a link: it could lead anywhere, or to contacts.yaml
        where = "outside the corpus folder" if path.resolve().parent != corpus else "to another file in the corpus folder"
        raise EditorError(
            f"document {name!r} is a symbolic link pointing {where}: the editor only changes plain files; ask whoever runs the server to replace the link with the document itself"
        )
    return path


# upload


def prepare_upload(settings: Settings, filename: str, data: bytes) -> Preview:
    """Check an uploaded file and convert it to Markdown with front matter; nothing is written."""
    shown = quoted_name(str(filename))
    if len(data) > MAX_UPLOAD_BYTES:
        raise EditorError(
            f"{shown} is {len(data):,} bytes ({len(data) / MB:.1f} MB); the limit is {MAX_UPLOAD_BYTES // MB} MB ({MAX_UPLOAD_BYTES:,} bytes): "
            "split it into smaller documents, or leave out images"
        )
    if not data:
        raise EditorError(f"{shown} is empty: upload {ACCEPTED} with text in it")
    upload_extension(filename)  # the type first: 'setup.exe' is refused as a type, whatever its name
    name = upload_name(filename)
    kind = detect_type(filename, data)
    notes: list[str] = []
    dropped: tuple[str, ...] = ()
    if kind in ("md", "html") and any(data.startswith(bom) for bom, _codec in TEXT_BOMS):
        notes.append("The file was saved as UTF-16 or UTF-32; it will be saved as UTF-8.")
    if kind == "md":
        text = upload_text(data, str(filename), kind)
        if text.startswith("---\n"):
            markdown = text
        else:
            body = text.strip()
            markdown = front_matter_template(name, plain_title(first_heading(body)) or title_from_name(name)) + "\n" + body + "\n"
            notes.append("The file had no front matter; a template was added at the top.")
    else:
        if kind == "html":
            conversion = html_to_markdown(upload_text(data, str(filename), kind))
        elif kind == "docx":
            conversion = docx_to_markdown(data, filename)
        else:
            conversion = pdf_to_markdown(data, filename)
            notes.append("PDF text has no headings: add '## ' headings (ideally as questions) so each section can be found and cited.")
        body, dropped = conversion.markdown, conversion.dropped
        title = plain_title(conversion.title) or title_from_name(name)
        if not body.lstrip().startswith("# "):
            body = f"# {escape_inline(title)}\n\n{body}"
        markdown = front_matter_template(name, title) + "\n" + body.strip() + "\n"
        notes.append(f"Converted from {kind.upper()}: check the headings, lists and wording against the original.")
    if SOURCE_URL_PLACEHOLDER in markdown:
        notes.append("Fill in source_url with the public web page this document is based on; it will not save until you do.")
    _check_parsing_cost(str(filename), markdown)
    problems = markup_problems(markdown)
    if problems:
        notes.append(f"Not allowed in the corpus, which holds plain Markdown: {'; '.join(problems)}. It will not save until you remove them (write \\< to show a '<' as text).")
    existing = current_text(settings, name)
    return Preview(name=name, markdown=markdown, source_type=kind, notes=tuple(notes), exists=existing is not None, base=base_of(existing), dropped=dropped)


def save_upload(settings: Settings, filename: str, data: bytes) -> SavedDocument:
    """Convert an upload and write it in one go; only succeeds when it validates as converted
    (a Markdown file with complete front matter). The Editor page uses `prepare_upload` instead,
    so the editor can review and complete the Markdown before `write_document`."""
    preview = prepare_upload(settings, filename, data)
    return write_document(settings, preview.name, preview.markdown, action="uploaded")


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


LAST_REVIEWED = re.compile(r"^last_reviewed[ \t]*:[ \t]*(?P<value>.*?)(?P<comment>[ \t]+#.*)?$")


def with_last_reviewed(text: str, day: dt.date) -> str:
    """The document with its front matter's `last_reviewed` set to `day` (a trailing comment kept;
    the field added at the end of the front matter when it has none). A text without front matter,
    or already reviewed on `day`, comes back as it is."""
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].rstrip() != "---":
        return text
    end = next((i for i, line in enumerate(lines[1:], start=1) if line.rstrip() == "---"), None)
    if end is None:
        return text
    iso = day.isoformat()
    for i in range(1, end):
        m = LAST_REVIEWED.match(lines[i])
        if m:
            if m.group("value").strip("\"' ") == iso:
                return text
            lines[i] = f"last_reviewed: {iso}{m.group('comment') or ''}"
            return "\n".join(lines)
    lines.insert(end, f"last_reviewed: {iso}")
    return "\n".join(lines)


# validate, write, delete, list


def validate_document(name: str, text: str) -> SourceDocument:
    """The document as the indexer will read it, or `DocumentError` naming the line and field."""
    if not isinstance(text, str):
        raise EditorError("the document must be text")
    control = CONTROL_CHARACTER.search(text)
    if control:
        line = text.count("\n", 0, control.start()) + 1
        raise DocumentError(name, f"control character {control.group()!r} in the text: remove it (the corpus holds plain UTF-8 text)", line=line)
    _check_parsing_cost(name, text)
    doc = load_document_bytes(text.encode("utf-8"), name)
    if name in PROTECTED_NAMES:
        return doc
    problems = markup_problems(text) + _field_problems(doc)
    if problems:
        raise DocumentError(  # every problem at once, each with its line
            name,
            f"{'; '.join(problems)}: the corpus holds plain Markdown, so remove raw HTML (write \\< to show a '<' as text) "
            f"and link only to {', '.join(s + ':' for s in SAFE_LINK_SCHEMES)} or relative addresses",
        )
    return doc


def _check_parsing_cost(name: str, text: str) -> None:
    """Refuse, before any Markdown is parsed, a text that would take the parser many seconds."""
    size = len(text.encode("utf-8"))
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentError(name, f"the document would be {size / 1024:,.0f} KB; the limit is {MAX_DOCUMENT_BYTES // 1024:,} KB: split it into one file per chapter")
    lines = text.count("\n") + 1
    if lines > MAX_DOCUMENT_LINES:
        raise DocumentError(name, f"the document has {lines:,} lines; the limit is {MAX_DOCUMENT_LINES:,}: split it into one file per chapter, or join short lines into paragraphs")
    markup = len(MARKUP_CHARACTER.findall(text))
    if markup > MAX_MARKUP_CHARACTERS:
        raise DocumentError(
            name,
            f"the document has {markup:,} Markdown markup characters ([ ] * _ & ! < ` \\); the limit is {MAX_MARKUP_CHARACTERS:,} "
            "(a procedure has a few hundred at most): is it a made-up or damaged file?",
        )


def markup_problems(text: str) -> list[str]:
    """What in a Markdown text a browser could run, by line: raw HTML, and links that are not web,
    email or phone addresses (javascript:, data:, vbscript:, file:...). Code spans and blocks are text.

    Raw HTML is what CommonMark reads as HTML, and also an unescaped '<' starting a tag in the text:
    CommonMark shows `<img src=x onerror=alert('a')>` as text (the quote is not allowed there), but
    more lenient Markdown readers pass it to the browser as a tag.
    """
    problems: list[str] = []
    for token in _markup_parser().parse(text):
        line = token.map[0] + 1 if token.map else 0
        if token.type == "html_block":
            problems.append(f"line {line}: raw HTML {quoted_snippet(token.content)}")
        for child in token.children or []:
            if child.type == "html_inline":
                problems.append(f"line {line}: raw HTML {quoted_snippet(child.content)}")
            elif child.type == "text" and (tag := re.search(r"<[A-Za-z/!?].*", child.content)):  # text_special holds escaped '\<' and '&lt;'
                problems.append(f"line {line}: raw HTML {quoted_snippet(tag.group())}")
            elif child.type in ("link_open", "image"):
                url = str(child.attrGet("href") or child.attrGet("src") or "")
                if not _safe_link(url):
                    problems.append(f"line {line}: a link to {quoted_snippet(url)}")
    return problems


@lru_cache(maxsize=1)
def _markup_parser() -> MarkdownIt:
    """The indexer's Markdown dialect, but keeping every link: links it would drop are still checked,
    since another Markdown reader (a web page, a repository viewer) may not drop them."""
    parser = MarkdownIt("commonmark").use(front_matter_plugin).enable("table").disable("text_join")  # keep escapes apart from text
    parser.validateLink = lambda url: True
    return parser


def _safe_link(url: str) -> bool:
    plain = re.sub(r"[\x00-\x20\x7f]+", "", urllib.parse.unquote(html.unescape(url))).lower()  # browsers ignore these in a scheme
    scheme = re.match(r"^([a-z][a-z0-9+.-]*):", plain)
    return scheme is None or scheme.group(1) in SAFE_LINK_SCHEMES


def _field_problems(doc: SourceDocument) -> list[str]:
    fields = {"title": doc.title, "publisher": doc.publisher, "edition": doc.edition, "version": doc.version, "scope": " ".join(doc.scope)}
    return [f"field {field!r} has HTML in it ({quoted_snippet(m.group())})" for field, value in fields.items() if (m := re.search(r"<[A-Za-z!/?][^>]*>?", value))]


def document_history(settings: Settings) -> DocumentHistory:
    return DocumentHistory(settings.data_dir)


def current_text(settings: Settings, name: str) -> str | None:
    """The document's text in the corpus now, or None when there is no such document."""
    path = document_path(settings, name)
    return decode_text(path.read_bytes(), name) if path.is_file() else None


def base_of(text: str | None) -> str:
    """What an editor's copy was based on, for `write_document(base=...)`: "" for no document."""
    return digest(text) if text is not None else ""


def write_document(
    settings: Settings,
    name: str,
    text: str,
    *,
    base: str | object = UNCHECKED,
    editor: str = "",
    reason: str = "",
    action: str = "saved",
    restored_from: int | None = None,
) -> SavedDocument:
    """Validate, check the id is not used by another file, then write atomically (temp file +
    rename), keeping the replaced text and the new one in the document's history.

    `base` is `base_of(the text the editor started from)`; when the corpus no longer holds that
    text (someone else saved or deleted it meanwhile), nothing is written and EditConflictError
    carries both versions."""
    if action not in AUDITED_WRITES:
        raise ValueError(f"write_document: action is {action!r}; it must be one of {', '.join(AUDITED_WRITES)}")
    path = document_path(settings, name)
    if name not in PROTECTED_NAMES:
        _check_reserved(name, f"document name {name!r}")
    if path.is_dir():
        raise EditorError(f"{name} is a folder in the corpus folder, not a document: save under another name")
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
    history = document_history(settings)
    with history.locked():
        current = current_text(settings, name)
        if base is not UNCHECKED and base != base_of(current):
            raise EditConflictError(name, current, text, history.made(name, current))
        history.keep_found(name, current, editor)
        number = history.write_text(name, text)
        _replace_file(path, text, name)
        history.log(name, number, action, text, editor, reason, restored_from)
    log.info("editor wrote %s (%s)", name, "replaced" if current is not None else "new")
    AuditLog(settings.data_dir).record(AUDITED_WRITES[action], editor, document=name, reason=reason)
    return SavedDocument(name=name, path=path, doc_id=doc.id, title=doc.title, replaced=current is not None, version=number)


def _replace_file(path: Path, text: str, name: str) -> None:
    corpus = path.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=corpus)  # hidden: the indexer skips it
    except OSError as exc:
        raise EditorError(f"could not write {name} in {corpus}: {exc.strerror}; check the app may write to that folder") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)  # replaces the directory entry: never writes through a link put there meanwhile
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise EditorError(f"could not write {name} in {corpus}: {exc.strerror}; nothing was changed") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_document(settings: Settings, name: str) -> str:
    text = current_text(settings, name)
    if text is None:
        raise EditorError(f"there is no document {name!r} in the corpus folder")
    return text


def delete_document(settings: Settings, name: str, *, editor: str = "", reason: str = "", base: str | object = UNCHECKED) -> Path:
    """Delete a document, its last text kept in its history (restore brings it back)."""
    path = document_path(settings, name)
    if name in PROTECTED_NAMES:
        raise EditorError(f"{name} holds the contacts the flows and answers use: edit it instead of deleting it")
    history = document_history(settings)
    with history.locked():
        current = current_text(settings, name)
        if current is None:
            raise EditorError(f"there is no document {name!r} in the corpus folder")
        if base is not UNCHECKED and base != base_of(current):
            raise EditConflictError(name, current, None, history.made(name, current))
        history.keep_found(name, current, editor)
        path.unlink()
        history.record(name, "deleted", None, editor, reason)
    log.info("editor deleted %s", name)
    AuditLog(settings.data_dir).record(Action.DELETED, editor, document=name, reason=reason)
    return path


def restore_document(settings: Settings, name: str, number: int, *, editor: str = "", reason: str = "") -> SavedDocument:
    """Make version `number` of `name` the document again, as a new version (after a delete too)."""
    text = document_history(settings).text(name, number)
    return write_document(settings, name, text, editor=editor, reason=reason or f"restored version {number}", action="restored", restored_from=number)


@dataclass(frozen=True)
class CorpusRestore:
    """What `restore_corpus` did to make the corpus folder hold a generation's documents again."""

    restored: tuple[str, ...] = ()  # brought back to that generation's text, from their history
    deleted: tuple[str, ...] = ()  # added since that generation (kept in their history)
    not_restorable: tuple[str, ...] = ()  # changed by hand, outside the Editor: their old text is not kept
    unknown: bool = False  # the version keeps no record of its files: nothing was touched

    @property
    def changed(self) -> bool:
        return bool(self.restored or self.deleted)


def restore_corpus(settings: Settings, files: dict[str, str], *, editor: str = "", reason: str = "") -> CorpusRestore:
    """Make the corpus documents match `files` (a generation's manifest: file name -> SHA-256 of
    its bytes), from the documents' histories, so that a rollback sticks: the next re-index finds
    the rolled-back text, not the edits it rolled back. Every change is a new version.

    A version that keeps no record of its files (`files` empty: built before the record was kept)
    leaves the corpus untouched: nothing is deleted on a guess."""
    if not files:
        return CorpusRestore(unknown=True)
    history = document_history(settings)
    present = {d.name: d for d in list_documents(settings)}
    restored, deleted, stuck = [], [], []
    for name in sorted(set(present) | set(files)):
        wanted = files.get(name)
        now = current_text(settings, name)
        if wanted is not None and now is not None and (Path(settings.corpus_dir) / name).is_file() and _file_digest(settings, name) == wanted:
            continue
        if wanted is None:
            if name in PROTECTED_NAMES:
                stuck.append(name)
                continue
            delete_document(settings, name, editor=editor, reason=reason)
            deleted.append(name)
            continue
        version = next((v for v in reversed(history.versions(name)) if v.digest == wanted), None)
        if version is None:
            stuck.append(name)
            continue
        write_document(settings, name, history.text(name, version.number), editor=editor, reason=reason, action="restored", restored_from=version.number)
        restored.append(name)
    return CorpusRestore(tuple(restored), tuple(deleted), tuple(stuck))


def _file_digest(settings: Settings, name: str) -> str:
    return hashlib.sha256((Path(settings.corpus_dir) / name).read_bytes()).hexdigest()


def difference(before: str, after: str, before_label: str, after_label: str) -> str:
    """A unified diff of two versions of a document ('' when they are the same)."""
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), before_label, after_label, lineterm="", n=2)
    return "\n".join(lines)


def history_of(settings: Settings, name: str) -> list[Version]:
    """Newest first."""
    document_path(settings, name)  # the same name rules as everywhere else
    return list(reversed(document_history(settings).versions(name)))


def deleted_documents(settings: Settings) -> list[str]:
    """Documents whose newest kept version is their deletion (and that are still gone)."""
    history = document_history(settings)
    if not history.root.is_dir():
        return []
    out = []
    for folder in sorted(history.root.iterdir()):
        latest = history.latest(folder.name) if folder.is_dir() else None
        if latest is not None and latest.action == "deleted" and current_text(settings, folder.name) is None:
            out.append(folder.name)
    return out


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
