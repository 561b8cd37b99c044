"""The report beside Publish: what publishing the staged index version changes for users, in the
editors' words, and whether that version still matches the corpus.

It is worked out from the two versions themselves (the staged one and the one serving answers:
their manifests and chunk tables), so every session shows the same report, after a reload too:

- documents by title, and in each changed document the sections added, changed and removed, by
  their heading question, each changed one with its old and its new text;
- the documents the re-index skipped and why (from the report kept with the staged version,
  `report.json`);
- the guided-flow steps that cite a section that changed or disappeared, each step once, by its
  question (from the staged version's own copy of the flows, which is what would be served);
- the guided flows users have now that publishing would stop offering, by title, each with the
  steps that stop it, by their question (a quoted sentence gone, a cited section gone, an answer
  leading into another flow that goes too): the very list the publish gate refuses on;
- how the corpus folder differs from the files the staged version was built from (a document
  saved, added or deleted since): then it cannot be published, and a re-index builds one that can.

Versions are named by what happened to them, when and by whom ("published 2 December 2026 at
15:40 by Sam", in UK time); their generation names (gen-000004) are kept for support only.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kb.audit import NO_NAME, Action, AuditLog, Entry
from kb.errors import DocumentError
from kb.index.chunk_db import read_chunks
from kb.index.documents import corpus_digests, load_document_bytes
from kb.index.generations import Generation

log = logging.getLogger(__name__)

LOCAL_TIME = "Europe/London"  # the partnership's own clock: times are shown in it, not in UTC
OPENING_TEXT = "The opening text, before the first heading"  # a document's text above its first heading
AUDIT_LOOKBACK = 5000  # audit entries searched for who published a version
_TOKEN = re.compile(r"\s+|\S+")


class Change(Enum):
    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"


# names and times in words


def time_in_words(at: str) -> str:
    """An ISO 8601 time as the editors' clock shows it: '2 December 2026 at 15:40'. Text that is
    not a time comes back unchanged; without a time-zone database the time is given in UTC."""
    try:
        moment = dt.datetime.fromisoformat(str(at).strip())
    except ValueError:
        return str(at or "")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    try:
        local, zone = moment.astimezone(ZoneInfo(LOCAL_TIME)), ""
    except ZoneInfoNotFoundError:
        local, zone = moment.astimezone(dt.UTC), " UTC"
    return f"{local.day} {local:%B %Y} at {local:%H:%M}{zone}"


@dataclass(frozen=True)
class VersionName:
    """An index version as editors know it: what happened to it, when and by whom."""

    generation: str  # gen-000004: for support, never the name an editor reads
    event: str  # "built", "published" or "brought back by a rollback"
    at: str = ""  # ISO 8601
    editor: str = ""

    def __str__(self) -> str:
        when = f" {time_in_words(self.at)}" if self.at else ""
        who = f" by {self.editor}" if self.editor and self.editor != NO_NAME else ""
        return f"{self.event}{when}{who}"


def staged_name(gen: Generation, audit: AuditLog | None = None) -> VersionName:
    """A staged version: 'built 2 December 2026 at 15:40 by Sam'."""
    return built_name(gen.name, gen, _entries(audit))


def built_name(name: str, gen: Generation | None, entries: Iterable[Entry] = ()) -> VersionName:
    """Any index version by when it was built and by whom: 'built 2 December 2026 at 15:40 by Sam',
    from its own build report, or (a version no longer kept: `gen` None or gone) from the audit
    log's re-index that built it. `at` and `editor` stay "" when neither says."""
    report = (gen.build_report() or {}) if gen is not None else {}
    at, editor = report.get("created", ""), report.get("editor", "")
    if not at:
        at = _manifest(gen).get("created", "")
    if not (at and editor):
        built = next((e for e in entries if e.action is Action.REINDEXED and e.generation == name), None)
        if built is not None:
            at, editor = at or built.at, editor or built.editor
    return VersionName(name, "built", at, editor)


