"""The service layer: the one API that the command line and the Streamlit app both call.

It owns the settings, the loaded model (once), the searcher that follows the served index
generation, the answer composer, the flows and the editor's document operations. Every editor
action it runs (re-index, publish, rollback, corpus restore) is recorded once in the audit log
(`kb.audit`), with the editor's name; `kb.editor` records the document actions.

The publish gate: a staged version is published only while it matches the corpus (no document
saved, added or deleted since it was built, `kb.review.corpus_drift`), only while it is still the
one waiting (not published by someone else already, nor replaced by a newer re-index, nor rolled
back from), and not when it would stop offering a guided flow users have now, unless the editor
says why (the flows it would drop are named, by title, in the report beside Publish and in the
refusal alike).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable
from functools import cached_property
from pathlib import Path

from kb import editor as editor_ops
from kb.answer import Answer
from kb.audit import Action, AuditLog, Entry
from kb.composer import AnswerComposer
from kb.config import Settings
from kb.contacts import Contact, load_contacts
from kb.drafts import DraftStore
from kb.errors import FlowGateError, IndexDamagedError, IndexNotReadyError, KBError, StagedOutOfDateError, VersionGoneError
from kb.index import history
from kb.index.chunk_db import read_chunks
from kb.index.documents import LoadResult, load_corpus
from kb.index.generations import Generation, GenerationStore
from kb.index.indexer import FlowSnapshot, Indexer, IndexReport
from kb.index.pipelines import point_alias
from kb.index.searcher import Passage, Searcher
from kb.language import SHIPPED_DIR, Language, language_dir, load_language
from kb.review import AUDIT_LOOKBACK, CorpusDrift, DroppedFlow, StagedReview, VersionName, built_name, corpus_drift, dropped_flows, review_staged, served_name, staged_name
from kb.safety import Safety

log = logging.getLogger(__name__)


class KnowledgeBase:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings.from_env()
        self.generations = GenerationStore.of(self.settings)
        self._lock = threading.RLock()

    # the heavy parts, loaded once and on first use

    @cached_property
    def searcher(self) -> Searcher:
        searcher = Searcher(self.settings)
        searcher.warm_up()
        return searcher

    @cached_property
    def indexer(self) -> Indexer:
        return Indexer(self.settings)

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.settings.data_dir)

    @cached_property
    def composer(self) -> AnswerComposer:
        flows = self.flows
        return AnswerComposer(self.searcher, self.contacts, self.language, flows.flows_for_doc(), set(flows.ids()))

    @cached_property
    def language(self) -> Language:
        """The editors' language rules (corpus/language/), checked against the flows and contacts."""
        folder = language_dir(self.settings.corpus_dir)
        # The shipped rules name the shipped contacts; a corpus that brings neither its own rules nor contacts is not held to them.
        contacts = set(self.contacts) if self.contacts or folder != SHIPPED_DIR else None
        return load_language(folder, set(self.flow_library.ids()), contacts)

    @cached_property
    def contacts(self) -> dict[str, Contact]:
        return load_contacts(self.settings.corpus_dir)

    @cached_property
    def flow_library(self):
        """Every guided flow of the served index generation (each keeps a copy of the flows it was
        built with), or of the corpus before there is an index; valid or not."""
        return self._flows_in(self.generations.whole_current_or_none())

    @cached_property
    def _served_flows(self):
        sections = None
        served = self.generations.whole_current_or_none()
        if served is not None:
            try:
                sections = self.section_texts(served.name)  # from its chunk table: checking flows (and the publish gate) loads no model
            except (sqlite3.DatabaseError, OSError, KBError):
                sections = {sid: p.text for sid, p in self.sections().items()}  # a damaged generation: the searcher serves around it
        return self.flow_library.valid(sections, set(self.contacts))

    @property
    def flows(self):
        """The guided flows that are served: valid against the served index and the contacts."""
        return self._served_flows[0]

    @property
    def flow_problems(self) -> list:
        """Why each flow that is not served is left out (for the Editor page and `kb flows check`)."""
        return self._served_flows[1]

    def flow_check(self, generation: str | None = None, working_copy: bool = False) -> list:
        """Every problem of the flows of an index generation (the served one, or a named staged
        one) against that generation's text and the contacts; with `working_copy`, of the flows
        in the corpus folder (as editors are changing them) against the served text."""
        sections = self.section_texts(generation)
        library = self._flows_in(None) if working_copy else self._flows_in(self.generations.get(generation) if generation else self.generations.current())
        return library.check(sections, set(self.contacts))

    def _flows_in(self, generation: Generation | None):
        from kb.flows.library import FLOWS_DIR, FlowLibrary, flows_dir

        if generation is not None and (generation.path / FLOWS_DIR).is_dir():
            return FlowLibrary.load_dir(generation.path / FLOWS_DIR)
        return FlowLibrary.load_dir(flows_dir(self.settings.corpus_dir))

    def _forget_flows(self) -> None:
        for name in ("flow_library", "_served_flows", "composer", "language"):
            self.__dict__.pop(name, None)

    # index

    def has_index(self) -> bool:
        return self.generations.current_or_none() is not None

    def index(
        self, corpus_dir: Path | None = None, progress: Callable[[str, int, int], None] | None = None, publish: bool = True, editor: str = "", reason: str = ""
    ) -> IndexReport:
        """Re-index the corpus against the served generation; with `publish=False` the new
        generation is staged (see `staged` and `publish`) and the served one keeps answering.
        Recorded in the audit log as `editor`'s (and as published too, when it serves a new generation)."""
        report = self.indexer.run(corpus_dir, progress, publish=publish, editor=editor)
        self.audit.record(Action.REINDEXED, editor, generation=report.generation or "", previous=report.previous_generation or "", reason=reason)
        if report.switched:
            self.audit.record(Action.PUBLISHED, editor, generation=report.generation or "", previous=report.previous_generation or "")
        if report.changed_sections or report.removed_sections:
            report.affected_flow_nodes = self._flows_in(None).affected_by(set(report.changed_sections), set(report.removed_sections))
        self.__dict__.pop("contacts", None)
        if report.switched:
            self._forget_flows()
        if "composer" in self.__dict__:
            self.composer.contacts = self.contacts
        return report

    def ensure_index(self, progress: Callable[[str, int, int], None] | None = None) -> IndexReport | None:
        """Build the index when there is none yet; otherwise leave the served one alone."""
        if self.has_index():
            return None
        return self.index(progress=progress, editor="The assistant itself", reason="there was no index yet")

    def staged(self) -> Generation | None:
        """The version waiting to be published: the newest complete generation newer than the
        served one (built, not published), or None. A generation rolled back from is newer than
        the served one too, but it is not offered again: a re-index builds a new version."""
        gen = self.generations.staged()
        return None if gen is None or self._rolled_back_from(gen) else gen

    def _rolled_back_from(self, gen: Generation) -> bool:
        """`gen` served, and a rollback replaced it since it was built. From the audit log, newest
        first: a rollback from its name before any re-index that built it, since a generation
        removed after a rollback leaves its name to the next one built (times there are to the
        second, too coarse to tell the two apart)."""
        for entry in self.audit.read(AUDIT_LOOKBACK):
            if entry.action is Action.ROLLED_BACK and entry.previous == gen.name:
                return True
            if entry.action is Action.REINDEXED and entry.generation == gen.name and entry.previous != gen.name:
                return False
        return False

    def corpus_drift(self, generation: str | None = None) -> CorpusDrift:
        """How the corpus folder differs from the files the served version (or the named one) was
        built from: the documents saved, added or deleted since, and whether the flows changed.
        With nothing served, every document counts as added."""
        gen = self.generations.get(generation) if generation else self.generations.whole_current_or_none()
        manifest = {"files": {}} if gen is None else gen.manifest()
        return corpus_drift(manifest, self.settings.corpus_dir, FlowSnapshot.of(self.settings.corpus_dir).digest)

    def staged_review(self) -> StagedReview | None:
        """The report of the version waiting to be published, against the one serving now: what
        publishing it changes, in words, and whether it still matches the corpus. None when no
        version is waiting."""
        staged = self.staged()
        if staged is None:
            return None
        served = self.generations.whole_current_or_none()
        try:
            dropped = self.flows_publishing_would_drop(staged.name)
        except (sqlite3.DatabaseError, OSError) as exc:  # a damaged chunk table: the report says less, the publish gate still holds
            log.warning("could not check which flows publishing %s would drop: %s", staged.name, exc)
            dropped = ()
        return review_staged(staged, served, self._flows_in(staged), self.corpus_drift(staged.name), self.audit, dropped)

    def version_name(self, generation: str) -> VersionName:
        """A version as editors know it: 'published 2 December 2026 at 15:40 by Sam' (served now or
        before), or 'built ... by ...' (staged)."""
        gen = self.generations.get(generation)
        served = self.generations.whole_current_or_none()
        if served is None or gen.number > served.number:
            return staged_name(gen, self.audit)
        return served_name(gen, self.audit)

    def built_names(self, generations: Iterable[str]) -> dict[str, VersionName]:
        """Index versions by when they were built and by whom ('built 2 December 2026 at 15:40 by
        Sam'), the ones no longer kept too (from the audit log's re-index that built them); for the
        audit log in words, where a version's name must not change as it is published or rolled back."""
        names = set(generations)
        entries = self.audit.read(AUDIT_LOOKBACK) if names else []
        out = {}
        for name in names:
            try:
                gen = self.generations.get(name)
            except KBError:  # not a generation name: said as it is
                gen = None
            out[name] = built_name(name, gen, entries)
        return out

    def served_version(self) -> VersionName | None:
        """The version answering questions, named for editors; None when none is (or it is damaged)."""
        served = self.generations.whole_current_or_none()
        return served_name(served, self.audit) if served is not None else None

    def drafts(self, editor: str) -> DraftStore:
        """`editor`'s unsaved drafts, kept on disk (see `kb.drafts`)."""
        return DraftStore(self.settings.data_dir, editor)

    def flows_publishing_would_drop(self, name: str) -> tuple[DroppedFlow, ...]:
        """The flows served now that would no longer be offered if `name` were published, by
        title, each with the steps that stop it (a quoted sentence gone, a cited section removed,
        an answer leading into another flow that goes too): the publish gate, and its report."""
        return self._flow_gate(name)[0]

    def _flow_gate(self, name: str) -> tuple[tuple[DroppedFlow, ...], list]:
        """(the flows publishing `name` would stop offering, the flow check's problems in their files)."""
        if self.generations.current_name() is None:
            return (), []  # nothing is served yet, so no flow can be dropped
        served, staged_gen = self.flows, self.generations.get(name)
        staged = self._flows_in(staged_gen)
        sections = self.section_texts(name)
        offered, problems = staged.valid(sections, set(self.contacts))
        dropped = dropped_flows(served, staged, set(offered.ids()), sections, problems, self.generations.whole_current_or_none(), staged_gen)
        if not dropped:
            return (), []
        files = {Path(staged[f].path).name for f in set(served) - set(offered.ids()) if f in staged}
        return dropped, [p for p in problems if p.file in files]

    def publish(self, name: str | None = None, despite: str = "", editor: str = "") -> tuple[str | None, str]:
        """Serve a staged generation: `name`, or the newest staged one. Returns (was serving, now serving).

        Refused (StagedOutOfDateError) when the corpus changed since it was built; refused
        (VersionGoneError) when `name` is no longer waiting: published already, or replaced by a
        newer re-index. Refused (FlowGateError) when it would stop serving a flow that is served
        now, unless `despite` says why (the reason is logged, and kept in the audit log with
        `editor`'s name)."""
        target = name or getattr(self.staged(), "name", None)
        if target is not None:
            self._check_waiting(target)
            self._check_matches_corpus(target)
        dropped, problems = self._flow_gate(target) if target is not None else ((), [])
        if dropped and not despite.strip():
            raise FlowGateError(target, list(dropped), problems)
        if dropped:
            log.warning("publishing %s despite flow problems, because: %s", target, " ".join(despite.split())[:300])
        with self.generations.lock():
            served = self.generations.current_name()
            if name is None:
                gen = self.staged()
                if gen is None:
                    serving = f"serving {served}" if served else "no index is served yet"
                    raise KBError(f"no staged index generation to publish ({serving}); run 'kb index --stage' to build one")
            else:
                gen = self._check_waiting(name)
            self._check_matches_corpus(gen.name)  # again, now that no other publish can run
            self.indexer.publish(gen)
        self._forget_flows()
        self.audit.record(Action.PUBLISHED_DESPITE if dropped else Action.PUBLISHED, editor, generation=gen.name, previous=served or "", reason=despite)
        return served, gen.name

    def _check_waiting(self, name: str) -> Generation:
        """The staged generation `name`, or VersionGoneError saying what became of it."""
        gen = self.generations.get(name)
        served = self.generations.current_name()
        staged = getattr(self.staged(), "name", None)
        if not gen.is_complete():
            raise VersionGoneError(name, f"{name} is not a complete index generation (a later re-index may have replaced it); re-index to build a new one", served, staged)
        if served is not None and gen.number <= self.generations.get(served).number:
            raise VersionGoneError(name, f"{name} is not newer than the served generation {served}; use 'kb index --rollback' to go back", served, staged)
        if self._rolled_back_from(gen):
            raise VersionGoneError(name, f"{name} was rolled back from, so it is not published again; re-index ('kb index --stage') to build a new version", served, staged)
        return gen

    def _check_matches_corpus(self, name: str) -> None:
        drift = self.corpus_drift(name)
        if not drift.matches:
            raise StagedOutOfDateError(name, drift.lines(), drift.files)

    def rollback(self, editor: str = "") -> tuple[str, str]:
        """Serve the newest earlier generation whose files are whole. Returns (was serving, now serving)."""
        with self.generations.lock():
            current = self.generations.current()
            earlier = [g for g in reversed(self.generations.complete()) if g.number < current.number]
            damaged = [g.name for g in earlier if self.generations.verify(g)]
            whole = [g for g in earlier if g.name not in damaged]
            if not whole:
                skipped = f" ({', '.join(damaged)} damaged)" if damaged else ""
                raise KBError(f"no earlier complete index generation to roll back to{skipped} (serving {current.name})")
            self.generations.publish(whole[0])
            point_alias(self.settings, whole[0])
            history.record(self.settings.data_dir, current, whole[0], event="rolled back")
        self._forget_flows()
        self.audit.record(Action.ROLLED_BACK, editor, generation=whole[0].name, previous=current.name)
        return current.name, whole[0].name

    def restore_corpus_to(self, generation: str, editor: str = "", reason: str = "") -> editor_ops.CorpusRestore:
        """After a rollback: put the corpus documents back to `generation`'s text (from their
        histories), so the next re-index does not bring back what was rolled back."""
        files = self.generations.get(generation).manifest().get("files") or {}
        reason = reason or f"rolled back to the version {self.built_names([generation])[generation]}"
        put_back = editor_ops.restore_corpus(self.settings, files, editor=editor, reason=reason)  # each document's change is recorded as it is made
        if put_back.changed:
            self.audit.record(Action.CORPUS_RESTORED, editor, generation=generation, reason=reason)
        return put_back

    def recent_actions(self, limit: int = 50) -> list[Entry]:
        """The latest editor actions from the audit log, newest first."""
        return self.audit.read(limit)

    def history(self) -> list[history.Release]:
        """What each published index changed, newest first (the "What's new" page)."""
        return history.read(self.settings.data_dir, self.generations)

    def last_changed(self) -> dict[str, str]:
        """doc id -> the day its text last changed in a published version."""
        return history.last_changed(self.history())

    def status(self) -> dict:
        """The served generation and its size; `problem` says what is wrong when it is damaged."""
        staged = self.staged()
        base = {"generation": None, "documents": 0, "chunks": 0, "staged": staged.name if staged else None, "problem": None}
        try:
            gen = self.generations.current()
        except IndexDamagedError as exc:
            return {**base, "problem": str(exc)}
        except IndexNotReadyError:
            return base
        try:
            self.generations.check(gen, "the served index generation")
        except IndexDamagedError as exc:
            return {**base, "generation": gen.name, "problem": f"{exc}; run 'kb index' to rebuild it"}
        manifest = gen.manifest()
        return {
            **base,
            "generation": gen.name,
            "created": manifest.get("created"),
            "documents": len(manifest.get("documents", {})),
            "chunks": manifest.get("chunk_count", 0),
            "model": manifest.get("model"),
            "generations": [g.name for g in self.generations.complete()],
        }

    def index_problem(self) -> str | None:
        """Why answers come from another generation than the one CURRENT names (it is damaged), or None."""
        self.searcher.active()
        return self.searcher.problem

    # ask

    def ask(self, question: str, persona: str = "volunteer", kinds: list[str] | None = None, audience: str | None = None, previous: Safety | None = None) -> Answer:
        """Answer a question; `previous` is the emergency guidance of an earlier question in the
        same conversation, kept on this answer."""
        return self.composer.ask(question, persona=persona, kinds=kinds, audience=audience, previous=previous)

    def section(self, section_id: str) -> Passage | None:
        """One whole section of the served index (to open a "See also" link), or None."""
        return self.composer.sections().sections.get(section_id)

    def glossary(self):
        """The glossary of the served index: terms, acronyms, other and old names."""
        return self.composer.glossary

    def search(self, query: str, top_k: int = 5, mode: str = "hybrid") -> list[Passage]:
        expanded = self.composer.glossary.expand(query)
        return self.searcher.search(query, top_k=top_k, mode=mode, lexical_query=expanded)

    def sections(self) -> dict[str, Passage]:
        return self.searcher.sections()

    def section_texts(self, generation: str | None = None) -> dict[str, str]:
        """section id -> full section text, of the served generation or of a named one (a staged one, to check flows before publishing)."""
        if generation is None:
            return {sid: p.text for sid, p in self.sections().items()}
        gen = self.generations.get(generation)
        if not gen.is_complete():
            raise KBError(f"{generation} is not a complete index generation; re-index to build a new one")
        texts: dict[str, list[str]] = {}
        for record in read_chunks(gen.chunks_db):
            texts.setdefault(record["section_id"], []).append(record["text"])
        return {sid: "\n".join(parts) for sid, parts in texts.items()}

    def load_corpus(self) -> LoadResult:
        return load_corpus(self.settings.corpus_dir)

    def close(self) -> None:
        if "searcher" in self.__dict__:
            self.searcher.close()
