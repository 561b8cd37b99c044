"""Corpus documents: Markdown with YAML front matter (and the structured contacts file), validated.

A bad document is reported as a `DocumentError` naming the file, the line where it can and the
field; it is skipped and the others load.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kb.errors import DocumentError
from kb.index.markdown import parse

log = logging.getLogger(__name__)

KINDS = ("procedure", "protocol", "toolkit", "glossary", "guidance", "contacts")
AUDIENCES = ("volunteer", "professional", "editor")
REQUIRED_FIELDS = ("id", "title", "kind", "source_url")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
CONTACTS_FILE = "contacts.yaml"
SKIPPED_NAMES = {"README.md"}


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
        try:
            raw = path.read_bytes()
            paths[rel] = hashlib.sha256(raw).hexdigest()
            doc = load_document_bytes(raw, rel)
        except DocumentError as exc:
            errors.append(exc)
            continue
        if doc.id in seen:
            errors.append(DocumentError(rel, f"duplicate id {doc.id!r}: already used by {seen[doc.id]}; give each document its own id", line=_field_line(raw, "id"), field="id"))
            continue
        seen[doc.id] = rel
        documents.append(doc)
    return LoadResult(documents, errors, paths)


def _candidate_files(corpus_dir: Path):
    for path in corpus_dir.rglob("*"):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(corpus_dir).parts):
            continue
        if path.name in SKIPPED_NAMES and path.parent == corpus_dir:
            continue
        yield path


def load_document_bytes(raw: bytes, name: str) -> SourceDocument:
    """Validate one file's bytes and return the document, or raise `DocumentError`."""
    text = decode_text(raw, name)
    if name.endswith(".yaml") and Path(name).name == CONTACTS_FILE:
        from kb.contacts import contacts_document

        return contacts_document(text, name, hashlib.sha256(raw).hexdigest())
    if not name.endswith(".md"):
        raise DocumentError(name, f"unsupported file type {Path(name).suffix or '(none)'!r}: the corpus holds Markdown (.md) files and contacts.yaml; convert HTML, DOCX or PDF on the Editor page")
    return parse_markdown_document(text, name, hashlib.sha256(raw).hexdigest())


def decode_text(raw: bytes, name: str) -> str:
    if b"\x00" in raw[:8192]:
        raise DocumentError(name, "binary file (it contains NUL bytes): the corpus holds UTF-8 text files only")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DocumentError(name, f"not valid UTF-8 (byte {exc.start}): save the file as UTF-8", line=line) from exc
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def parse_markdown_document(text: str, name: str, content_hash: str) -> SourceDocument:
    tokens = parse(text)
    if not tokens or tokens[0].type != "front_matter":
        raise DocumentError(name, "no front matter: the file must start with a '---' line, YAML fields (id, title, kind, source_url, ...), then '---'", line=1)
    fm_token = tokens[0]
    fm_end_line = fm_token.map[1] if fm_token.map else 0
    meta = parse_front_matter(fm_token.content, name, first_line=2)
    body_lines = text.split("\n")[fm_end_line:]
    body = "\n".join(body_lines)
    if not body.strip():
        raise DocumentError(name, "empty body: the document has front matter but no text after it", line=fm_end_line + 1)
    return document_from_meta(meta, name, body, fm_end_line + 1, content_hash, fm_token.content, first_line=2)