def _entries(audit: AuditLog | None) -> Iterator[Entry]:
    """The audit log's latest entries, read only when something asks for them."""
    if audit is not None:
        yield from audit.read(AUDIT_LOOKBACK)


def served_name(gen: Generation, audit: AuditLog | None = None) -> VersionName:
    """A served (or earlier served) version: 'published 2 December 2026 at 15:40 by Sam', from the
    audit log's newest publish or rollback to it; 'built ...' when the log does not say."""
    served = (Action.PUBLISHED, Action.PUBLISHED_DESPITE, Action.ROLLED_BACK)
    entry = None
    if audit is not None:
        entry = next((e for e in audit.read(AUDIT_LOOKBACK) if e.action in served and e.generation == gen.name), None)
    if entry is None:
        return VersionName(gen.name, "built", _manifest(gen).get("created", ""))
    event = "brought back by a rollback" if entry.action is Action.ROLLED_BACK else "published"
    return VersionName(gen.name, event, entry.at, entry.editor)


# the corpus since a version was built


@dataclass(frozen=True)
class DocumentRef:
    file: str
    title: str = ""

    def __str__(self) -> str:
        return f"“{self.title}” ({self.file})" if self.title else self.file


@dataclass(frozen=True)
class CorpusDrift:
    """How the corpus folder differs from the files an index version was built from."""

    saved: tuple[DocumentRef, ...] = ()  # changed since
    added: tuple[DocumentRef, ...] = ()
    deleted: tuple[DocumentRef, ...] = ()
    flows_changed: bool = False
    unknown: bool = False  # the version keeps no record of its files (built before it was kept): nothing to compare

    @property
    def matches(self) -> bool:
        return not (self.saved or self.added or self.deleted or self.flows_changed)

    @property
    def files(self) -> list[str]:
        return [d.file for d in (*self.saved, *self.added, *self.deleted)]

    def lines(self) -> list[str]:
        """Each difference in words: 'saved since: “Head lice” (head-lice.md)'."""
        out = [f"{label}: {', '.join(map(str, refs))}" for label, refs in (("saved since", self.saved), ("added since", self.added), ("deleted since", self.deleted)) if refs]
        if self.flows_changed:
            out.append("the guided flows were changed since")
        return out


def corpus_drift(manifest: Mapping, corpus_dir: Path, flows_digest: str | None = None) -> CorpusDrift:
    """Compare the corpus files' digests now with the ones the version of `manifest` was built
    from (its `files`), and the flows' digest with its `flows` when both are known."""
    built_from = manifest.get("files")
    if not isinstance(built_from, dict):
        return CorpusDrift(unknown=True)
    now = corpus_digests(corpus_dir)
    titles = {entry.get("path"): entry.get("title", "") for entry in (manifest.get("documents") or {}).values() if isinstance(entry, dict)}
    saved = [DocumentRef(f, titles.get(f, "")) for f in sorted(set(now) & set(built_from)) if now[f] != built_from[f]]
    added = [DocumentRef(f, _title_in(Path(corpus_dir), f)) for f in sorted(set(now) - set(built_from))]
    deleted = [DocumentRef(f, titles.get(f, "")) for f in sorted(set(built_from) - set(now))]
    flows = flows_digest is not None and manifest.get("flows") is not None and manifest.get("flows") != flows_digest
    return CorpusDrift(tuple(saved), tuple(added), tuple(deleted), flows)


def _title_in(corpus_dir: Path, name: str) -> str:
    try:
        return load_document_bytes((corpus_dir / name).read_bytes(), name).title
    except (OSError, DocumentError):
        return ""


# what publishing changes


