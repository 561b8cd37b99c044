"""The language rules editors own: danger cues, requests the assistant does not take, everyday
words and the procedures' words for them, and who is asking.

They live in `corpus/language/*.yaml` (beside the documents, owned by the same editors) and are
read into typed, frozen rules here. Loading checks every file and lists every problem at once,
by file and entry: an unknown key, a missing field, a pattern that is not a valid regular
expression, an unknown fragment or contact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from kb.config import PROJECT_ROOT
from kb.errors import KBError

LANGUAGE_DIR = "language"  # under the corpus folder
FILES = ("cues.yaml", "requests.yaml", "synonyms.yaml", "roles.yaml")
ROLES = ("child", "professional", "parent", "volunteer")  # the order roles are recognised in
FRAGMENT = re.compile(r"\{([a-z_]+)\}")
CONTACT = re.compile(r"\{([a-z0-9-]+)\}")


class LanguageError(KBError):
    """A language rules file is missing or wrong; the message lists every problem."""


@dataclass(frozen=True)
class Cue:
    name: str
    label: str
    flow: str
    query: str
    patterns: tuple[re.Pattern, ...]
    documents: tuple[str, ...] = ()  # documents whose sections answer questions with this cue (ranked higher)
    says: str = ""  # the step this danger calls for, shown in the emergency message after the general one


@dataclass(frozen=True)
class RequestType:
    type: str
    does_not: str
    patterns: tuple[re.Pattern, ...]
    unless_words: tuple[str, ...] = ()


@dataclass(frozen=True)
class Synonym:
    words: tuple[str, ...]
    patterns: tuple[re.Pattern, ...]
    means: str
    flow: str = ""
    documents: tuple[str, ...] = ()  # documents whose sections answer questions using these words (ranked higher)


@dataclass(frozen=True)
class RoleRule:
    role: str
    label: str
    patterns: tuple[re.Pattern, ...]
    first: str
    not_covered: str
    sections: tuple[re.Pattern, ...] = ()  # headings of sections written for this asker (matched on the lower-cased heading)


@dataclass(frozen=True)
class Language:
    cues: tuple[Cue, ...]
    spelling_words: tuple[str, ...]
    never_corrected: frozenset[str]
    about_words: tuple[re.Pattern, ...]
    concrete: tuple[re.Pattern, ...]
    requests: tuple[RequestType, ...]
    synonyms: tuple[Synonym, ...]
    roles: tuple[RoleRule, ...]

    @property
    def cue_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cues)

    def cue(self, name: str) -> Cue:
        return next(c for c in self.cues if c.name == name)

    def role(self, name: str) -> RoleRule:
        return next(r for r in self.roles if r.role == name)

    def document_ids(self) -> set[str]:
        """Every document the cues and synonyms point to."""
        return {d for c in self.cues for d in c.documents} | {d for s in self.synonyms for d in s.documents}

    def contact_ids(self) -> set[str]:
        return {cid for r in self.roles for text in (r.first, r.not_covered) for cid in CONTACT.findall(text)}


class _Problems(list):
    def regex(self, where: str, pattern: object, fragments: dict[str, str] | None = None) -> re.Pattern | None:
        if not isinstance(pattern, str) or not pattern.strip():
            self.append(f"{where}: a pattern must be non-empty text, not {pattern!r}")
            return None
        text = pattern
        if fragments is not None:
            unknown = [f for f in FRAGMENT.findall(text) if f not in fragments]
            if unknown:
                self.append(f"{where}: unknown fragment {{{unknown[0]}}} in {pattern!r}; known: {', '.join(sorted(fragments))}")
                return None
            text = FRAGMENT.sub(lambda m: fragments[m.group(1)], text)
        try:
            return re.compile(text)
        except re.error as exc:
            self.append(f"{where}: {pattern!r} is not a valid regular expression ({exc})")
            return None

    def patterns(self, where: str, items: object, fragments: dict[str, str] | None = None) -> tuple[re.Pattern, ...]:
        if items is None:
            return ()
        if not isinstance(items, list):
            self.append(f"{where}: expected a list of patterns")
            return ()
        compiled = [self.regex(f"{where}[{i}]", p, fragments) for i, p in enumerate(items)]
        return tuple(p for p in compiled if p is not None)

    def ids(self, where: str, items: object) -> tuple[str, ...]:
        if items is None:
            return ()
        if not isinstance(items, list) or not all(isinstance(i, str) and re.fullmatch(r"[a-z0-9][a-z0-9-]*", i) for i in items):
            self.append(f"{where}: 'documents' must be a list of document ids (lower-case letters, digits and hyphens)")
            return ()
        return tuple(items)

    def text(self, where: str, entry: dict, key: str, required: bool = True) -> str:
        value = entry.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            self.append(f"{where}: '{key}' must be non-empty text")
            return ""
        return value.strip()

    def keys(self, where: str, entry: object, allowed: set[str]) -> bool:
        if not isinstance(entry, dict):
            self.append(f"{where}: expected a mapping with {', '.join(sorted(allowed))}")
            return False
        unknown = sorted(set(map(str, entry)) - allowed)
        if unknown:
            self.append(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}")
        return True


def _read(folder: Path, name: str, problems: _Problems) -> dict:
    path = folder / name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{path} is missing")
        return {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problems.append(f"{path} cannot be read ({exc})")
        return {}
    if not isinstance(data, dict):
        problems.append(f"{path}: expected a YAML mapping at the top")
        return {}
    return data


def _cues(data: dict, problems: _Problems) -> tuple[tuple[Cue, ...], dict]:
    problems.keys("cues.yaml", data, {"fragments", "cues", "spelling_words", "never_corrected", "about_words", "concrete"})
    fragments = data.get("fragments") or {}
    if not isinstance(fragments, dict) or not all(isinstance(v, str) for v in fragments.values()):
        problems.append("cues.yaml: 'fragments' must map names to regular expression text")
        fragments = {}
    cues = []
    for name, entry in (data.get("cues") or {}).items():
        where = f"cues.yaml: cue {name}"
        if not problems.keys(where, entry, {"label", "flow", "query", "patterns", "documents", "says"}):
            continue
        patterns = problems.patterns(f"{where} patterns", entry.get("patterns"), fragments)
        if not patterns:
            problems.append(f"{where}: needs at least one pattern")
        cues.append(
            Cue(
                str(name),
                problems.text(where, entry, "label"),
                problems.text(where, entry, "flow"),
                problems.text(where, entry, "query"),
                patterns,
                problems.ids(where, entry.get("documents")),
                str(entry.get("says") or "").strip(),
            )
        )
    if not cues:
        problems.append("cues.yaml: 'cues' lists no cues")
    return tuple(cues), fragments


def _requests(data: dict, problems: _Problems) -> tuple[RequestType, ...]:
    out = []
    for i, entry in enumerate(data.get("requests") or []):
        where = f"requests.yaml: request {i + 1}"
        if not problems.keys(where, entry, {"type", "does_not", "patterns", "unless_words"}):
            continue
        words = entry.get("unless_words") or []
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            problems.append(f"{where}: 'unless_words' must be a list of words")
            words = []
        out.append(RequestType(problems.text(where, entry, "type"), problems.text(where, entry, "does_not"), problems.patterns(f"{where} patterns", entry.get("patterns")), tuple(w.lower() for w in words)))
    if not out:
        problems.append("requests.yaml: 'requests' lists no request types")
    return tuple(out)


def _synonyms(data: dict, problems: _Problems) -> tuple[Synonym, ...]:
    out = []
    for i, entry in enumerate(data.get("synonyms") or []):
        where = f"synonyms.yaml: entry {i + 1}"
        if not problems.keys(where, entry, {"words", "patterns", "means", "flow", "documents"}):
            continue
        words = entry.get("words") or []
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            problems.append(f"{where}: 'words' must be a list of words or phrases")
            words = []
        patterns = problems.patterns(f"{where} patterns", entry.get("patterns"))
        if not words and not patterns:
            problems.append(f"{where}: needs 'words' or 'patterns'")
        out.append(
            Synonym(
                tuple(" ".join(str(w).lower().split()) for w in words),
                patterns,
                problems.text(where, entry, "means"),
                problems.text(where, entry, "flow", required=False),
                problems.ids(where, entry.get("documents")),
            )
        )
    return tuple(out)


def _roles(data: dict, problems: _Problems) -> tuple[RoleRule, ...]:
    roles = data.get("roles") or {}
    if not isinstance(roles, dict):
        problems.append("roles.yaml: 'roles' must map each role to its label, patterns and first words")
        return ()
    missing = [r for r in ROLES if r not in roles]
    if missing:
        problems.append(f"roles.yaml: no entry for {', '.join(missing)}; every role needs one: {', '.join(ROLES)}")
    out = []
    for name, entry in roles.items():
        where = f"roles.yaml: role {name}"
        if name not in ROLES:
            problems.append(f"{where}: unknown role; the roles are {', '.join(ROLES)}")
            continue
        if not problems.keys(where, entry, {"label", "patterns", "first", "not_covered", "sections"}):
            continue
        out.append(
            RoleRule(
                name,
                problems.text(where, entry, "label"),
                problems.patterns(f"{where} patterns", entry.get("patterns")),
                problems.text(where, entry, "first"),
                problems.text(where, entry, "not_covered"),
                problems.patterns(f"{where} sections", entry.get("sections")),
            )
        )
    return tuple(sorted(out, key=lambda r: ROLES.index(r.role)))


def load_language(folder: Path, flow_ids: set[str] | None = None, contact_ids: set[str] | None = None) -> Language:
    """Read and check the rules in `folder`; with `flow_ids` / `contact_ids`, every flow and contact they name must exist."""
    problems = _Problems()
    cues_data = _read(folder, "cues.yaml", problems)
    cues, _fragments = _cues(cues_data, problems) if cues_data else ((), {})
    words = cues_data.get("spelling_words") or []
    language = Language(
        cues=cues,
        spelling_words=tuple(sorted({*map(str, words), *(w for c in cues for p in c.patterns for w in re.findall(r"[a-z]{5,}", re.sub(r"\\[a-zA-Z]", " ", p.pattern)))})),
        never_corrected=frozenset(map(str, cues_data.get("never_corrected") or [])),
        about_words=problems.patterns("cues.yaml about_words", cues_data.get("about_words")),
        concrete=problems.patterns("cues.yaml concrete", cues_data.get("concrete")),
        requests=_requests(_read(folder, "requests.yaml", problems), problems),
        synonyms=_synonyms(_read(folder, "synonyms.yaml", problems), problems),
        roles=_roles(_read(folder, "roles.yaml", problems), problems),
    )
    if flow_ids is not None:
        named = [(f"cue {c.name}", c.flow) for c in language.cues] + [("synonym " + s.means[:30], s.flow) for s in language.synonyms if s.flow]
        problems.extend(f"{where}: unknown flow {flow!r}; flows: {', '.join(sorted(flow_ids))}" for where, flow in named if flow not in flow_ids)
    if contact_ids is not None:
        problems.extend(f"roles.yaml: unknown contact {{{cid}}}; contacts: {', '.join(sorted(contact_ids))}" for cid in sorted(language.contact_ids() - contact_ids))
    if problems:
        raise LanguageError(f"the language rules in {folder} have {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return language


SHIPPED_DIR = PROJECT_ROOT / "corpus" / LANGUAGE_DIR


def language_dir(corpus_dir: Path) -> Path:
    """The corpus's own rules folder, or the shipped one when the corpus has none."""
    own = Path(corpus_dir) / LANGUAGE_DIR
    return own if own.is_dir() else SHIPPED_DIR


@lru_cache(maxsize=4)
def shipped_language(folder: Path = SHIPPED_DIR) -> Language:
    """The rules in a folder, read once per process (the shipped corpus's by default)."""
    return load_language(folder)
