"""Corpus documents: Markdown with YAML front matter (and the structured contacts file), validated.

A bad document is reported as a `DocumentError` naming the file, the line where it can and the
field; it is skipped and the others load.

Reading is bounded, so one hostile or broken file cannot stall an index run or exhaust its memory
(the Markdown parser needs a few KB per line and up to a few hundred bytes per byte of text): a
file is at most `MAX_DOCUMENT_BYTES` and `MAX_DOCUMENT_LINES`, its front matter at most
`MAX_FRONT_MATTER_CHARS` and `MAX_YAML_NODES` YAML values once aliases are expanded (no "billion
laughs"), nested at most `MAX_YAML_DEPTH` deep; lists and quotes nest at most `MAX_NESTING` deep
(deeper, the Markdown parser would silently drop text). Each limit is far above anything in the
shipped corpus (its largest document, the glossary, is 70 KB and 622 lines).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import reprlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from markdown_it.token import Token

from kb.errors import DocumentError
from kb.index.markdown import ASKED_AS, asked_as_phrasings, inline_plain_text, parse

log = logging.getLogger(__name__)

KINDS = ("procedure", "protocol", "toolkit", "glossary", "guidance", "contacts")
AUDIENCES = ("volunteer", "professional", "editor")
REQUIRED_FIELDS = ("id", "title", "kind", "source_url")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
CONTACTS_FILE = "contacts.yaml"
SKIPPED_NAMES = {"README.md"}
LANGUAGE_DIR = "language"  # corpus/language/: the editors' language rules, read by kb.language
FLOWS_DIR = "flows"  # corpus/flows/: the guided flows, read by kb.flows

MAX_DOCUMENT_BYTES = 512 * 1024
MAX_DOCUMENT_LINES = 50_000
MAX_FRONT_MATTER_CHARS = 64 * 1024
MAX_YAML_NODES = 10_000  # values in the front matter (or contacts.yaml), counting every alias as a copy
MAX_YAML_DEPTH = 20  # lists and mappings inside one another in YAML
MAX_NESTING = 8  # lists and block quotes inside one another in the body (the parser gives up at 10 lists)
MAX_TITLE_CHARS = 200
MAX_HEADING_CHARS = 200
MAX_PHRASING_CHARS = 200  # one "Also asked as" phrasing
MAX_PHRASINGS = 20  # "Also asked as" phrasings of one section

_CONTAINERS = {"bullet_list_open", "ordered_list_open", "blockquote_open"}
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60
_SHORT.maxlist = _SHORT.maxdict = _SHORT.maxtuple = 6
_SHORT.maxlevel = 3


def shown(value: object) -> str:
    """A short repr for error messages: never longer than a line, however large the value."""
    return _SHORT.repr(value)


@dataclass(frozen=True)
class SourceDocument:
    """One validated corpus document: its metadata, Markdown body and content hash."""

    id: str
    title: str
    kind: str
    source_url: str
    path: str
    body: str
    body_start_line: int
    content_hash: str
    publisher: str = ""
    last_reviewed: str = ""
    audience: tuple[str, ...] = ("volunteer", "professional")
    edition: str = ""
    version: str = ""
    scope: tuple[str, ...] = ()  # words a question uses when this document applies (e.g. "baby")
    extra: dict = field(default_factory=dict, compare=False)

    def meta(self) -> dict:
        return {
            "doc_id": self.id,
            "title": self.title,
            "kind": self.kind,
            "source_url": self.source_url,
            "publisher": self.publisher,
            "last_reviewed": self.last_reviewed,
            "audience": list(self.audience),
            "version": self.version,
            "path": self.path,
            "scope": list(self.scope),
        }


@dataclass
class LoadResult:
    documents: list[SourceDocument]
    errors: list[DocumentError]
    paths: dict[str, str] = field(default_factory=dict)  # relative path -> content hash, for every file seen


def load_corpus(corpus_dir: Path) -> LoadResult:
    """Load every document under `corpus_dir`; bad ones become errors, duplicates keep the first path."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise DocumentError(corpus_dir, "corpus folder not found; set KB_CORPUS_DIR or pass --corpus to an existing folder")
    documents: list[SourceDocument] = []
    errors: list[DocumentError] = []
    seen: dict[str, str] = {}
    paths: dict[str, str] = {}
    for path in sorted(_candidate_files(corpus_dir)):
        rel = path.relative_to(corpus_dir).as_posix()
        if path.is_symlink():
            # A link could make the index quote any file the server can read.
            errors.append(DocumentError(rel, "is a symbolic link, which is not indexed: copy the document itself into the corpus folder"))
            continue
        try:
            raw = _read_bounded(path, rel, paths)
            paths[rel] = hashlib.sha256(raw).hexdigest()
            doc = load_document_bytes(raw, rel)
        except DocumentError as exc:
            errors.append(exc)
            continue
        except Exception as exc:  # a bug must not cost the other documents their place in the index
            log.exception("unexpected error reading %s", rel)
            errors.append(DocumentError(rel, f"could not be read ({type(exc).__name__}: {shown(str(exc))}); this is a fault in the knowledge base, not in the file: please report it"))
            continue
        if doc.id in seen:
            errors.append(DocumentError(rel, f"duplicate id {doc.id!r}: already used by {seen[doc.id]}; give each document its own id", line=_field_line(raw, "id"), field="id"))
            continue
        seen[doc.id] = rel
        documents.append(doc)
    return LoadResult(documents, errors, paths)