@dataclass(frozen=True)
class SectionChange:
    heading: str  # the section's heading question
    change: Change
    before: str = ""  # the text served now ("" for an added section)
    after: str = ""  # the text publishing would serve ("" for a removed one)
    was: str = ""  # a changed section whose question was reworded: the question served now

    @property
    def reworded_only(self) -> bool:
        """Only its question was reworded; the text is the same."""
        return bool(self.was) and self.before == self.after


@dataclass(frozen=True)
class ChangedDocument:
    document: DocumentRef
    change: Change
    sections: tuple[SectionChange, ...] = ()

    def of(self, change: Change) -> list[SectionChange]:
        return [s for s in self.sections if s.change is change]


@dataclass(frozen=True)
class SkippedDocument:
    document: DocumentRef
    reason: str
    line: int | None = None
    field: str | None = None
    kept_previous: bool = False  # its last good version is served instead

    @property
    def where(self) -> str:
        return "".join([f", line {self.line}" if self.line else "", f", field {self.field}" if self.field else ""])


@dataclass(frozen=True)
class FlowStep:
    """A guided-flow step whose cited text changed or disappeared."""

    flow: str  # the flow's title
    step: str  # its question (or, for an outcome, what it tells the user)
    sections: tuple[str, ...]  # the cited sections affected: '“heading” in “document title”'
    removed: bool  # at least one of them is gone


@dataclass(frozen=True)
class DropReason:
    """Why a guided flow would no longer be offered: one of its steps, by its question, and what is wrong with it."""

    step: str  # the step's question (or what an outcome tells the user); "" for the flow as a whole
    why: str  # 'quotes “...”, which is no longer in “heading” in “document title”'

    def __str__(self) -> str:
        return f"the step “{self.step}” {self.why}" if self.step else self.why


@dataclass(frozen=True)
class DroppedFlow:
    """A guided flow users have now that publishing would stop offering, by its title, and why."""

    flow: str  # its title
    reasons: tuple[DropReason, ...]

    def __str__(self) -> str:
        return f"“{self.flow}”: {'; '.join(map(str, self.reasons))}"


@dataclass(frozen=True)
class StagedReview:
    version: VersionName  # the staged one
    serving: VersionName | None  # the one answering now (None: nothing is served yet)
    documents: tuple[ChangedDocument, ...]
    skipped: tuple[SkippedDocument, ...]
    flow_steps: tuple[FlowStep, ...]
    flows_changed: bool  # its guided flows differ from the served ones
    drift: CorpusDrift  # the corpus since it was built
    report_kept: bool = True  # False: built before reports were kept, so the skipped documents are not known
    dropped_flows: tuple[DroppedFlow, ...] = ()  # flows users have now that it would stop offering: Publish refuses without a reason

    @property
    def generation(self) -> str:
        return self.version.generation

    @property
    def publishable(self) -> bool:
        return self.drift.matches

    def count(self, change: Change) -> int:
        return sum(d.change is change for d in self.documents)

    def lines(self) -> list[str]:
        """The report as plain lines (for the command line)."""
        out = [f"The version {self.version}; serving now: {'the version ' + str(self.serving) if self.serving else 'nothing yet'}."]
        for doc in self.documents:
            out.append(f"{doc.change.value.capitalize()}: {doc.document}")
            for change in Change:
                for section in doc.of(change) if doc.change is Change.CHANGED else ():
                    was = f" (was “{section.was}”)" if section.was else ""
                    out.append(f"  section {change.value}: “{section.heading}”{was}")
        for skipped in self.skipped:
            kept = " (its last good version stays)" if skipped.kept_previous else ""
            out.append(f"Skipped: {skipped.document}{skipped.where}: {skipped.reason}{kept}")
        for step in self.flow_steps:
            out.append(f"Flow “{step.flow}”, step “{step.step}”: cited text {'removed' if step.removed else 'changed'} ({'; '.join(step.sections)})")
        for flow in self.dropped_flows:
            out.append(f"Would stop offering the guided flow {flow}")
        if self.flows_changed:
            out.append("The guided flows changed too.")
        return out


