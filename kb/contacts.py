"""The structured contacts file (corpus/contacts.yaml): validated, and rendered as a document to index."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from kb.errors import DocumentError
from kb.index.documents import CONTACTS_FILE, SourceDocument, document_from_meta, parse_front_matter


@dataclass(frozen=True)
class Contact:
    id: str
    who: str
    phone: str
    email: str
    address: str
    hours: str
    when_to_use: str
    source_url: str
    last_verified: str
    verification: str
    note: str

    def reach(self) -> str:
        """How to reach this contact, in one line."""
        parts = [p for p in (self.phone and f"telephone {self.phone}", self.email and f"email {self.email}", self.address) if p]
        return "; ".join(parts)


def parse_contacts(text: str, name: str = CONTACTS_FILE) -> tuple[dict, list[Contact]]:
    meta = parse_front_matter(text, name, first_line=1)
    entries = meta.get("contacts")
    if not isinstance(entries, list) or not entries:
        raise DocumentError(name, "no 'contacts:' list: give one entry per contact with id, who, phone or email, hours, when_to_use, source_url, last_verified", field="contacts")
    contacts: list[Contact] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise DocumentError(name, f"contact number {i} is not a set of fields", field="contacts")
        cid = str(entry.get("id") or "").strip()
        if not cid:
            raise DocumentError(name, f"contact number {i} has no id", field="id")
        if cid in seen:
            raise DocumentError(name, f"duplicate contact id {cid!r}", field="id")
        seen.add(cid)
        for required in ("who", "source_url", "when_to_use"):
            if not str(entry.get(required) or "").strip():
                raise DocumentError(name, f"contact {cid!r} is missing {required!r}", field=required)
        if not (entry.get("phone") or entry.get("email") or entry.get("address")):
            raise DocumentError(name, f"contact {cid!r} has no phone, email or address", field="phone")
        if "last_verified" not in entry:
            raise DocumentError(name, f"contact {cid!r} has no last_verified date (write null if it has never been verified)", field="last_verified")
        contacts.append(
            Contact(
                id=cid,
                who=str(entry["who"]).strip(),
                phone=str(entry.get("phone") or "").strip(),
                email=str(entry.get("email") or "").strip(),
                address=str(entry.get("address") or "").strip(),
                hours=str(entry.get("hours") or "").strip(),
                when_to_use=str(entry["when_to_use"]).strip(),
                source_url=str(entry["source_url"]).strip(),
                last_verified=_date_text(entry.get("last_verified")),
                verification=str(entry.get("verification") or "").strip(),
                note=str(entry.get("note") or "").strip(),
            )
        )
    return meta, contacts


def load_contacts(corpus_dir: Path) -> dict[str, Contact]:
    path = Path(corpus_dir) / CONTACTS_FILE
    if not path.exists():
        return {}
    _meta, contacts = parse_contacts(path.read_text(encoding="utf-8"), CONTACTS_FILE)
    return {c.id: c for c in contacts}


def contacts_document(text: str, name: str, content_hash: str) -> SourceDocument:
    meta, contacts = parse_contacts(text, name)
    body = render_contacts_markdown(str(meta.get("title") or "Contacts"), contacts)
    return document_from_meta(meta, name, body, 1, content_hash, text, first_line=1)


def render_contacts_markdown(title: str, contacts: list[Contact]) -> str:
    lines = [f"# {title}", ""]
    for c in contacts:
        lines += [f"## {c.who}", ""]
        if c.reach():
            lines.append(f"{c.who}: {c.reach()}.")
        if c.hours:
            lines.append(f"Hours for {c.who}: {c.hours.rstrip('.')}.")
        lines.append(f"When to contact {c.who}: {c.when_to_use.rstrip('.')}.")
        if c.note:
            lines.append(f"Note on {c.who}: {c.note.rstrip('.')}.")
        verified = f"last verified {c.last_verified}" if c.last_verified else "not yet verified"
        lines.append(f"Source for {c.who}: {c.source_url} ({verified}).")
        lines.append("")
    return "\n".join(lines)


def _date_text(value: object) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    return "" if value is None else str(value).strip()