def corpus_digests(corpus_dir: Path) -> dict[str, str]:
    """Every corpus file's digest, exactly as `load_corpus` records them in `LoadResult.paths` (and
    a generation's manifest keeps them as `files`), without parsing: cheap enough to ask on every
    page run whether the corpus still matches an index generation. A missing folder has none."""
    corpus_dir = Path(corpus_dir)
    paths: dict[str, str] = {}
    if not corpus_dir.is_dir():
        return paths
    for path in sorted(_candidate_files(corpus_dir)):
        rel = path.relative_to(corpus_dir).as_posix()
        if path.is_symlink():
            continue
        try:
            paths[rel] = hashlib.sha256(_read_bounded(path, rel, paths)).hexdigest()
        except DocumentError:
            continue  # too large (recorded by _read_bounded) or unreadable (not recorded), as in load_corpus
    return paths


def _read_bounded(path: Path, rel: str, paths: dict[str, str]) -> bytes:
    """The file's bytes, or a `DocumentError` when it cannot be read or is too large to read."""
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            paths[rel] = f"not-read:{size}-bytes"
            raise DocumentError(rel, _unsupported(rel) or _too_large(size))
        with path.open("rb") as fh:
            raw = fh.read(MAX_DOCUMENT_BYTES + 1)  # the file may have grown since stat
    except OSError as exc:
        raise DocumentError(rel, f"cannot be read ({exc.strerror or type(exc).__name__}): check the file exists and is readable by the indexer") from exc
    return raw


def _unsupported(name: str) -> str | None:
    if name.endswith(".md") or (name.endswith(".yaml") and Path(name).name == CONTACTS_FILE):
        return None
    return f"unsupported file type {Path(name).suffix or '(none)'!r}: the corpus holds Markdown (.md) files and contacts.yaml; convert HTML, DOCX or PDF on the Editor page"


def _too_large(size: int) -> str:
    return f"file is too large ({size / 1024:,.0f} KB); a document can be at most {MAX_DOCUMENT_BYTES // 1024:,} KB: split it into one file per chapter"


def _candidate_files(corpus_dir: Path):
    for path in corpus_dir.rglob("*"):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(corpus_dir).parts):
            continue
        if path.name in SKIPPED_NAMES and path.parent == corpus_dir:
            continue
        if path.relative_to(corpus_dir).parts[0] in (LANGUAGE_DIR, FLOWS_DIR):
            continue  # the language rules (kb/language.py) and the guided flows (kb/flows), not documents
        yield path


def load_document_bytes(raw: bytes, name: str) -> SourceDocument:
    """Validate one file's bytes and return the document, or raise `DocumentError`."""
    unsupported = _unsupported(name)
    if unsupported:
        raise DocumentError(name, unsupported)
    contacts = not name.endswith(".md")
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise DocumentError(name, _too_large(len(raw)))
    if not raw.strip():
        what = "a 'contacts:' list" if contacts else "a '---' line, YAML fields (id, title, kind, source_url, ...), '---', then the text"
        raise DocumentError(name, f"empty file: it should hold {what}", line=1)
    text = decode_text(raw, name)
    lines = text.count("\n") + 1
    if lines > MAX_DOCUMENT_LINES:
        raise DocumentError(name, f"file has too many lines ({lines:,}); a document can have at most {MAX_DOCUMENT_LINES:,}: split it into one file per chapter")
    if contacts:
        from kb.contacts import contacts_document

        return contacts_document(text, name, hashlib.sha256(raw).hexdigest())
    return parse_markdown_document(text, name, hashlib.sha256(raw).hexdigest())


