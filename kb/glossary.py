"""The glossary as data: terms, acronyms, other names and old names mapped to new ones.

Read from the glossary document's sections (`## Term (ACRONYM)` with optional `Also called:` and
`Now called:` lines). Retrieval uses it to expand acronyms and old names in questions; answer
composition uses it to answer "what is ...?" questions from the entry first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kb.text import words

HEADING = re.compile(r"^(?P<term>.+?)(?:\s*\((?P<acronym>[^()]+)\))?\s*$")
ALSO = re.compile(r"^Also called:\s*(.+)$", re.MULTILINE)
NOW = re.compile(r"^Now called:\s*(.+)$", re.MULTILINE)


@dataclass
class GlossaryEntry:
    term: str
    acronym: str
    section_id: str
    also: list[str] = field(default_factory=list)
    now_called: str = ""

    def names(self) -> list[str]:
        return [n for n in (self.term, self.acronym, *self.also) if n]


@dataclass
class Glossary:
    entries: list[GlossaryEntry]
    common_words: frozenset[str] = frozenset()  # other names made only of these are not expanded

    @classmethod
    def from_sections(cls, sections: dict, common_words: frozenset[str] = frozenset()) -> Glossary:
        """Build from `{section_id: Passage}` of the served index (glossary-kind documents)."""
        entries = []
        for sid, passage in sections.items():
            if passage.kind != "glossary" or len(passage.heading_path) < 2:
                continue
            m = HEADING.match(passage.section)
            if not m:
                continue
            also = [a.strip() for found in ALSO.findall(passage.text) for a in found.split(";") if a.strip()]
            now = NOW.search(passage.text)
            entries.append(GlossaryEntry(m["term"].strip(), (m["acronym"] or "").strip(), sid, also, now.group(1).strip().rstrip(".") if now else ""))
        return cls(entries, common_words)

    def _index(self) -> dict[str, GlossaryEntry]:
        if not hasattr(self, "_by_name"):
            by_name: dict[str, GlossaryEntry] = {}
            for e in self.entries:
                for name in e.names():
                    by_name.setdefault(_norm(name), e)
            self._by_name = by_name
        return self._by_name

    def lookup(self, name: str) -> GlossaryEntry | None:
        key = _norm(name)
        found = self._index().get(key)
        if found is None and key.endswith("s"):
            found = self._index().get(key[:-1])
        return found

    def _short_names(self) -> dict[str, GlossaryEntry]:
        """Acronyms, other names and old terms: the names worth expanding when a question uses them."""
        if not hasattr(self, "_by_short"):
            by_short: dict[str, GlossaryEntry] = {}
            for e in self.entries:
                for name in (e.acronym, *e.also):
                    for part in re.split(r"[;,/]| or ", name or ""):
                        key = _norm(part)
                        generic = name is not e.acronym and all(w in self.common_words for w in key.split())
                        if key and not generic:
                            by_short.setdefault(key, e)
                if e.now_called:
                    by_short.setdefault(_norm(e.term), e)
            self._by_short = by_short
        return self._by_short

    def mentioned(self, question: str) -> list[GlossaryEntry]:
        """Entries whose acronym, other name or old name appears in the question, longest first."""
        text = " " + " ".join(words(question)) + " "
        found: list[GlossaryEntry] = []
        for name, entry in sorted(self._short_names().items(), key=lambda kv: -len(kv[0])):
            if entry in found:
                continue
            if f" {name} " in text or (re.fullmatch(r"s\d+[a-z]?", name) and f" section {name[1:]} " in text):
                found.append(entry)
        return found

    def expand(self, question: str) -> str:
        """The question plus the full names of acronyms and the new names of old terms it uses."""
        extra: list[str] = []
        for entry in self.mentioned(question):
            extra.append(entry.term)
            if entry.now_called:
                extra.append(entry.now_called)
        return question if not extra else f"{question} ({'; '.join(extra)})"

    def acronyms(self) -> set[str]:
        out: set[str] = set()
        for e in self.entries:
            for name in (e.acronym, *e.also):
                for part in re.split(r"[;,/]|\bor\b", name):
                    part = part.strip()
                    if part:
                        out.add(part)
        return out


def _norm(name: str) -> str:
    return " ".join(words(name))
