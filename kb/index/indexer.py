"""Incremental, crash-safe re-indexing.

The manifest of the served generation records every document's content hash and every
section's text hash. A re-index loads and validates the corpus, compares it with that manifest,
embeds only text the embedding cache has not seen, and writes a complete new generation before
switching to it. When nothing changed, no generation is written at all.

With `publish=False` the new generation is written and completed but not switched to: it is
staged, and the served one keeps answering until `Indexer.publish` serves the staged one. Every
re-index compares the corpus with the served generation, never with a staged one; one that finds
nothing changed removes the staged generations, which then no longer match the corpus. Each new
generation keeps its own report (`report.json`, written before it is marked complete).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from haystack import Document

from kb.config import Settings
from kb.errors import DocumentError, IndexDamagedError, IndexNotReadyError, IndexWriteError
from kb.index import history
from kb.index.chunk_db import read_chunks, section_phrasings, write_chunk_db
from kb.index.chunker import chunk_document, embed_text
from kb.index.documents import SourceDocument, load_corpus
from kb.index.embedding_cache import EmbeddingCache, text_key
from kb.index.generations import GENERATION_PATTERN, Generation, GenerationStore
from kb.index.pipelines import SIMILARITY, batch_threads, build_document_embedder, drop_server_collections, open_vector_store, point_alias

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
DOCS_PER_STEP = 64  # chunks embedded between two progress reports
WRITE_BATCH = 512  # chunks written to the vector store at a time
INDEX_FORMAT = 2  # 2: sections' phrasings are embedded too; a generation of another format is rebuilt


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_previous: list[str] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0  # chunks embedded (the rest came from the embedding cache)
    embedded_phrasings: int = 0  # section questions and "Also asked as" phrasings embedded
    seconds: float = 0.0
    errors: list[dict] = field(default_factory=list)
    generation: str | None = None
    previous_generation: str | None = None
    published: bool = True  # `generation` is the one being served; False: built and staged, waiting to be published
    changed_sections: list[str] = field(default_factory=list)
    removed_sections: list[str] = field(default_factory=list)
    affected_flow_nodes: list[dict] = field(default_factory=list)
    flows_changed: bool = False  # a guided flow in the corpus differs from the served generation's copy
    recovered_from: str | None = None  # the served generation was damaged (why): everything was indexed afresh

    @property
    def switched(self) -> bool:
        return self.published and self.generation is not None and self.generation != self.previous_generation

    def as_dict(self) -> dict:
        return asdict(self)


class _CachedVectors:
    """The vectors of a re-index's chunks, read from the embedding cache a batch at a time."""

    def __init__(self, cache: EmbeddingCache, keys: dict[str, str]):
        self.cache = cache
        self.keys = keys

    def get(self, records: list[dict]) -> dict[str, list[float]]:
        found = self.cache.get_many([self.keys[r["chunk_id"]] for r in records])
        return {r["chunk_id"]: found[self.keys[r["chunk_id"]]] for r in records}

    def phrasings(self, records: list[dict]) -> list[tuple[str, str, list[float]]]:
        """(section id, phrasing, vector) of the sections' questions (see `section_phrasings`)."""
        pairs = section_phrasings(records)
        found = self.cache.get_many([self.keys[phrasing_key(text)] for _sid, text in pairs])
        return [(sid, text, found[self.keys[phrasing_key(text)]]) for sid, text in pairs]

    def dimension(self, records: list[dict]) -> int:
        return len(next(iter(self.get(records[:1]).values()))) if records else 384


def phrasing_key(text: str) -> str:
    """A phrasing's entry among the texts to embed (chunk ids never start with '?', see `_embed`)."""
    return f"?{text}"


def section_hashes(records: list[dict]) -> dict[str, str]:
    """section_id -> hash of the section's full text (all its parts, in order)."""
    texts: dict[str, list[str]] = {}
    for r in records:
        texts.setdefault(r["section_id"], []).append(r["text"])
    return {sid: hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16] for sid, parts in texts.items()}