_UTF16_32_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def decode_text(raw: bytes, name: str) -> str:
    """UTF-8 text (a leading byte-order mark dropped) with '\\n' line ends, or `DocumentError`."""
    for bom, encoding in _UTF16_32_BOMS:
        if raw.startswith(bom):
            raise DocumentError(name, f"the file is saved as {encoding} text: save it as UTF-8 (in most editors: 'Save as', encoding 'UTF-8')", line=1)
    nul = raw.find(b"\x00")
    if nul >= 0:
        if _looks_like_utf16(raw):
            raise DocumentError(name, "the file looks like UTF-16 text without a byte-order mark: save it as UTF-8", line=1)
        line = _line_at(raw, nul)
        raise DocumentError(name, f"binary file (it contains a NUL byte at byte {nul}): the corpus holds UTF-8 text files only, Markdown (.md) and contacts.yaml", line=line)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 4].hex(" ")
        raise DocumentError(
            name,
            f"not valid UTF-8 (at byte {exc.start}: {bad}): save the file as UTF-8 (it may have been saved as Latin-1 or Windows-1252, or be damaged)",
            line=_line_at(raw, exc.start),
        ) from exc
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _looks_like_utf16(raw: bytes) -> bool:
    """Mostly-ASCII UTF-16: every other byte is NUL."""
    sample = raw[:4096]
    if len(sample) < 4:
        return False
    even, odd = sample[0::2], sample[1::2]
    return even.count(0) > 0.9 * len(even) or odd.count(0) > 0.9 * len(odd)


def _line_at(raw: bytes, offset: int) -> int:
    """1-based line of a byte offset, counting '\\r\\n', '\\r' and '\\n' line ends as the loader does."""
    before = raw[:offset]
    return before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1


def parse_markdown_document(text: str, name: str, content_hash: str) -> SourceDocument:
    tokens = parse(text)
    if not tokens or tokens[0].type != "front_matter":
        raise DocumentError(name, _no_front_matter(text), line=1)
    fm_token = tokens[0]
    fm_end_line = fm_token.map[1] if fm_token.map else 0
    if len(fm_token.content) > MAX_FRONT_MATTER_CHARS:
        raise DocumentError(name, f"front matter is too long ({len(fm_token.content):,} characters; at most {MAX_FRONT_MATTER_CHARS:,}): keep the fields short and put the text in the body", line=1)
    meta = parse_front_matter(fm_token.content, name, first_line=2)
    body_lines = text.split("\n")[fm_end_line:]
    body = "\n".join(body_lines)
    if not body.strip():
        raise DocumentError(name, "empty body: the document has front matter but no text after it", line=fm_end_line + 1)
    doc = document_from_meta(meta, name, body, fm_end_line + 1, content_hash, fm_token.content, first_line=2)
    check_body(tokens[1:], name)
    return doc


def _no_front_matter(text: str) -> str:
    first = text.split("\n", 1)[0]
    if re.match(r"^-{3,}", first):
        return "front matter is not closed: add a '---' line after the last field (id, title, kind, source_url, ...), before the text"
    what = f"the first line is {shown(first)}" if first.strip() else "the first line is blank"
    return f"no front matter ({what}): the file must start with a '---' line, YAML fields (id, title, kind, source_url, ...), then '---'"


