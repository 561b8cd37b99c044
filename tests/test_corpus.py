"""The shipped corpus: every document valid, every acronym in the glossary, every contact sourced and dated."""

from __future__ import annotations

import re

from kb.config import PROJECT_ROOT
from kb.contacts import load_contacts
from kb.glossary import HEADING
from kb.index.documents import load_corpus
from kb.index.markdown import parse

CORPUS = PROJECT_ROOT / "corpus"
# Capitalised words that are names, not acronyms.
NOT_ACRONYMS = {"NB", "I", "A", "TA", "OK", "II", "III", "IV", "CEO", "FAQ", "FAQS", "URL", "PDF", "HTML", "DOCX", "YAML"}
ACRONYM = re.compile(r"\b(?:[A-Z]{2,}[0-9]?|e[A-Z]{3,}|s(?:10|11|17|47|5B|36))\b")


def _glossary_acronyms() -> set[str]:
    text = (CORPUS / "glossary.md").read_text()
    names: set[str] = set()
    for tok_i, tok in enumerate(tokens := parse(text)):
        if tok.type == "heading_open" and tok.tag == "h2":
            m = HEADING.match(tokens[tok_i + 1].content)
            if m and m["acronym"]:
                names.update(a.strip() for a in re.split(r"[;,/]| or ", m["acronym"]))
    return names


def test_every_document_is_valid_and_sourced():
    result = load_corpus(CORPUS)
    assert result.errors == []
    assert len(result.documents) >= 30
    for doc in result.documents:
        assert doc.source_url.startswith("http"), doc.id
        assert re.match(r"\d{4}-\d{2}-\d{2}$", doc.last_reviewed), doc.id
        assert doc.audience, doc.id
        assert doc.edition == "illustrative", doc.id


def test_every_acronym_used_is_in_the_glossary():
    known = _glossary_acronyms()
    missing: dict[str, list[str]] = {}
    for path in sorted(CORPUS.glob("*.md")):
        if path.name == "README.md":
            continue
        body = path.read_text().split("\n---", 2)[-1]
        body = re.sub(r"https?://\S+|\S+@\S+", " ", body)
        for word in set(ACRONYM.findall(body)) - known - NOT_ACRONYMS:
            missing.setdefault(word, []).append(path.name)
    assert missing == {}, f"acronyms without a glossary entry: {missing}"


def test_glossary_has_at_least_60_terms_and_maps_old_names():
    text = (CORPUS / "glossary.md").read_text()
    assert text.count("\n## ") >= 60
    for old, new in [("SCR", "CSPR"), ("LSCB", "LSCP"), ("CCG", "ICB")]:
        section = text.split(f"({old})\n", 1)[1].split("\n## ", 1)[0]
        assert "Now called:" in section and new in section, old


def test_every_contact_has_a_source_and_a_verification_date():
    contacts = load_contacts(CORPUS)
    required = {"emergency-999", "police-101", "somerset-direct-childrens-social-care", "emergency-duty-team", "early-help-advice-hub", "lado", "prevent-referral-team", "nspcc-helpline", "childline"}
    assert required <= set(contacts)
    for c in contacts.values():
        assert c.source_url.startswith("http"), c.id
        assert re.match(r"\d{4}-\d{2}-\d{2}$", c.last_verified), f"{c.id} has no verification date"
        assert c.phone or c.email or c.address, c.id


# Words that belong in an editor's record (front matter `editor_notes`, a contact's `verification`),
# never in text a reader is shown.
EDITORIAL = re.compile(r"\bunconfirmed\b|\bnot (?:be )?confirmed\b|\bthe corpus\b|\(see note\)|\bnot described here\b|\bcontent (?:is )?not (?:described|read)\b", re.IGNORECASE)


def test_no_editors_note_reaches_a_reader():
    found = []
    for doc in load_corpus(CORPUS).documents:
        found += [f"{doc.id}: {line.strip()[:90]}" for line in doc.body.splitlines() if EDITORIAL.search(line)]
    for contact in load_contacts(CORPUS).values():
        for field in ("who", "hours", "when_to_use", "note"):  # what the Contacts page shows
            value = getattr(contact, field, None) or ""
            if EDITORIAL.search(value):
                found.append(f"contacts.yaml {contact.id} {field}: {value[:90]}")
    assert not found, "write what to check and with whom instead (keep the editors' record in editor_notes):\n" + "\n".join(found)
