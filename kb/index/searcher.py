"""Searching the served index generation, hybrid or one side alone.

The searcher loads the model once and follows the served generation: each search checks
CURRENT (one small file read) and, after a re-index or a rollback, opens the new generation
before answering. A search pins the generation it started on; the one replaced stays open until
its last pinned search ends, so a search already running on it finishes normally and an answer
never mixes two generations.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from kb.config import Settings
from kb.errors import IndexDamagedError, IndexNotReadyError, KBError
from kb.index.chunk_db import open_read_only, row_to_record
from kb.index.generations import Generation, GenerationStore
from kb.index.passage import Passage
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


class _OpenGeneration:
    """One generation's stores and query pipeline, open for searching.

    `users` counts the searches pinned to it; a generation replaced by a newer one is closed
    when its last pinned search ends, so an answer never mixes two generations.
    """

    def __init__(self, settings: Settings, generation: Generation):
        self.generation = generation
        self.manifest = generation.manifest()
        self.store = open_vector_store(settings, generation, self.manifest.get("embedding_dim", 384), similarity=self.manifest.get("similarity", "cosine"))
        self.users = 0
        self.retired = False
        self.extras: dict[str, object] = {}  # what other layers build per generation (an answer pipeline); closed with it
        try:
            vectors = self.store.count_documents()
            if vectors != self.manifest.get("chunk_count"):
                raise IndexDamagedError(f"{generation.name} holds {vectors} vectors where its manifest says {self.manifest.get('chunk_count')}")
            self.dense = build_dense_retriever(self.store)
            self.lexical = build_lexical_retriever(generation)
            self.lexical.warm_up()
            # A component belongs to one pipeline, so each generation gets its own embedder; the
            # model behind it is loaded once per process and shared.
            text_embedder = build_text_embedder(settings)
            text_embedder.warm_up()
            self.pipeline = build_query_pipeline(text_embedder, self.dense, self.lexical)
            self.db = open_read_only(generation.chunks_db)
        except BaseException:
            self._close_store()
            raise

    @property
    def name(self) -> str:
        return self.generation.name

    def close(self) -> None:
        for extra in self.extras.values():
            close = getattr(extra, "close", None)
            if close is not None:
                close()
        self.lexical.close()
        self.db.close()
        self._close_store()

    def _close_store(self) -> None:
        self.store.close()
        path = Path(self.store.path) if self.store.path else None
        if path is not None and self.generation.path not in path.parents:
            shutil.rmtree(path.parent, ignore_errors=True)  # a private copy (see open_vector_store)


# What opening a damaged generation can raise: our own checks, SQLite, the file system, Qdrant.
OPEN_ERRORS = (KBError, OSError, sqlite3.DatabaseError, RuntimeError, ValueError, KeyError)


class Searcher:
    """Searches the served generation, and keeps answering when it cannot be opened.

    Every search runs on one *pinned* generation (see `pinned`). When CURRENT names a
    generation that is damaged or unreadable, the searcher keeps (or falls back to) the newest
    generation that opens and verifies, and says so in `problem`, until a re-index publishes a
    good one.
    """

    def __init__(self, settings: Settings, text_embedder=None):
        self.settings = settings
        self.generations = GenerationStore.of(settings)
        self.text_embedder = text_embedder or build_text_embedder(settings)
        self._open: _OpenGeneration | None = None
        self._lock = threading.RLock()
        self._failed: dict[str, str] = {}  # generation name (or CURRENT's text) -> why it cannot be served
        self.problem: str | None = None  # set while answering from another generation than CURRENT's

    def warm_up(self) -> None:
        self.text_embedder.warm_up()

    @property
    def lock(self) -> threading.RLock:
        """Held while a pipeline runs on an open generation (its stores are not shared between threads)."""
        return self._lock

    @property
    def generation_name(self) -> str | None:
        return self._open.name if self._open else None

    @contextlib.contextmanager
    def pinned(self) -> Iterator[_OpenGeneration]:
        """The served generation, held open (even across a switch) until the block ends."""
        with self._lock:
            gen = self._serving()
            gen.users += 1
        try:
            yield gen
        finally:
            with self._lock:
                gen.users -= 1
                if gen.retired and gen.users == 0:
                    gen.close()

    def active(self) -> _OpenGeneration:
        """The open served generation (reopened if CURRENT has moved), not pinned."""
        with self._lock:
            return self._serving()

    def _serving(self) -> _OpenGeneration:
        wanted = self.generations.current_name()
        if self._open is not None and self._open.name == wanted:
            self.problem = None  # serving what CURRENT names (again, after a rollback past a damaged one)
            return self._open
        key = wanted or ""
        if key not in self._failed:
            try:
                self._switch_to(self.generations.current())
                self.problem = None
                return self._open
            except IndexNotReadyError as exc:
                if wanted is None and not self.generations.complete():
                    raise
                self._failed[key] = str(exc)
            except OPEN_ERRORS as exc:
                self._failed[key] = f"index generation {wanted} cannot be opened ({exc})"
            if self.generations.current_name() != wanted:  # a re-index moved CURRENT meanwhile (and may have pruned `wanted`)
                del self._failed[key]
                return self._serving()
            log.info("%s", self._failed[key])  # users see it in `problem`: every page, kb ask, kb status
        return self._fallback(self._failed[key])

    def _fallback(self, why: str) -> _OpenGeneration:
        """Keep serving the open generation, or open the newest complete one that verifies."""
        if self._open is None:
            for gen in reversed(self.generations.complete()):
                if gen.name in self._failed:
                    continue
                try:
                    self._switch_to(gen)
                    break
                except OPEN_ERRORS as exc:
                    self._failed[gen.name] = str(exc)
            else:
                raise IndexDamagedError(f"{why}, and no earlier index generation can be served; run 'kb index' to rebuild the index")
        self.problem = f"{why}. Answers come from the earlier index generation {self._open.name}; run 'kb index' to rebuild the index."
        return self._open

    def _switch_to(self, generation: Generation) -> None:
        opened = _OpenGeneration(self.settings, self.generations.check(generation))
        old, self._open = self._open, opened
        if old is not None:
            old.retired = True
            if old.users == 0:
                old.close()
        log.info("searching index generation %s", generation.name)

    def search(self, query: str, top_k: int = 5, mode: Mode = "hybrid", lexical_query: str | None = None, kinds: list[str] | None = None, audience: str | None = None) -> list[Passage]:
        if mode not in MODES:
            raise ValueError(f"search mode {mode!r} is not one of {', '.join(MODES)}")
        self.warm_up()
        lexical_args = {"query": lexical_query or query, "kinds": kinds, "audience": audience}
        filters = dense_filters(kinds, audience)
        with self.pinned() as gen, self._lock:
            if mode == "hybrid":
                out = gen.pipeline.run({"embedder": {"text": query}, "dense": {"filters": filters}, "lexical": lexical_args})
                docs = out["fusion"]["documents"]
            elif mode == "dense":
                embedding = self.text_embedder.run(text=query)["embedding"]
                docs = gen.dense.run(query_embedding=embedding, filters=filters)["documents"]
            else:
                docs = gen.lexical.run(**lexical_args)["documents"]
        return [Passage.from_document(d) for d in docs[:top_k]]

    def search_scored(self, query: str, top_k: int = 5, lexical_query: str | None = None, kinds: list[str] | None = None, audience: str | None = None, gen: _OpenGeneration | None = None) -> tuple[list[Passage], float]:
        """Hybrid results, and the best dense cosine similarity (how close the corpus comes at all).
        Pass a pinned `gen` to search that generation (see `pinned`)."""
        self.warm_up()
        lexical_args = {"query": lexical_query or query, "kinds": kinds, "audience": audience}
        with contextlib.ExitStack() as stack:
            gen = gen or stack.enter_context(self.pinned())
            with self._lock:
                out = gen.pipeline.run(
                    {"embedder": {"text": query}, "dense": {"filters": dense_filters(kinds, audience)}, "lexical": lexical_args},
                    include_outputs_from={"dense"},
                )
        dense = out["dense"]["documents"]
        best = float(dense[0].score) if dense and dense[0].score is not None else 0.0
        return [Passage.from_document(d) for d in out["fusion"]["documents"][:top_k]], best

    def sections(self, gen: _OpenGeneration | None = None) -> dict[str, Passage]:
        """Every section of the served generation (or a pinned `gen`), first part text joined with its other parts."""
        with contextlib.ExitStack() as stack:
            gen = gen or stack.enter_context(self.pinned())
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
        with self.pinned() as gen, self._lock:
            row = gen.db.execute("SELECT * FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
        if row is None:
            return None
        record = row_to_record(row)
        return Passage.from_record(record, record.pop("text"))

    def close(self) -> None:
        with self._lock:
            if self._open is not None:
                self._open.retired = True
                if self._open.users == 0:
                    self._open.close()
            self._open = None


def dense_filters(kinds: list[str] | None, audience: str | None) -> dict | None:
    conditions = []
    if kinds:
        conditions.append({"field": "meta.kind", "operator": "in", "value": list(kinds)})
    if audience:
        conditions.append({"field": "meta.audience", "operator": "==", "value": audience})
    if not conditions:
        return None
    return {"operator": "AND", "conditions": conditions}
