"""Searching the served index generation, hybrid or one side alone.

The searcher loads the model once and follows the served generation: each search checks
CURRENT (one small file read) and, after a re-index or a rollback, opens the new generation
before answering. The generation it replaces stays open until the next switch, so a search
already running on it finishes normally.
"""

from __future__ import annotations

import logging
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from haystack import Document

from kb.config import Settings
from kb.errors import IndexNotReadyError
from kb.index.chunk_db import open_read_only, row_to_record
from kb.index.generations import Generation, GenerationStore
from kb.index.pipelines import (
    build_dense_retriever,
    build_lexical_retriever,
    build_query_pipeline,
    build_text_embedder,
    open_vector_store,
)

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "lexical"]
MODES: tuple[str, ...] = ("hybrid", "dense", "lexical")


@dataclass(frozen=True)
class Passage:
    """One retrieved section (or part of one), with everything a citation needs."""

    chunk_id: str
    section_id: str
    doc_id: str
    title: str
    section: str
    heading_path: tuple[str, ...]
    text: str
    score: float
    kind: str
    source_url: str
    version: str
    last_reviewed: str
    line_start: int
    line_end: int
    audience: tuple[str, ...] = ()
    dense_score: float | None = None  # cosine similarity to the question, when the dense side found it
    scope: tuple[str, ...] = ()  # the document applies when a question uses one of these words

    @classmethod
    def from_record(cls, meta: dict, text: str, score: float = 0.0) -> Passage:
        return cls(
            chunk_id=meta["chunk_id"],
            section_id=meta["section_id"],
            doc_id=meta["doc_id"],
            title=meta["title"],
            section=meta["section"],
            heading_path=tuple(meta["heading_path"]),
            text=text,
            score=score,
            kind=meta["kind"],
            source_url=meta["source_url"],
            version=meta["version"],
            last_reviewed=meta.get("last_reviewed", ""),
            line_start=meta["line_start"],
            line_end=meta["line_end"],
            audience=tuple(meta.get("audience", ())),
            dense_score=meta.get("dense_score"),
            scope=tuple(meta.get("scope") or ()),
        )

    @classmethod
    def from_document(cls, doc: Document) -> Passage:
        return cls.from_record(doc.meta, doc.content or "", float(doc.score or 0.0))


class _OpenGeneration:
    def __init__(self, settings: Settings, generation: Generation):
        self.generation = generation
        self.manifest = generation.manifest()
        self.store = open_vector_store(settings, generation, self.manifest.get("embedding_dim", 384))
        self.dense = build_dense_retriever(self.store)
        self.lexical = build_lexical_retriever(generation)
        self.lexical.warm_up()
        # A component belongs to one pipeline, so each generation gets its own embedder; the
        # model behind it is loaded once per process and shared.
        text_embedder = build_text_embedder(settings)
        text_embedder.warm_up()
        self.pipeline = build_query_pipeline(text_embedder, self.dense, self.lexical)
        self.db = open_read_only(generation.chunks_db)

    def close(self) -> None:
        self.lexical.close()
        self.db.close()
        self.store.close()
        path = Path(self.store.path) if self.store.path else None
        if path is not None and self.generation.path not in path.parents:
            shutil.rmtree(path.parent, ignore_errors=True)  # a private copy (see open_vector_store)