def review_staged(staged: Generation, served: Generation | None, flows, drift: CorpusDrift, audit: AuditLog | None = None, dropped: tuple[DroppedFlow, ...] = ()) -> StagedReview:
    """The report of `staged` against `served`; `flows` is the staged version's FlowLibrary;
    `dropped` the flows publishing it would stop offering (`dropped_flows`, as the gate finds them)."""
    before, after = (_manifest(served) if served else {}), _manifest(staged)
    documents = _changed_documents(served, staged, before, after)
    old_secs, new_secs = before.get("sections", {}), after.get("sections", {})
    changed = {s for s, h in new_secs.items() if s in old_secs and old_secs[s] != h}
    removed = set(old_secs) - set(new_secs)
    report = staged.build_report()
    return StagedReview(
        version=staged_name(staged, audit),
        serving=served_name(served, audit) if served else None,
        documents=documents,
        skipped=_skipped(report or {}, after, before),
        flow_steps=_flow_steps(flows, changed, removed, served, staged, before, after),
        flows_changed=served is not None and before.get("flows") != after.get("flows"),
        drift=drift,
        report_kept=report is not None,
        dropped_flows=dropped,
    )


def _changed_documents(old: Generation | None, new: Generation, before: Mapping, after: Mapping) -> tuple[ChangedDocument, ...]:
    old_docs, new_docs = before.get("documents", {}), after.get("documents", {})
    out = []
    for doc_id in set(old_docs) | set(new_docs):
        was, now = old_docs.get(doc_id), new_docs.get(doc_id)
        if was and now and was.get("hash") == now.get("hash"):
            continue
        entry = now or was
        ref = DocumentRef(entry.get("path", ""), entry.get("title", ""))
        change = Change.ADDED if was is None else Change.REMOVED if now is None else Change.CHANGED
        old_sections = _sections(old, doc_id) if was and old else {}
        new_sections = _sections(new, doc_id) if now else {}
        sections = [
            SectionChange(new_sections[s][0], Change.CHANGED, old_sections[s][1], new_sections[s][1])
            for s in new_sections
            if s in old_sections and old_sections[s] != new_sections[s]
        ]
        added = [SectionChange(h, Change.ADDED, after=t) for s, (h, t) in new_sections.items() if s not in old_sections]
        removed = [SectionChange(h, Change.REMOVED, before=t) for s, (h, t) in old_sections.items() if s not in new_sections]
        if change is Change.CHANGED:
            sections += _reworded(added, removed)
        out.append(ChangedDocument(ref, change, tuple(sections + added + removed)))
    order = {Change.CHANGED: 0, Change.ADDED: 1, Change.REMOVED: 2}
    return tuple(sorted(out, key=lambda d: (order[d.change], d.document.title.lower(), d.document.file)))


def _reworded(added: list[SectionChange], removed: list[SectionChange]) -> list[SectionChange]:
    """A section added with the very text of one removed is the same section with its question
    reworded (its id follows the question): taken out of both lists, and returned as changed."""
    out = []
    for new in list(added):
        old = next((r for r in removed if r.before == new.after), None)
        if old is not None:
            added.remove(new)
            removed.remove(old)
            out.append(SectionChange(new.heading, Change.CHANGED, old.before, new.after, was=old.heading))
    return out


def _sections(gen: Generation, doc_id: str) -> dict[str, tuple[str, str]]:
    """section id -> (heading question, whole text), in the document's order."""
    out: dict[str, tuple[str, list[str]]] = {}
    try:
        records = read_chunks(gen.chunks_db, doc_id)
    except Exception as exc:  # noqa: BLE001 - a damaged chunk table: the report says less, the publish gate still holds
        log.warning("could not read the sections of %s in %s: %s", doc_id, gen.name, exc)
        return {}
    for r in records:
        heading = OPENING_TEXT if r.get("slug") == "overview" else (r.get("section") or OPENING_TEXT)
        out.setdefault(r["section_id"], (heading, []))[1].append(r["text"])
    return {sid: (heading, "\n".join(parts)) for sid, (heading, parts) in out.items()}