def check_body(tokens: list[Token], name: str) -> None:
    """Reject a body the chunker could not turn into sections faithfully (lines in `name` are file lines)."""
    depth = 0
    seen_heading = False
    asked: dict[str, int] = {}  # phrasing (lower case) -> the line where it first appears
    for i, tok in enumerate(tokens):
        line = tok.map[0] + 1 if tok.map else None
        if tok.type == "inline" and depth == 0 and tokens[i - 1].type == "paragraph_open":
            phrasings = asked_as_phrasings(inline_plain_text(tok))
            if phrasings is not None:
                _check_phrasings(phrasings, seen_heading, asked, name, line)
        if tok.type in _CONTAINERS:
            depth += 1
            if depth > MAX_NESTING:
                raise DocumentError(name, f"lists or quotes are nested more than {MAX_NESTING} levels deep: flatten them to at most {MAX_NESTING} levels (deeper text would be lost)", line=line)
        elif tok.nesting == -1 and tok.type.replace("_close", "_open") in _CONTAINERS:
            depth -= 1
        elif tok.type == "heading_open" and tok.level == 0:
            seen_heading = True
            heading = inline_plain_text(tokens[i + 1]) if i + 1 < len(tokens) else ""
            if not heading:
                raise DocumentError(name, "heading with no text: write the question the section answers after the '#' marks, or remove them", line=line)
            if len(heading) > MAX_HEADING_CHARS:
                hint = " (a paragraph followed by a '---' or '===' line becomes a heading: put a blank line before that line)" if tok.markup in ("-", "=") else ""
                raise DocumentError(name, f"heading is {len(heading):,} characters long; a heading is at most {MAX_HEADING_CHARS}: shorten it{hint}", line=line)


def _check_phrasings(phrasings: list[str], seen_heading: bool, asked: dict[str, int], name: str, line: int | None) -> None:
    """An 'Also asked as' paragraph belongs to a section and lists distinct, short phrasings."""
    if not seen_heading:
        raise DocumentError(name, f"'{ASKED_AS}' comes before the first heading: put it at the end of the section whose question it rephrases", line=line)
    if not phrasings:
        raise DocumentError(name, f"'{ASKED_AS}' lists no phrasings: write them after the colon, separated by ';' (or remove the line)", line=line)
    if len(phrasings) > MAX_PHRASINGS:
        raise DocumentError(name, f"'{ASKED_AS}' lists {len(phrasings)} phrasings; a section takes at most {MAX_PHRASINGS}: keep the ones people really use", line=line)
    for phrasing in phrasings:
        if len(phrasing) > MAX_PHRASING_CHARS or len(phrasing) < 3:
            raise DocumentError(name, f"'{ASKED_AS}' phrasing {shown(phrasing)} is {len(phrasing)} characters long; write each in 3 to {MAX_PHRASING_CHARS} characters", line=line)
        key = " ".join(phrasing.lower().split())
        if key in asked:
            raise DocumentError(name, f"'{ASKED_AS}' phrasing {shown(phrasing)} is also listed on line {asked[key]}: a phrasing points to one section only", line=line)
        asked[key] = line or 0


