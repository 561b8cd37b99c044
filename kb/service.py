"""The service layer: the one API that the command line and the Streamlit app both call.

It owns the settings, the loaded model (once), the searcher that follows the served index
generation, the answer composer, the flows and the editor's document operations.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

from kb.answer import Answer, AnswerComposer
from kb.config import Settings
from kb.contacts import Contact, load_contacts
from kb.errors import KBError
from kb.index.documents import LoadResult, load_corpus
from kb.index.generations import GenerationStore
from kb.index.indexer import Indexer, IndexReport
from kb.index.searcher import Passage, Searcher

log = logging.getLogger(__name__)


class KnowledgeBase:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings.from_env()
        self.generations = GenerationStore(self.settings.data_dir)
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
    def composer(self) -> AnswerComposer:
        flows = self.flows
        return AnswerComposer(self.searcher, self.contacts, flows.flows_for_doc(), set(flows.ids()))

    @cached_property
    def contacts(self) -> dict[str, Contact]:
        return load_contacts(self.settings.corpus_dir)

    @cached_property
    def flows(self):
        from kb.flows.library import FlowLibrary

        return FlowLibrary.load_default()

    # index

    def has_index(self) -> bool:
        return self.generations.current_or_none() is not None

    def index(self, corpus_dir: Path | None = None, progress: Callable[[str, int, int], None] | None = None) -> IndexReport:
        report = self.indexer.run(corpus_dir, progress)
        if report.changed_sections or report.removed_sections:
            report.affected_flow_nodes = self.flows.affected_by(set(report.changed_sections), set(report.removed_sections))
        self.__dict__.pop("contacts", None)
        if "composer" in self.__dict__:
            self.composer.contacts = self.contacts
        return report

    def ensure_index(self, progress: Callable[[str, int, int], None] | None = None) -> IndexReport | None:
        """Build the index when there is none yet; otherwise leave the served one alone."""
        if self.has_index():
            return None
        return self.index(progress=progress)

    def rollback(self) -> tuple[str, str]:
        with self.generations.lock():
            current = self.generations.current()
            previous = self.generations.previous_of(current.name)
            if previous is None:
                raise KBError(f"no earlier complete index generation to roll back to (serving {current.name})")
            self.generations.publish(previous)
        return current.name, previous.name

    def status(self) -> dict:
        gen = self.generations.current_or_none()
        if gen is None:
            return {"generation": None, "documents": 0, "chunks": 0}
        manifest = gen.manifest()
        return {
            "generation": gen.name,
            "created": manifest.get("created"),
            "documents": len(manifest.get("documents", {})),
            "chunks": manifest.get("chunk_count", 0),
            "model": manifest.get("model"),
            "generations": [g.name for g in self.generations.complete()],
        }

    # ask

    def ask(self, question: str, persona: str = "volunteer", kinds: list[str] | None = None, audience: str | None = None) -> Answer:
        return self.composer.ask(question, persona=persona, kinds=kinds, audience=audience)

    def glossary(self):
        """The glossary of the served index: terms, acronyms, other and old names."""
        return self.composer.glossary

    def search(self, query: str, top_k: int = 5, mode: str = "hybrid") -> list[Passage]:
        expanded = self.composer.glossary.expand(query)
        return self.searcher.search(query, top_k=top_k, mode=mode, lexical_query=expanded)

    def sections(self) -> dict[str, Passage]:
        return self.searcher.sections()

    def load_corpus(self) -> LoadResult:
        return load_corpus(self.settings.corpus_dir)

    def close(self) -> None:
        if "searcher" in self.__dict__:
            self.searcher.close()