def _skipped(report: Mapping, after: Mapping, before: Mapping) -> tuple[SkippedDocument, ...]:
    docs = {**before.get("documents", {}), **after.get("documents", {})}
    title_of_path = {e.get("path"): e.get("title", "") for e in docs.values() if isinstance(e, dict)}
    kept_paths = {docs[d].get("path") for d in report.get("kept_previous") or () if d in docs}
    out = []
    for error in report.get("errors") or ():
        file = str(error.get("file", ""))
        out.append(SkippedDocument(DocumentRef(file, title_of_path.get(file, "")), str(error.get("reason", "")), error.get("line"), error.get("field"), file in kept_paths))
    return tuple(out)


def _flow_steps(flows, changed: set[str], removed: set[str], served: Generation | None, staged: Generation, before: Mapping, after: Mapping) -> tuple[FlowStep, ...]:
    if not (changed or removed) or flows is None:
        return ()
    hits = flows.affected_by(changed, removed)
    steps: dict[tuple[str, str], list[dict]] = {}
    for hit in hits:  # by the words an editor reads: two steps of one flow asking the same question are one line
        steps.setdefault((hit["flow"], _step_words(flows[hit["flow"]].nodes[hit["node"]])), []).append(hit)
    if not steps:
        return ()
    headings = {**_headings(served, {h["section"] for h in hits}), **_headings(staged, {h["section"] for h in hits})}
    titles = {doc_id: e.get("title", doc_id) for doc_id, e in {**before.get("documents", {}), **after.get("documents", {})}.items()}
    out = []
    for (flow_id, step), cites in steps.items():
        flow = flows[flow_id]
        named = []
        for cite in cites:
            doc_id = cite["section"].split("#", 1)[0]
            label = f"“{headings.get(cite['section'], OPENING_TEXT)}” in “{titles.get(doc_id, doc_id)}”"
            if label not in named:
                named.append(label)
        out.append(FlowStep(flow.title, step, tuple(named), any(c["change"] == "removed" for c in cites)))
    return tuple(out)


def dropped_flows(
    served_flows, staged_flows, offered: set[str], sections: Mapping[str, str], problems: Iterable, served: Generation | None, staged: Generation
) -> tuple[DroppedFlow, ...]:
    """The flows served now (`served_flows`) that the staged version would not offer (not in
    `offered`, the ids of `staged_flows` that are valid against its text `sections`), by title, each
    with the steps that stop it: a quoted sentence or a cited section gone, an answer leading into
    another flow that goes too, or (named by the flow check, `problems`) anything else."""
    gone = sorted((f for f in served_flows if f not in offered), key=lambda f: served_flows[f].title.lower())
    if not gone:
        return ()
    cited = {c.section for f in gone if f in staged_flows for node in staged_flows[f].nodes.values() for c in node.cites}
    headings = {**_headings(served, cited), **_headings(staged, cited)}
    titles = {doc_id: e.get("title", doc_id) for doc_id, e in {**_manifest(served).get("documents", {}), **_manifest(staged).get("documents", {})}.items()}

    def section_words(section_id: str) -> str:
        doc_id = section_id.split("#", 1)[0]
        return f"“{headings.get(section_id, OPENING_TEXT)}” in “{titles.get(doc_id, 'a document no longer in the index')}”"

    out = []
    for flow_id in gone:
        if flow_id not in staged_flows:
            out.append(DroppedFlow(served_flows[flow_id].title, (DropReason("", "it is not among this version's guided flows (its file was removed)"),)))
            continue
        flow = staged_flows[flow_id]
        reasons: list[DropReason] = []
        for node in flow.nodes.values():
            step = _step_words(node)
            for cite in node.cites:
                text = sections.get(cite.section)
                if text is None:
                    reasons.append(DropReason(step, f"cites {section_words(cite.section)}, which this version no longer has"))
                elif cite.quote and " ".join(cite.quote.split()) not in " ".join(text.split()):
                    reasons.append(DropReason(step, f"quotes “{_shortened(cite.quote)}”, which is no longer in {section_words(cite.section)}"))
            for option in node.options:
                target = option.goto.split("#", 1)[0]
                if option.goto and target not in offered:
                    into = staged_flows[target].title if target in staged_flows else served_flows[target].title if target in served_flows else "another flow"
                    reasons.append(DropReason(step, f"leads (answer “{option.label}”) into the flow “{into}”, which would no longer be offered either"))
        named = {r.step for r in reasons}
        for problem in problems:  # anything else the flow check finds in this flow's file
            if problem.file != Path(flow.path or f"{flow.id}.yaml").name:
                continue
            node = flow.nodes.get(problem.node)
            step = _step_words(node) if node is not None else ""
            if (step and step not in named) or not (step or reasons):
                reasons.append(DropReason(step, "has a problem that the flow check names" if step else "its file has a problem that the flow check names"))
                named.add(step)
        out.append(DroppedFlow(flow.title, tuple(dict.fromkeys(reasons))))  # each reason once, in the flow's order
    return tuple(out)