class Indexer:
    def __init__(self, settings: Settings, embedder=None):
        self.settings = settings
        self.generations = GenerationStore.of(settings)
        self._embedder = embedder

    @property
    def embedder(self):
        if self._embedder is None:
            self._embedder = build_document_embedder(self.settings)
        self._embedder.warm_up()
        return self._embedder

    def run(self, corpus_dir: Path | None = None, progress: Progress | None = None, publish: bool = True, editor: str = "") -> IndexReport:
        """Build a new generation when the corpus differs from the served one, then serve it;
        with `publish=False`, leave it staged (complete, not served) for `publish` to serve later.
        `editor` (who asked for the re-index) is kept in the new generation's report."""
        started = time.perf_counter()
        corpus_dir = Path(corpus_dir or self.settings.corpus_dir)
        progress = progress or (lambda stage, done, total: None)
        try:
            with self.generations.lock():
                report = self._run_locked(corpus_dir, progress, publish, editor)
        except (OSError, sqlite3.OperationalError) as exc:
            raise IndexWriteError(self._write_failure(exc)) from exc
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _write_failure(self, exc: BaseException) -> str:
        """What went wrong writing the index, that the served index is untouched, and what to do."""
        served = self.generations.current_name()
        text = str(exc).lower()
        if getattr(exc, "errno", None) == errno.ENOSPC or "disk is full" in text or "no space" in text:
            fix = "free some disk space there, then run 'kb index' again"
        elif getattr(exc, "errno", None) in (errno.EROFS, errno.EACCES, errno.EPERM) or "readonly" in text or "read-only" in text:
            fix = "make the data folder writable (or point KB_DATA_DIR at one that is), then run 'kb index' again"
        else:
            fix = "check the data folder, then run 'kb index' again"
        serving = f"the index being served ({served}) is unchanged and still answering" if served else "no index is served yet"
        return f"could not write the new index in {self.settings.data_dir}: {exc}. Nothing was published; {serving}. To fix: {fix}."

    def publish(self, generation: Generation) -> None:
        """Serve a complete generation (call under `self.generations.lock()`).

        The generations between the served one and this one (staged and never published, or
        rolled back from) are removed first, so a rollback from this one returns to the one
        served before it.
        """
        served = self.generations.whole_current_or_none()  # a damaged one: the history starts again here
        dropped = self.generations.drop_unserved_before(generation)
        self.generations.publish(generation)
        point_alias(self.settings, generation)
        history.record(self.settings.data_dir, served, generation)
        self.prune(dropped)

    def prune(self, already_removed: list[str] = ()) -> list[str]:
        """Remove the generations no longer kept (and, with a Qdrant server, their collections)."""
        removed = [*already_removed, *self.generations.prune(self.settings.keep_generations)]
        drop_server_collections(self.settings, removed)
        return removed

    def _run_locked(self, corpus_dir: Path, progress: Progress, publish: bool, editor: str = "") -> IndexReport:
        progress("load", 0, 1)
        loaded = load_corpus(corpus_dir)
        previous, damage = self._comparable_served()
        prev_manifest = previous.manifest() if previous else {"documents": {}, "sections": {}}
        prev_docs: dict[str, dict] = prev_manifest.get("documents", {})
        served = self.generations.current_name() if previous or damage else None
        served = served if served and GENERATION_PATTERN.match(served) else None
        report = IndexReport(previous_generation=served, generation=previous.name if previous else None, recovered_from=damage)
        report.errors = [e.as_dict() for e in loaded.errors]

        documents = list(loaded.documents)
        carried = self._carry_over(loaded.errors, documents, prev_docs, previous)
        report.kept_previous = sorted(carried)

        current_ids = {d.id for d in documents} | set(carried)
        for doc in documents:
            before = prev_docs.get(doc.id)
            if before is None:
                report.added.append(doc.id)
            elif before["hash"] != doc.content_hash:
                report.changed.append(doc.id)
            else:
                report.unchanged.append(doc.id)
        report.unchanged.extend(sorted(carried))
        report.removed = sorted(set(prev_docs) - current_ids)

        flows = FlowSnapshot.of(corpus_dir)
        report.flows_changed = bool(previous) and prev_manifest.get("flows") != flows.digest
        same_recipe = prev_manifest.get("model") == self.settings.embed_model and prev_manifest.get("chunk_max_chars") == self.settings.chunk_max_chars and prev_manifest.get("format", 1) == INDEX_FORMAT
        if previous and same_recipe and not (report.added or report.changed or report.removed or report.flows_changed):
            report.chunks = prev_manifest.get("chunk_count", 0)
            dropped = self.generations.drop_staged()  # built from another corpus than this one, which is the served one's
            drop_server_collections(self.settings, dropped)
            progress("done", 1, 1)
            log.info("corpus unchanged; still serving %s%s", previous.name, f" (removed {', '.join(dropped)}, which no longer matched it)" if dropped else "")
            return report

        records = [c.record() for doc in documents for c in chunk_document(doc, self.settings.chunk_max_chars)]
        records += [r for doc_id in sorted(carried) for r in carried[doc_id]]
        new_sections = section_hashes(records)
        old_sections: dict[str, str] = prev_manifest.get("sections", {})
        report.changed_sections = sorted(s for s, h in new_sections.items() if s in old_sections and old_sections[s] != h)
        report.removed_sections = sorted(s for s in old_sections if s not in new_sections)
        report.chunks = len(records)
        report.published = publish
        with EmbeddingCache(self.settings.data_dir / "embeddings.sqlite", self.settings.embed_model) as cache:
            keys = self._embed(records, cache, progress, report)
            built = _BuildRecord(report, editor)
            generation = self._write_generation(documents, records, _CachedVectors(cache, keys), loaded.paths, prev_docs, progress, flows, built)

        report.generation = generation.name
        if publish:
            self.publish(generation)
        else:
            self.prune()  # keeps the served one and this staged one
            log.info("index generation %s is staged; still serving %s", generation.name, report.previous_generation)
        progress("done", 1, 1)
        return report

    def _comparable_served(self) -> tuple[Generation | None, str | None]:
        """The served generation to compare the corpus with, or (None, why) when it is damaged:
        then every document is indexed afresh (the embedding cache keeps that quick)."""
        try:
            return self.generations.check(self.generations.current(), "the served index generation"), None
        except IndexDamagedError as exc:
            log.info("%s; rebuilding the whole index", exc)  # the report says so: recovered_from
            return None, str(exc)
        except IndexNotReadyError:
            return None, None

    def _carry_over(self, errors: list[DocumentError], documents: list[SourceDocument], prev_docs: dict[str, dict], previous: Generation | None) -> dict[str, list[dict]]:
        """A file that indexed before but is broken now keeps serving its last good version."""
        if previous is None:
            return {}
        by_path = {entry["path"]: doc_id for doc_id, entry in prev_docs.items()}
        live_ids = {d.id for d in documents}
        carried: dict[str, list[dict]] = {}
        for error in errors:
            doc_id = by_path.get(error.path)
            if doc_id and doc_id not in live_ids:
                carried[doc_id] = read_chunks(previous.chunks_db, doc_id)
                log.warning("%s is invalid; keeping its previously indexed version", error.path)
        return carried

    def _embed(self, records: list[dict], cache: EmbeddingCache, progress: Progress, report: IndexReport) -> dict[str, str]:
        """chunk id (and phrasing text) -> its embedding's key in the cache; text the cache has not
        seen is embedded and stored there first. Vectors are not kept in memory: the store is
        written from the cache."""
        texts = {r["chunk_id"]: embed_text(r["title"], r["heading_path"], r["text"]) for r in records}
        texts.update({phrasing_key(text): text for _sid, text in section_phrasings(records)})
        keys = {cid: text_key(text) for cid, text in texts.items()}
        known = cache.known(set(keys.values()))
        missing = list({keys[cid]: cid for cid in texts if keys[cid] not in known}.values())  # identical texts embed once
        total = len(missing)
        progress("embed", 0, total)
        with batch_threads():
            for start in range(0, total, DOCS_PER_STEP):
                batch = missing[start : start + DOCS_PER_STEP]
                out = self.embedder.run(documents=[Document(content=texts[cid]) for cid in batch])["documents"]
                cache.put_many({keys[cid]: d.embedding for cid, d in zip(batch, out, strict=True)})
                progress("embed", min(start + len(batch), total), total)
        report.embedded_phrasings = sum(cid.startswith("?") for cid in missing)
        report.embedded = total - report.embedded_phrasings
        return keys

    def _write_generation(self, documents, records, vectors, paths, prev_docs, progress, flows: FlowSnapshot, built: _BuildRecord) -> Generation:
        generation = self.generations.new_generation()
        try:
            self._fill_generation(generation, documents, records, vectors, paths, prev_docs, progress, flows, built)
        except BaseException:
            shutil.rmtree(generation.path, ignore_errors=True)  # never leave half a generation behind
            with contextlib.suppress(Exception):
                drop_server_collections(self.settings, [generation.name])
            raise
        return generation

    def _fill_generation(self, generation: Generation, documents, records, vectors, paths, prev_docs, progress, flows: FlowSnapshot, built: _BuildRecord) -> None:
        progress("store", 0, 1)
        write_chunk_db(generation.chunks_db, records, vectors.phrasings(records))
        dim = vectors.dimension(records)
        store = open_vector_store(self.settings, generation, dim, create=True)
        try:
            for start in range(0, len(records), WRITE_BATCH):  # a batch of vectors in memory at a time
                batch = records[start : start + WRITE_BATCH]
                found = vectors.get(batch)
                store.write_documents(
                    [Document(id=r["chunk_id"], content=r["text"], meta={k: v for k, v in r.items() if k != "text"}, embedding=found[r["chunk_id"]]) for r in batch]
                )
        finally:
            store.close()
        docs_manifest = {
            d.id: {"hash": d.content_hash, "path": d.path, "version": d.version, "title": d.title, "kind": d.kind, "last_reviewed": d.last_reviewed}
            for d in documents
        }
        for record in records:
            if record["doc_id"] not in docs_manifest:  # a broken document's last good version, carried over
                docs_manifest[record["doc_id"]] = prev_docs[record["doc_id"]]
        manifest = {
            "generation": generation.name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "model": self.settings.embed_model,
            "embedding_dim": dim,
            "similarity": SIMILARITY,
            "chunk_max_chars": self.settings.chunk_max_chars,
            "chunk_count": len(records),
            "format": INDEX_FORMAT,
            "documents": docs_manifest,
            "sections": section_hashes(records),
            "files": paths,
            "flows": flows.digest,
        }
        generation.manifest_path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        generation.report_path.write_text(json.dumps(built.as_dict(generation.name, manifest["created"]), indent=1, ensure_ascii=False), encoding="utf-8")
        flows.copy_to(generation)
        self.generations.mark_complete(generation)
        progress("store", 1, 1)