class Searcher:
    def __init__(self, settings: Settings, text_embedder=None):
        self.settings = settings
        self.generations = GenerationStore(settings.data_dir)
        self.text_embedder = text_embedder or build_text_embedder(settings)
        self._open: _OpenGeneration | None = None
        self._retired: _OpenGeneration | None = None
        self._lock = threading.RLock()

    def warm_up(self) -> None:
        self.text_embedder.warm_up()

    @property
    def generation_name(self) -> str | None:
        return self._open.generation.name if self._open else None

    def active(self) -> _OpenGeneration:
        """The open served generation, reopened if CURRENT has moved since the last call."""
        name = self.generations.current_name()
        if name is None:
            raise IndexNotReadyError(f"no index in {self.settings.data_dir}: run 'kb index' to build one from the corpus")
        with self._lock:
            if self._open is None or self._open.generation.name != name:
                opened = _OpenGeneration(self.settings, self.generations.current())
                if self._retired is not None:
                    self._retired.close()
                self._retired, self._open = self._open, opened
                log.info("searching index generation %s", name)
            return self._open

    def search(self, query: str, top_k: int = 5, mode: Mode = "hybrid", lexical_query: str | None = None, kinds: list[str] | None = None, audience: str | None = None) -> list[Passage]:
        if mode not in MODES:
            raise ValueError(f"search mode {mode!r} is not one of {', '.join(MODES)}")
        self.warm_up()
        gen = self.active()
        lexical_args = {"query": lexical_query or query, "kinds": kinds, "audience": audience}
        filters = _dense_filters(kinds, audience)
        with self._lock:
            if mode == "hybrid":
                out = gen.pipeline.run({"embedder": {"text": query}, "dense": {"filters": filters}, "lexical": lexical_args})
                docs = out["fusion"]["documents"]
            elif mode == "dense":
                embedding = self.text_embedder.run(text=query)["embedding"]
                docs = gen.dense.run(query_embedding=embedding, filters=filters)["documents"]
            else:
                docs = gen.lexical.run(**lexical_args)["documents"]
        return [Passage.from_document(d) for d in docs[:top_k]]

    def search_scored(self, query: str, top_k: int = 5, lexical_query: str | None = None, kinds: list[str] | None = None, audience: str | None = None) -> tuple[list[Passage], float]:
        """Hybrid results, and the best dense cosine similarity (how close the corpus comes at all)."""
        self.warm_up()
        gen = self.active()
        lexical_args = {"query": lexical_query or query, "kinds": kinds, "audience": audience}
        with self._lock:
            out = gen.pipeline.run(
                {"embedder": {"text": query}, "dense": {"filters": _dense_filters(kinds, audience)}, "lexical": lexical_args},
                include_outputs_from={"dense"},
            )
        dense = out["dense"]["documents"]
        best = float(dense[0].score) if dense and dense[0].score is not None else 0.0
        return [Passage.from_document(d) for d in out["fusion"]["documents"][:top_k]], best

    def sections(self) -> dict[str, Passage]:
        """Every section of the served generation, first part text joined with its other parts."""
        gen = self.active()
        with self._lock:
            rows = gen.db.execute("SELECT * FROM chunks ORDER BY rowid").fetchall()
        sections: dict[str, Passage] = {}
        for row in rows:
            record = row_to_record(row)
            text = record.pop("text")
            sid = record["section_id"]
            if sid in sections:
                prev = sections[sid]
                sections[sid] = Passage.from_record({**record, "chunk_id": prev.chunk_id, "line_start": prev.line_start}, prev.text + "\n" + text)
            else:
                sections[sid] = Passage.from_record(record, text)
        return sections

    def passage(self, chunk_id: str) -> Passage | None:
        gen = self.active()
        with self._lock:
            row = gen.db.execute("SELECT * FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
        if row is None:
            return None
        record = row_to_record(row)
        return Passage.from_record(record, record.pop("text"))

    def close(self) -> None:
        with self._lock:
            for gen in (self._open, self._retired):
                if gen is not None:
                    gen.close()
            self._open = self._retired = None


def _dense_filters(kinds: list[str] | None, audience: str | None) -> dict | None:
    conditions = []
    if kinds:
        conditions.append({"field": "meta.kind", "operator": "in", "value": list(kinds)})
    if audience:
        conditions.append({"field": "meta.audience", "operator": "==", "value": audience})
    if not conditions:
        return None
    return {"operator": "AND", "conditions": conditions}