def _step_words(node) -> str:
    """A flow step as its users read it: its question, or for an outcome what it tells them."""
    return " ".join((node.question or node.outcome or node.protocol or "").split())


def _shortened(quote: str, limit: int = 140) -> str:
    words = " ".join(quote.split())
    return words if len(words) <= limit else words[:limit].rsplit(" ", 1)[0] + "…"


def _headings(gen: Generation | None, section_ids: set[str]) -> dict[str, str]:
    if gen is None:
        return {}
    out: dict[str, str] = {}
    for doc_id in {s.split("#", 1)[0] for s in section_ids}:
        out.update({sid: heading for sid, (heading, _text) in _sections(gen, doc_id).items() if sid in section_ids})
    return out


def _manifest(gen: Generation | None) -> dict:
    if gen is None:
        return {}
    try:
        manifest = gen.manifest()
    except Exception:  # noqa: BLE001 - an unreadable manifest says nothing; the gate checks the files themselves
        return {}
    return manifest if isinstance(manifest, dict) else {}


# the old and the new text, word by word


def word_difference(before: str, after: str) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """The two texts cut into runs, each marked True where it differs: on the before side the
    words taken out, on the after side the words put in. Joined, each side is its text exactly."""
    a, b = _TOKEN.findall(before), _TOKEN.findall(after)
    old: list[tuple[str, bool]] = []
    new: list[tuple[str, bool]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        old += [(t, op != "equal") for t in a[i1:i2]]
        new += [(t, op != "equal") for t in b[j1:j2]]
    return _runs(old), _runs(new)


def _runs(tokens: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """Tokens joined into runs: a space between two changed words is part of the change, a space
    at either end of one is not (a change of spacing alone is not worth marking)."""
    marked = [(text, changed if text.strip() else _changed_word(tokens, i, -1) and _changed_word(tokens, i, 1)) for i, (text, changed) in enumerate(tokens)]
    runs: list[tuple[str, bool]] = []
    for text, changed in marked:
        if runs and runs[-1][1] == changed:
            runs[-1] = (runs[-1][0] + text, changed)
        else:
            runs.append((text, changed))
    return runs


def _changed_word(tokens: list[tuple[str, bool]], i: int, step: int) -> bool:
    """The nearest word before (step -1) or after (step 1) token i is changed."""
    i += step
    while 0 <= i < len(tokens) and not tokens[i][0].strip():
        i += step
    return 0 <= i < len(tokens) and tokens[i][1]
