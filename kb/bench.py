"""The benchmark behind `kb bench`: indexing, re-indexing, retrieval and answer latency, memory.

Everything runs in one process on copies of the corpus in a temporary folder, so the served
index is never touched. Figures are printed as lines and returned as one JSON-able dict.
"""

from __future__ import annotations

import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from haystack import Document

from kb.config import PROJECT_ROOT, Settings
from kb.evaluation import percentile
from kb.index.chunker import chunk_document
from kb.index.documents import load_corpus
from kb.index.indexer import Indexer
from kb.index.pipelines import build_document_embedder
from kb.service import KnowledgeBase

QUESTIONS = PROJECT_ROOT / "tests" / "eval" / "dev_questions.yaml"


def _ms(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 2), "p95": round(percentile(values, 95), 2)}


def _questions(n: int) -> list[str]:
    items = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8")) if QUESTIONS.exists() else []
    base = [i["question"] for i in items] or ["what should I do if a child tells me they are being hurt?"]
    return [base[i % len(base)] for i in range(n)]


def scaled_corpus(source: Path, target: Path, times: int) -> None:
    """`times` copies of every document under new ids (the contacts file once)."""
    target.mkdir(parents=True)
    for path in sorted(source.glob("*.md")):
        if path.name == "README.md":
            continue
        text = path.read_text(encoding="utf-8")
        for i in range(times):
            doc_id = path.stem if i == 0 else f"{path.stem}-copy-{i}"
            copy = text.replace(f"\nid: {path.stem}\n", f"\nid: {doc_id}\n", 1) if i else text
            if i:
                copy = copy.replace("\n# ", f"\n# (copy {i}) ", 1)
            (target / f"{doc_id}.md").write_text(copy, encoding="utf-8")
    if (source / "contacts.yaml").exists():
        shutil.copy(source / "contacts.yaml", target / "contacts.yaml")


def run_benchmark(settings: Settings, scale: int = 10, queries: int = 200, log: Callable[[str], None] = print) -> dict:
    work = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    try:
        return _run(settings, work, scale, queries, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(settings: Settings, work: Path, scale: int, queries: int, log) -> dict:
    corpus = work / "corpus"
    shutil.copytree(settings.corpus_dir, corpus)
    bench_settings = settings.replace(corpus_dir=corpus, data_dir=work / "data")

    started = time.perf_counter()
    embedder = build_document_embedder(bench_settings)
    embedder.warm_up()
    load_s = time.perf_counter() - started
    log(f"Model load: {load_s:.2f} s ({bench_settings.embed_model})")

    loaded = load_corpus(corpus)
    chunks = [c for d in loaded.documents for c in chunk_document(d, bench_settings.chunk_max_chars)]
    embedder.run(documents=[Document(content="warm up")])
    started = time.perf_counter()
    for start in range(0, len(chunks), 64):
        embedder.run(documents=[Document(content=c.embed_text()) for c in chunks[start : start + 64]])
    model_s = time.perf_counter() - started
    log(f"Model alone, embedding {len(chunks)} chunks: {model_s:.2f} s")

    indexer = Indexer(bench_settings, embedder=embedder)
    report = indexer.run()
    full_s = report.seconds
    log(f"Full index: {full_s:.2f} s, {report.chunks} chunks, {report.chunks / full_s:.0f} chunks/s ({full_s / model_s:.2f} x the model's own time)")

    noop_s = indexer.run().seconds
    log(f"No-op re-index: {noop_s:.3f} s")

    target = corpus / "head-lice.md"
    target.write_text(target.read_text(encoding="utf-8").replace("very common", "very, very common", 1), encoding="utf-8")
    changed = indexer.run()
    log(f"One changed document re-index: {changed.seconds:.3f} s ({changed.embedded} chunks embedded)")

    service = KnowledgeBase(bench_settings)
    qs = _questions(max(queries, 200))
    service.ask("warm up")
    retrieval = _time(lambda q: service.searcher.search_scored(q, top_k=5), qs)
    log(f"Retrieval (embed + hybrid search), {len(qs)} queries: median {retrieval['median']} ms, p95 {retrieval['p95']} ms")
    answers = _time(lambda q: service.ask(q), qs)
    log(f"Full answer (retrieval + composition): median {answers['median']} ms, p95 {answers['p95']} ms")
    lexical = _time(lambda q: service.searcher.search(q, top_k=5, mode="lexical"), qs)
    dense = _time(lambda q: service.searcher.search(q, top_k=5, mode="dense"), qs)
    log(f"Lexical alone (SQLite FTS5 BM25): median {lexical['median']} ms; dense alone (embed + Qdrant): median {dense['median']} ms")
    service.close()
    rss_shipped_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log(f"Peak RSS on the shipped corpus (index, re-index, all queries): {rss_shipped_mb:.0f} MB")

    big = work / "corpus-x"
    scaled_corpus(corpus, big, scale)
    big_settings = settings.replace(corpus_dir=big, data_dir=work / "data-x")
    big_report = Indexer(big_settings, embedder=embedder).run()
    big_service = KnowledgeBase(big_settings)
    big_service.ask("warm up")
    big_answers = _time(lambda q: big_service.ask(q), qs)
    big_lexical = _time(lambda q: big_service.searcher.search(q, top_k=5, mode="lexical"), qs)
    log(
        f"At {scale}x ({big_report.chunks} chunks): full answer median {big_answers['median']} ms, p95 {big_answers['p95']} ms; "
        f"lexical alone median {big_lexical['median']} ms"
    )
    big_service.close()

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log(f"Peak RSS including the {scale}x corpus: {rss_mb:.0f} MB")
    return {
        "chunks": report.chunks,
        "model_load_s": round(load_s, 3),
        "model_embed_s": round(model_s, 3),
        "full_index_s": round(full_s, 3),
        "full_index_vs_model": round(full_s / model_s, 3),
        "chunks_per_s": round(report.chunks / full_s, 1),
        "noop_reindex_s": round(noop_s, 3),
        "one_changed_reindex_s": round(changed.seconds, 3),
        "retrieval_ms": retrieval,
        "answer_ms": answers,
        "lexical_ms": lexical,
        "dense_ms": dense,
        "scale": scale,
        "scaled_chunks": big_report.chunks,
        "scaled_answer_ms": big_answers,
        "scaled_lexical_ms": big_lexical,
        "peak_rss_shipped_mb": round(rss_shipped_mb, 1),
        "peak_rss_mb": round(rss_mb, 1),
    }


def _time(fn, questions: list[str]) -> dict:
    times = []
    for q in questions:
        started = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - started) * 1000)
    return _ms(times)