def parse_front_matter(yaml_text: str, name: str, first_line: int) -> dict:
    try:
        node = yaml.compose(yaml_text, Loader=yaml.SafeLoader)
        meta = yaml.safe_load(yaml_text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first_line + mark.line if mark is not None else first_line
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DocumentError(name, f"malformed YAML in front matter: {problem}", line=line) from exc
    if not isinstance(meta, dict) or node is None:
        raise DocumentError(name, "front matter is not a set of 'field: value' lines", line=first_line)
    return meta


def document_from_meta(meta: dict, name: str, body: str, body_start_line: int, content_hash: str, yaml_text: str, first_line: int) -> SourceDocument:
    def line_of(field_name: str) -> int | None:
        found = _yaml_key_line(yaml_text, field_name)
        return first_line + found if found is not None else None

    for required in REQUIRED_FIELDS:
        value = meta.get(required)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise DocumentError(name, f"missing required field {required!r} in front matter (required: {', '.join(REQUIRED_FIELDS)})", line=line_of(required) or first_line, field=required)
        if not isinstance(value, str):
            raise DocumentError(name, f"field {required!r} must be text, not {type(value).__name__}: put it in quotes", line=line_of(required), field=required)
    doc_id = meta["id"].strip()
    if not ID_PATTERN.match(doc_id):
        raise DocumentError(name, f"id {doc_id!r} is not valid: use lower-case letters, digits and hyphens (e.g. 'responding-to-a-disclosure')", line=line_of("id"), field="id")
    kind = meta["kind"].strip()
    if kind not in KINDS:
        raise DocumentError(name, f"unknown kind {kind!r}: use one of {', '.join(KINDS)}", line=line_of("kind"), field="kind")
    source_url = meta["source_url"].strip()
    if not re.match(r"^https?://\S+$", source_url):
        raise DocumentError(name, f"source_url {source_url!r} is not a web address: give the public page the content is based on (http:// or https://)", line=line_of("source_url"), field="source_url")
    last_reviewed = meta.get("last_reviewed", "")
    if isinstance(last_reviewed, (dt.date, dt.datetime)):
        last_reviewed = last_reviewed.isoformat()[:10]
    elif last_reviewed and not re.match(r"^\d{4}-\d{2}-\d{2}$", str(last_reviewed)):
        raise DocumentError(name, f"last_reviewed {last_reviewed!r} is not a date: write it as YYYY-MM-DD", line=line_of("last_reviewed"), field="last_reviewed")
    audience = meta.get("audience", ["volunteer", "professional"])
    if isinstance(audience, str):
        audience = [audience]
    if not isinstance(audience, list) or any(a not in AUDIENCES for a in audience):
        raise DocumentError(name, f"audience {audience!r} is not valid: use a list of {', '.join(AUDIENCES)}", line=line_of("audience"), field="audience")
    version = str(meta.get("version") or content_hash[:8])
    scope = meta.get("scope", [])
    if isinstance(scope, str):
        scope = [scope]
    if not isinstance(scope, list) or not all(isinstance(s, str) and s.strip() for s in scope):
        raise DocumentError(name, f"scope {scope!r} is not valid: give a list of words a question uses when this document applies, e.g. [baby, infant]", line=line_of("scope"), field="scope")
    known = {"id", "title", "kind", "source_url", "publisher", "last_reviewed", "audience", "edition", "version", "scope"}
    return SourceDocument(
        id=doc_id,
        title=meta["title"].strip(),
        kind=kind,
        source_url=source_url,
        path=name,
        body=body,
        body_start_line=body_start_line,
        content_hash=content_hash,
        publisher=str(meta.get("publisher") or ""),
        last_reviewed=str(last_reviewed or ""),
        audience=tuple(audience),
        edition=str(meta.get("edition") or ""),
        version=version,
        scope=tuple(s.strip().lower() for s in scope),
        extra={k: v for k, v in meta.items() if k not in known},
    )


def _yaml_key_line(yaml_text: str, key: str) -> int | None:
    """0-based line of a top-level key in a YAML mapping, from the YAML parser's own marks."""
    try:
        node = yaml.compose(yaml_text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, _value in node.value:
        if getattr(key_node, "value", None) == key:
            return key_node.start_mark.line
    return None


def _field_line(raw: bytes, key: str) -> int | None:
    text = raw.decode("utf-8", errors="replace")
    tokens = parse(text)
    if tokens and tokens[0].type == "front_matter":
        found = _yaml_key_line(tokens[0].content, key)
        return 2 + found if found is not None else None
    return None