@dataclass(frozen=True)
class _BuildRecord:
    """What a generation keeps of the re-index that built it (its `report.json`): the report as
    it stood when the generation was written, and who asked for it."""

    report: IndexReport
    editor: str

    def as_dict(self, generation: str, created: str) -> dict:
        return {**self.report.as_dict(), "generation": generation, "editor": self.editor, "created": created}


@dataclass(frozen=True)
class FlowSnapshot:
    """The guided flows go with the documents they cite: each generation keeps a copy of the flows
    it was built with, so staging, publishing and rolling back move both together, and a change
    to a flow alone is a new generation."""

    files: tuple[Path, ...]
    digest: str

    @classmethod
    def of(cls, corpus_dir: Path) -> FlowSnapshot:
        from kb.flows.library import flows_dir

        files = tuple(p for p in sorted(flows_dir(corpus_dir).glob("*.yaml")) if p.is_file() and not p.is_symlink())
        h = hashlib.sha256()
        for path in files:
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        return cls(files, h.hexdigest()[:16])

    def copy_to(self, generation: Generation) -> None:
        from kb.flows.library import FLOWS_DIR

        target = generation.path / FLOWS_DIR
        target.mkdir(exist_ok=True)
        for path in self.files:
            shutil.copyfile(path, target / path.name)
