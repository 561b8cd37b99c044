"""Runs the answer pipeline on the served index generation.

The pipeline (`kb.index.pipelines.build_answer_pipeline`) is built once per generation and runs
on one pinned generation: a re-index that switches generation while an answer is composed never
mixes the two (see `Searcher.pinned`).
"""

from __future__ import annotations

import threading
import time

from haystack import Pipeline

from kb.answer import Answer
from kb.contacts import Contact
from kb.glossary import Glossary
from kb.index.chunk_db import read_phrasings
from kb.index.pipelines import build_answer_pipeline, build_dense_retriever, build_lexical_retriever, build_text_embedder
from kb.index.searcher import Searcher, dense_filters
from kb.index.sections import SectionIndex
from kb.language import Language
from kb.quoting import SectionQuoter
from kb.request import ROLE_NAMES, RequestReader, clean_question
from kb.safety import Safety

PERSONAS = ROLE_NAMES


class _GenerationAnswering:
    """One generation's answer pipeline and section index (closed with the generation)."""

    def __init__(self, pipeline: Pipeline, sections: SectionIndex, lexical):
        self.pipeline = pipeline
        self.sections = sections
        self._lexical = lexical

    def close(self) -> None:
        self._lexical.close()


class AnswerComposer:
    def __init__(self, searcher: Searcher, contacts: dict[str, Contact], language: Language, flows_for_doc: dict[str, list[str]] | None = None, flow_ids: set[str] | None = None):
        self.searcher = searcher
        self.contacts = contacts
        self.language = language
        self.flows_for_doc = flows_for_doc or {}
        self.flow_ids = flow_ids
        self._build_lock = threading.Lock()

    def _answering(self, gen) -> _GenerationAnswering:
        with self._build_lock:
            built = gen.extras.get("answering")
            if built is None:
                sections = SectionIndex(gen.name, self.searcher.sections(gen), read_phrasings(gen.db))
                text_embedder = build_text_embedder(self.searcher.settings)
                text_embedder.warm_up()
                lexical = build_lexical_retriever(gen.generation)
                lexical.warm_up()
                pipeline = build_answer_pipeline(
                    text_embedder,
                    build_dense_retriever(gen.store),
                    lexical,
                    sections,
                    RequestReader(self.language, sections.glossary),
                    SectionQuoter(self.language, self.contacts, self.flows_for_doc, self.flow_ids),
                )
                built = gen.extras["answering"] = _GenerationAnswering(pipeline, sections, lexical)
            return built

    @property
    def glossary(self) -> Glossary:
        with self.searcher.pinned() as gen:
            return self._answering(gen).sections.glossary

    def sections(self) -> SectionIndex:
        with self.searcher.pinned() as gen:
            return self._answering(gen).sections

    def ask(self, question: str, persona: str = "volunteer", kinds: list[str] | None = None, audience: str | None = None, previous: Safety | None = None) -> Answer:
        """Answer `question`; `previous` is the emergency guidance an earlier question in the same
        conversation raised, kept on this answer too."""
        started = time.perf_counter()
        question = clean_question(question)  # an empty or huge question is the asker's to fix, before any search
        self.searcher.warm_up()
        with self.searcher.pinned() as gen:
            answering = self._answering(gen)
            with self.searcher.lock:
                out = answering.pipeline.run(
                    {
                        "reader": {"question": question, "persona": persona, "previous_cues": list(previous.cues) if previous else []},
                        "dense": {"filters": dense_filters(kinds, audience)},
                        "lexical": {"kinds": kinds, "audience": audience},
                    }
                )
        answer: Answer = out["quoter"]["answer"]
        answer.generation = gen.name
        answer.seconds = round(time.perf_counter() - started, 4)
        return answer
