"""The benchmark behind `kb bench`: indexing, re-indexing, retrieval and answer latency, memory.

It runs on copies of the corpus in temporary folders, so the served index is never touched:
first the shipped corpus (index, no-op and one-change re-index, latencies), then documents and
uploads at the limits (the largest allowed, and attacks refused: the tests check what is done with
them, this times it), then corpora 10 or more times its size, each in a fresh process so its peak
RSS is its own. Figures are printed as lines and returned as one JSON-able dict. The load test
(`kb bench --load`, many sessions asking while an editor publishes) is `kb.load_benchmark`.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from haystack import Document

from kb.config import PROJECT_ROOT, Settings
from kb.errors import KBError
from kb.evaluation import percentile
from kb.index.chunker import chunk_document
from kb.index.documents import load_corpus, load_document_bytes
from kb.index.indexer import Indexer
from kb.index.pipelines import batch_threads, build_document_embedder, drop_server_collections
from kb.service import KnowledgeBase

QUESTIONS = PROJECT_ROOT / "tests" / "eval" / "dev_questions.yaml"


def _ms(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 2), "p95": round(percentile(values, 95), 2)}


def benchmark_questions(n: int) -> list[str]:
    items = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8")) if QUESTIONS.exists() else []
    base = [i["question"] for i in items] or ["what should I do if a child tells me they are being hurt?"]
    return [base[i % len(base)] for i in range(n)]


def scaled_corpus(source: Path, target: Path, times: int) -> None:
    """`times` copies of every document under new ids and titles (the contacts file once).

    The title is part of every chunk's embedded text, so each copy is embedded afresh, as a
    corpus of that many different documents would be."""
    target.mkdir(parents=True)
    for path in sorted(source.glob("*.md")):
        if path.name == "README.md":
            continue
        text = path.read_text(encoding="utf-8")
        for i in range(times):
            doc_id = path.stem if i == 0 else f"{path.stem}-copy-{i}"
            copy = text
            if i:
                copy = copy.replace(f"\nid: {path.stem}\n", f"\nid: {doc_id}\n", 1)
                copy = re.sub(r"^title: (.*)$", lambda m, i=i: f"title: {_copy_title(m.group(1), i)}", copy, count=1, flags=re.MULTILINE)
                copy = copy.replace("\n# ", f"\n# (copy {i}) ", 1)
            (target / f"{doc_id}.md").write_text(copy, encoding="utf-8")
    if (source / "contacts.yaml").exists():
        shutil.copy(source / "contacts.yaml", target / "contacts.yaml")


def _copy_title(title: str, i: int) -> str:
    quoted = title[:1] in "'\"" and title[-1:] == title[:1]
    inner = title[1:-1] if quoted else title
    return f"{title[0]}{inner} (copy {i}){title[0]}" if quoted else f"{inner} (copy {i})"


def rss_now_mb() -> float:
    """This process's resident memory now (not its peak), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_benchmark(settings: Settings, scales: tuple[int, ...] = (10,), queries: int = 200, log: Callable[[str], None] = print) -> dict:
    """The shipped corpus's figures, then each scale's, each scale in a process of its own."""
    work = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    try:
        result = _run(settings, work, queries, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["limits"] = run_limits(settings, log)
    result["scales"] = [run_scale_in_subprocess(scale, queries, log) for scale in scales]
    return result


def _run(settings: Settings, work: Path, queries: int, log) -> dict:
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
    with batch_threads():
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
    qs = benchmark_questions(max(queries, 200))
    service.ask("warm up")
    retrieval = _time(lambda q: service.searcher.search_scored(q, top_k=5), qs)
    log(f"Retrieval (embed + hybrid search), {len(qs)} queries: median {retrieval['median']} ms, p95 {retrieval['p95']} ms")
    answers = _time(lambda q: service.ask(q), qs)
    log(f"Full answer (retrieval + composition): median {answers['median']} ms, p95 {answers['p95']} ms")
    lexical = _time(lambda q: service.searcher.search(q, top_k=5, mode="lexical"), qs)
    dense = _time(lambda q: service.searcher.search(q, top_k=5, mode="dense"), qs)
    log(f"Lexical alone (SQLite FTS5 BM25): median {lexical['median']} ms; dense alone (embed + Qdrant): median {dense['median']} ms")
    service.close()
    log(f"Peak RSS on the shipped corpus (index, re-index, all queries): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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
        "peak_rss_mb": round(rss_mb, 1),
    }


def run_scale(settings: Settings, scale: int, queries: int = 200, log: Callable[[str], None] = print) -> dict:
    """Index `scale` copies of the corpus from nothing, then time answers.

    Run it in a fresh process (as `kb bench` does) so the peak RSS is this scale's own. With
    QDRANT_URL set, the vectors go to that server, in collections under a prefix of their own
    that are deleted afterwards.
    """
    work = Path(tempfile.mkdtemp(prefix=f"kb-bench-{scale}x-"))
    prefix = f"kb_bench_{os.getpid()}"
    bench_settings = settings.replace(corpus_dir=work / "corpus", data_dir=work / "data", qdrant_collection=prefix)
    service = KnowledgeBase(bench_settings)
    try:
        scaled_corpus(settings.corpus_dir, bench_settings.corpus_dir, scale)
        started = time.perf_counter()
        service.indexer.embedder  # noqa: B018  (the model loads before the index is timed)
        load_s = time.perf_counter() - started
        report = service.index()
        peak_index_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        store = f"Qdrant server {settings.qdrant_url}" if settings.qdrant_url else "Qdrant local mode"
        log(f"{scale}x corpus ({report.chunks} chunks, {store}): full index {report.seconds:.1f} s, {report.chunks / report.seconds:.0f} chunks/s (model load {load_s:.1f} s before it)")
        qs = benchmark_questions(queries)
        service.ask("warm up")
        answers = _time(service.ask, qs)
        retrieval = _time(lambda q: service.searcher.search_scored(q, top_k=5), qs)
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        serving_mb = rss_now_mb()
        log(f"{scale}x: full answer median {answers['median']} ms, p95 {answers['p95']} ms; retrieval median {retrieval['median']} ms, p95 {retrieval['p95']} ms")
        log(f"{scale}x: peak RSS {rss_mb:.0f} MB (while indexing {peak_index_mb:.0f} MB); RSS while serving {serving_mb:.0f} MB")
        return {
            "scale": scale,
            "store": "server" if settings.qdrant_url else "local",
            "documents": len(report.added),
            "chunks": report.chunks,
            "index_s": round(report.seconds, 2),
            "chunks_per_s": round(report.chunks / report.seconds, 1),
            "answer_ms": answers,
            "retrieval_ms": retrieval,
            "peak_rss_mb": round(rss_mb, 1),
            "peak_rss_indexing_mb": round(peak_index_mb, 1),
            "rss_serving_mb": round(serving_mb, 1),
        }
    finally:
        service.close()
        if settings.qdrant_url:
            drop_server_collections(bench_settings, [g.name for g in service.generations.all()])
        shutil.rmtree(work, ignore_errors=True)


def run_scale_in_subprocess(scale: int, queries: int, log: Callable[[str], None] = print) -> dict:
    """`run_scale` in a fresh Python process (same environment), for a peak RSS of its own."""
    proc = subprocess.Popen([sys.executable, "-m", "kb.cli", "bench", "--only-scale", str(scale), "--queries", str(queries)], stdout=subprocess.PIPE, text=True)
    last = ""
    for line in proc.stdout:
        line = line.rstrip("\n")
        if line.startswith("{"):
            last = line
        else:
            log(line)
    if proc.wait() != 0 or not last:
        raise KBError(f"the {scale}x benchmark run failed (exit code {proc.returncode}); run 'kb bench --only-scale {scale}' to see why")
    return json.loads(last)


# documents and uploads at the limits

LARGE_SECTION = "## What should I do about concern {i}?\n\nRecord what you saw and heard, in the words used. Tell the designated safeguarding lead the same day.\n\n"
FRONT_MATTER = "---\nid: {id}\ntitle: {id}\nkind: guidance\nsource_url: https://example.org/{id}\n---\n\n"
MALFORMED_HTML = {"unclosed tags": b"<a", "end tags": b"</", "declarations": b"<!", "deep nesting": b"<div>", "attributes": b"<a b='"}


def _limit_cases() -> dict[str, tuple[str, bytes]]:
    """name -> (upload file name, or '' for a corpus document, its bytes): the slowest inputs the
    limits let through, and attacks the limits refuse (as in tests/test_upload_attacks.py)."""
    from kb.editor import MAX_UPLOAD_BYTES

    cases = {
        "document of 3,000 sections, under the size limit: load and chunk": ("", (FRONT_MATTER.format(id="large") + "".join(LARGE_SECTION.format(i=i) for i in range(3000))).encode()),
        "document with lists nested 600 levels: refused": ("", (FRONT_MATTER.format(id="nested") + "".join("  " * i + f"- level {i}\n" for i in range(600))).encode()),
        "Markdown upload at the 2 MB upload limit: refused": ("kites.md", (FRONT_MATTER.format(id="kites") + "A child left alone must know how to reach a trusted adult.\n" * 40_000).encode()[:MAX_UPLOAD_BYTES]),
        "Markdown upload of 500 KB of markup characters: refused": ("kites.md", (FRONT_MATTER.format(id="kites")).encode() + b"![" * 250_000),
        "web page at the upload limit: converted": ("kites.html", _web_page_at_limit(MAX_UPLOAD_BYTES)),
    }
    for name, unit in MALFORMED_HTML.items():
        cases[f"malformed web page at the upload limit ({name}): converted or refused"] = (f"{name.replace(' ', '-')}.html", b"<html><body><h1>Kites</h1><p>" + unit * ((MAX_UPLOAD_BYTES - 40) // len(unit)))
    crowd = _word_file_with_parts(20_000)
    if crowd:
        cases["Word file with 20,000 parts: refused"] = ("crowd.docx", crowd)
    return cases


def _web_page_at_limit(limit: int) -> bytes:
    page = b"<html><head><title>Kites</title><style>/* the site's style sheet */\n"
    text = b"</style></head><body><h1>Kite safety</h1>" + b"<p>The session leader checks every kite line.</p>" * 100 + b"</body></html>"
    return page + b" " * (limit - len(page) - len(text)) + text


def _word_file_with_parts(parts: int) -> bytes | None:
    try:
        import docx
    except ImportError:  # pragma: no cover - an optional dependency
        return None
    import io
    import zipfile

    document = docx.Document()
    document.add_heading("Kite safety", 1)
    document.add_paragraph("The session leader checks every kite line.")
    buffer = io.BytesIO()
    document.save(buffer)
    with zipfile.ZipFile(buffer, "a") as archive:
        for n in range(parts):
            archive.writestr(f"p/{n}", b"")
    return buffer.getvalue()


def run_limits(settings: Settings, log: Callable[[str], None] = print) -> dict:
    """How long the largest allowed documents and uploads, and attacks on the limits, take: each
    case's seconds and what came of it (loaded, converted, or refused with the first words why)."""
    from kb import editor

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="kb-bench-limits-") as work:
        upload_settings = settings.replace(corpus_dir=Path(work) / "corpus", data_dir=Path(work) / "data")
        Path(upload_settings.corpus_dir).mkdir()
        for case, (filename, data) in _limit_cases().items():
            started = time.perf_counter()
            try:
                if filename:
                    editor.prepare_upload(upload_settings, filename, data)
                else:
                    chunk_document(load_document_bytes(data, "document.md"), settings.chunk_max_chars)
                outcome = "done"
            except KBError as exc:
                outcome = "refused: " + str(exc)[:80]
            seconds = time.perf_counter() - started
            results[case] = {"s": round(seconds, 3), "outcome": outcome}
            log(f"At the limits: {case}: {seconds:.2f} s" + ("" if outcome == "done" else f" ({outcome}...)"))
    slowest = max(results, key=lambda case: results[case]["s"])
    log(f"At the limits: slowest {results[slowest]['s']:.2f} s ({slowest})")
    return results


def _time(fn, questions: list[str]) -> dict:
    times = []
    for q in questions:
        started = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - started) * 1000)
    return _ms(times)