class _BoundedLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses deep nesting while it reads (before Python's recursion limit)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent, index):
        self._depth += 1
        self._nodes += 1
        try:
            if self._depth > MAX_YAML_DEPTH and not self.check_event(yaml.AliasEvent):
                raise _YAMLLimitError(f"values are nested more than {MAX_YAML_DEPTH} levels deep: flatten the lists and mappings", self.peek_event().start_mark)
            if self._nodes > MAX_YAML_NODES:
                raise _YAMLLimitError(f"too many values (more than {MAX_YAML_NODES:,}): keep the fields short and put the text in the body", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _YAMLLimitError(yaml.YAMLError):
    def __init__(self, problem: str, mark):
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


def compose_yaml(yaml_text: str) -> yaml.Node | None:
    """The YAML node tree, checked against the nesting and expanded-size limits."""
    loader = _BoundedLoader(yaml_text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    if node is not None:
        _expanded_size(node, {}, set())
    return node


def _expanded_size(node: yaml.Node, seen: dict[int, tuple[int, int]], open_nodes: set[int], depth: int = 1) -> tuple[int, int]:
    """(values, levels) of `node` counting every alias as a full copy: what a reader of the data sees."""
    key = id(node)
    if key in seen:
        size, height = seen[key]
        if depth + height - 1 > MAX_YAML_DEPTH:
            raise _YAMLLimitError(f"values are nested more than {MAX_YAML_DEPTH} levels deep once aliases ('*name') are expanded: write the values out", node.start_mark)
        return size, height
    if depth > MAX_YAML_DEPTH:
        raise _YAMLLimitError(f"values are nested more than {MAX_YAML_DEPTH} levels deep once aliases ('*name') are expanded: write the values out", node.start_mark)
    if key in open_nodes:
        raise _YAMLLimitError("an alias ('*name') refers to the value that contains it: write the value out", node.start_mark)
    open_nodes.add(key)
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    else:
        children = []
    size, height = 1, 1
    for child in children:
        child_size, child_height = _expanded_size(child, seen, open_nodes, depth + 1)
        size += child_size
        height = max(height, child_height + 1)
        if size > MAX_YAML_NODES:
            raise _YAMLLimitError(f"too many values once aliases ('*name') are expanded (more than {MAX_YAML_NODES:,}): write the values out instead of repeating aliases", node.start_mark)
    open_nodes.discard(key)
    seen[key] = (size, height)
    return size, height


def parse_front_matter(yaml_text: str, name: str, first_line: int) -> dict:
    try:
        node = compose_yaml(yaml_text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first_line + mark.line if mark is not None else first_line
        problem = " ".join((getattr(exc, "problem", None) or str(exc)).split())[:200]
        what = "front matter is too complex" if isinstance(exc, _YAMLLimitError) else "malformed YAML in front matter"
        raise DocumentError(name, f"{what}: {problem}", line=line) from exc
    if not isinstance(node, yaml.MappingNode):
        got = "empty" if node is None else ("a list" if isinstance(node, yaml.SequenceNode) else f"the single value {shown(node.value)}")
        raise DocumentError(name, f"front matter is not a set of 'field: value' lines (it is {got}): write one field per line, e.g. 'id: my-document'", line=first_line)
    _check_keys(node, name, first_line)
    meta = _construct(node, name, first_line)
    if not isinstance(meta, dict):
        raise DocumentError(name, "front matter is not a set of 'field: value' lines: write one field per line, e.g. 'id: my-document'", line=first_line)
    return meta


def _check_keys(node: yaml.MappingNode, name: str, first_line: int) -> None:
    """Every field name is a plain word, given once."""
    lines: dict[str, int] = {}
    for key_node, _value in node.value:
        line = first_line + key_node.start_mark.line
        if not isinstance(key_node, yaml.ScalarNode):
            raise DocumentError(name, "a field name is a list or a set of fields: write each field as 'name: value', e.g. 'title: Neglect'", line=line)
        if key_node.value in lines:
            raise DocumentError(name, f"field {key_node.value!r} is given twice (lines {lines[key_node.value]} and {line}): keep one", line=line, field=key_node.value)
        lines[key_node.value] = line


def _construct(node: yaml.MappingNode, name: str, first_line: int) -> object:
    """Python values from the node tree; a value YAML cannot build (a 13th month, a 5,000-digit number) names its field."""
    try:
        return yaml.SafeLoader("").construct_document(node)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
        for key_node, value_node in node.value:
            try:
                yaml.SafeLoader("").construct_document(value_node)
            except (yaml.YAMLError, ValueError, TypeError, OverflowError) as field_exc:
                key = str(getattr(key_node, "value", "?"))
                problem = getattr(field_exc, "problem", None) or str(field_exc).splitlines()[0]
                if value_node.tag.endswith(":timestamp"):
                    reason = f"field {shown(key)} is not a real date ({problem}): write dates as YYYY-MM-DD with a real month and day"
                elif value_node.tag.endswith((":int", ":float")):
                    reason = f"field {shown(key)} has a number too long to read: put the value in quotes to keep it as text"
                else:
                    reason = f"field {shown(key)} has a value that cannot be read ({shown(problem)}): put the value in quotes to keep it as text"
                raise DocumentError(name, reason, line=first_line + value_node.start_mark.line, field=key) from exc
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DocumentError(name, f"malformed YAML in front matter: {shown(problem)}", line=first_line) from exc


def _text_field(meta: dict, key: str, name: str, line_of, allow_int: bool = False) -> str:
    value = meta.get(key)
    if value is None:
        return ""
    if isinstance(value, str) or (allow_int and isinstance(value, int) and not isinstance(value, bool)):
        return str(value).strip()
    raise DocumentError(name, f"field {key!r} must be text, not {_type_name(value)} {shown(value)}: put it in quotes", line=line_of(key), field=key)


def _type_name(value: object) -> str:
    return {bool: "yes/no", int: "a number", float: "a number", list: "a list", dict: "a set of fields", dt.date: "a date", dt.datetime: "a date and time"}.get(type(value), type(value).__name__)


def document_from_meta(meta: dict, name: str, body: str, body_start_line: int, content_hash: str, yaml_text: str, first_line: int) -> SourceDocument:
    def line_of(field_name: str) -> int | None:
        found = _yaml_key_line(yaml_text, field_name)
        return first_line + found if found is not None else None

    for required in REQUIRED_FIELDS:
        value = meta.get(required)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise DocumentError(name, f"missing required field {required!r} in front matter (required: {', '.join(REQUIRED_FIELDS)})", line=line_of(required) or first_line, field=required)
        if not isinstance(value, str):
            raise DocumentError(name, f"field {required!r} must be text, not {_type_name(value)} {shown(value)}: put it in quotes", line=line_of(required), field=required)
    doc_id = meta["id"].strip()
    if not ID_PATTERN.fullmatch(doc_id):
        raise DocumentError(name, f"id {shown(doc_id)} is not valid: use 1 to 80 lower-case letters, digits and hyphens (e.g. 'responding-to-a-disclosure')", line=line_of("id"), field="id")
    title = meta["title"].strip()
    if len(title) > MAX_TITLE_CHARS:
        raise DocumentError(name, f"title is {len(title):,} characters long; a title is at most {MAX_TITLE_CHARS}: shorten it", line=line_of("title"), field="title")
    kind = meta["kind"].strip()
    if kind not in KINDS:
        raise DocumentError(name, f"unknown kind {shown(kind)}: use one of {', '.join(KINDS)}", line=line_of("kind"), field="kind")
    source_url = meta["source_url"].strip()
    if not re.fullmatch(r"https?://\S+", source_url):
        raise DocumentError(name, f"source_url {shown(source_url)} is not a web address: give the public page the content is based on (http:// or https://)", line=line_of("source_url"), field="source_url")
    last_reviewed = meta.get("last_reviewed", "")
    if isinstance(last_reviewed, (dt.date, dt.datetime)):
        last_reviewed = last_reviewed.isoformat()[:10]
    elif last_reviewed is not None and last_reviewed != "":
        if not isinstance(last_reviewed, str) or not _is_iso_date(last_reviewed.strip()):
            raise DocumentError(name, f"last_reviewed {shown(last_reviewed)} is not a real date: write it as YYYY-MM-DD, e.g. 2026-11-21", line=line_of("last_reviewed"), field="last_reviewed")
        last_reviewed = last_reviewed.strip()
    audience = meta.get("audience")
    if audience is None:  # a field with no value is as if it were absent
        audience = ["volunteer", "professional"]
    if isinstance(audience, str):
        audience = [audience]
    if not isinstance(audience, list) or not audience or any(not isinstance(a, str) or a not in AUDIENCES for a in audience):
        raise DocumentError(name, f"audience {shown(audience)} is not valid: use a list of one or more of {', '.join(AUDIENCES)}", line=line_of("audience"), field="audience")
    publisher = _text_field(meta, "publisher", name, line_of)
    edition = _text_field(meta, "edition", name, line_of)
    version = _text_field(meta, "version", name, line_of, allow_int=True) or content_hash[:8]
    scope = meta.get("scope")
    if scope is None:
        scope = []
    if isinstance(scope, str):
        scope = [scope]
    if not isinstance(scope, list) or not all(isinstance(s, str) and s.strip() for s in scope):
        raise DocumentError(name, f"scope {shown(scope)} is not valid: give a list of words a question uses when this document applies, e.g. [baby, infant]", line=line_of("scope"), field="scope")
    known = {"id", "title", "kind", "source_url", "publisher", "last_reviewed", "audience", "edition", "version", "scope"}
    return SourceDocument(
        id=doc_id,
        title=title,
        kind=kind,
        source_url=source_url,
        path=name,
        body=body,
        body_start_line=body_start_line,
        content_hash=content_hash,
        publisher=publisher,
        last_reviewed=str(last_reviewed or ""),
        audience=tuple(audience),
        edition=edition,
        version=version,
        scope=tuple(s.strip().lower() for s in scope),
        extra={k: v for k, v in meta.items() if k not in known},
    )


def _is_iso_date(text: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _yaml_key_line(yaml_text: str, key: str) -> int | None:
    """0-based line of a top-level key in a YAML mapping, from the YAML parser's own marks."""
    try:
        node = compose_yaml(yaml_text)
    except yaml.YAMLError:
        return None
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, _value in node.value:
        if getattr(key_node, "value", None) == key:
            return key_node.start_mark.line
    return None


def _field_line(raw: bytes, key: str) -> int | None:
    try:
        text = decode_text(raw, "")
    except DocumentError:
        return None
    tokens = parse(text)
    if tokens and tokens[0].type == "front_matter":
        found = _yaml_key_line(tokens[0].content, key)
        return 2 + found if found is not None else None
    return None
