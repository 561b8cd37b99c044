"""Incremental, crash-safe re-indexing with the real model and a real local Qdrant store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kb.config import PROJECT_ROOT, Settings
from kb.index.generations import GenerationStore
from kb.index.indexer import Indexer
from kb.index.searcher import Searcher

pytestmark = pytest.mark.slow

QUESTION = "is head lice a sign of neglect"


def _top(settings: Settings, question: str = QUESTION) -> list[str]:
    searcher = Searcher(settings)
    try:
        return [p.chunk_id for p in searcher.search(question, top_k=3)]
    finally:
        searcher.close()


def test_incremental_add_change_delete_noop(settings: Settings, small_corpus: Path):
    indexer = Indexer(settings)
    first = indexer.run()
    assert len(first.added) == 5 and first.embedded == first.chunks > 0 and first.generation == "gen-000001"

    noop = indexer.run()
    assert noop.unchanged and not (noop.added or noop.changed or noop.removed)
    assert noop.generation == "gen-000001" and noop.embedded == 0

    lice = small_corpus / "head-lice.md"
    lice.write_text(lice.read_text().replace("Head lice (nits) are very common", "Head lice (nits) are extremely common"))
    (small_corpus / "home-alone.md").write_text((PROJECT_ROOT / "corpus" / "home-alone.md").read_text())
    (small_corpus / "child-protection-plans-and-core-groups.md").unlink()
    second = indexer.run()
    assert second.added == ["home-alone"] and second.changed == ["head-lice"]
    assert second.removed == ["child-protection-plans-and-core-groups"]
    assert 0 < second.embedded < second.chunks  # only the changed section and the new document
    assert "head-lice#are-head-lice-a-safeguarding-concern" in second.changed_sections
    assert any(s.startswith("child-protection-plans-and-core-groups#") for s in second.removed_sections)

    searcher = Searcher(settings)
    try:
        hits = searcher.search("head lice", top_k=5)
        assert any("extremely common" in p.text for p in hits)
        assert not any(p.doc_id == "child-protection-plans-and-core-groups" for p in searcher.search("core group first meeting", top_k=10))
        assert searcher.search("left home alone", top_k=1)[0].doc_id == "home-alone"
    finally:
        searcher.close()


def test_a_broken_document_keeps_its_last_good_version(settings: Settings, small_corpus: Path):
    Indexer(settings).run()
    (small_corpus / "head-lice.md").write_text("---\nid: head-lice\ntitle: [unclosed\n---\n\nBody\n")
    report = Indexer(settings).run()
    assert report.errors and report.errors[0]["file"] == "head-lice.md"
    assert report.kept_previous == ["head-lice"]
    assert "head-lice" not in report.removed
    assert _top(settings)[0].startswith("head-lice#")


def test_rollback_returns_to_the_previous_generation(settings: Settings, small_corpus: Path):
    from kb.service import KnowledgeBase

    Indexer(settings).run()
    (small_corpus / "head-lice.md").unlink()
    Indexer(settings).run()
    assert not any(c.startswith("head-lice#") for c in _top(settings))
    service = KnowledgeBase(settings)
    old, new = service.rollback()
    assert (old, new) == ("gen-000002", "gen-000001")
    assert _top(settings)[0].startswith("head-lice#")


def test_searcher_follows_a_new_generation_without_restart(settings: Settings, small_corpus: Path):
    Indexer(settings).run()
    searcher = Searcher(settings)
    try:
        assert searcher.search(QUESTION, top_k=1)[0].doc_id == "head-lice"
        (small_corpus / "head-lice.md").unlink()
        Indexer(settings).run()
        assert all(p.doc_id != "head-lice" for p in searcher.search(QUESTION, top_k=5))
        assert searcher.generation_name == "gen-000002"
    finally:
        searcher.close()


HEAD_LICE_QUESTION = "is head lice neglect?"


def test_a_staged_generation_changes_no_answer_until_it_is_published(settings: Settings, small_corpus: Path):
    from kb.service import KnowledgeBase

    service = KnowledgeBase(settings)
    try:
        service.index()
        assert service.ask(HEAD_LICE_QUESTION).citations[0].doc_id == "head-lice"
        assert service.staged() is None

        (small_corpus / "head-lice.md").unlink()
        report = service.index(publish=False)
        assert report.generation == "gen-000002" and report.previous_generation == "gen-000001"
        assert report.as_dict()["published"] is False and report.removed == ["head-lice"]
        assert service.staged().name == "gen-000002" and service.status()["generation"] == "gen-000001"
        assert service.ask(HEAD_LICE_QUESTION).citations[0].doc_id == "head-lice", "the staged generation answers nothing"
        assert _top(settings)[0].startswith("head-lice#"), "nor does a searcher opened after staging"
        served, staged = service.section_texts(), service.section_texts("gen-000002")
        assert served == service.section_texts("gen-000001"), "the served generation's sections, read either way"
        assert set(staged) == {s for s in served if not s.startswith("head-lice#")}, "flows can be checked against the staged one"

        assert service.publish() == ("gen-000001", "gen-000002")
        assert service.staged() is None
        assert all(c.doc_id != "head-lice" for c in service.ask(HEAD_LICE_QUESTION).citations)

        assert service.rollback() == ("gen-000002", "gen-000001")
        assert service.ask(HEAD_LICE_QUESTION).citations[0].doc_id == "head-lice"
    finally:
        service.close()


def test_a_running_searcher_follows_a_publish_and_a_rollback(settings: Settings, small_corpus: Path):
    from kb.service import KnowledgeBase

    Indexer(settings).run()
    searcher = Searcher(settings)
    try:
        assert searcher.search(QUESTION, top_k=1)[0].doc_id == "head-lice"
        (small_corpus / "head-lice.md").unlink()
        Indexer(settings).run(publish=False)
        assert searcher.search(QUESTION, top_k=1)[0].doc_id == "head-lice" and searcher.generation_name == "gen-000001"
        KnowledgeBase(settings).publish()
        assert all(p.doc_id != "head-lice" for p in searcher.search(QUESTION, top_k=5))
        assert searcher.generation_name == "gen-000002"
        KnowledgeBase(settings).rollback()
        assert searcher.search(QUESTION, top_k=1)[0].doc_id == "head-lice" and searcher.generation_name == "gen-000001"
    finally:
        searcher.close()


def test_reindexing_compares_with_the_served_generation_never_a_staged_one(settings: Settings, small_corpus: Path):
    from kb.service import KnowledgeBase

    indexer = Indexer(settings)
    indexer.run()
    store = GenerationStore(settings.data_dir)
    (small_corpus / "head-lice.md").unlink()
    assert indexer.run(publish=False).generation == "gen-000002"

    again = indexer.run(publish=False)  # the corpus is unchanged since gen-000002 was staged
    assert again.removed == ["head-lice"] and again.previous_generation == "gen-000001"
    assert again.generation == "gen-000003" and again.embedded == 0 and not again.published
    assert [g.name for g in store.all()] == ["gen-000001", "gen-000003"], "the superseded staged one is pruned, the newest kept"

    published = indexer.run()
    assert published.removed == ["head-lice"] and published.generation == "gen-000004" and published.published
    assert store.current_name() == "gen-000004"
    assert [g.name for g in store.all()] == ["gen-000001", "gen-000004"], "a never-served generation is no rollback target"
    assert KnowledgeBase(settings).rollback() == ("gen-000004", "gen-000001")

    unchanged = indexer.run(publish=False)  # serving gen-000001 again, whose corpus had head-lice
    assert unchanged.removed == ["head-lice"] and unchanged.generation == "gen-000005"
    assert [g.name for g in store.all()] == ["gen-000001", "gen-000005"]


def test_cli_stage_then_publish(settings: Settings):
    import json

    env = {**os.environ, "KB_CORPUS_DIR": str(settings.corpus_dir), "KB_DATA_DIR": str(settings.data_dir)}
    out = subprocess.run([sys.executable, "-m", "kb.cli", "index", "--stage", "--json"], env=env, capture_output=True, text=True, check=True)
    staged = json.loads(out.stdout)
    assert {"added", "changed", "removed", "unchanged", "chunks", "seconds", "errors"} <= set(staged)
    assert staged["published"] is False and staged["generation"] == "gen-000001" and len(staged["added"]) == 5
    status = json.loads(subprocess.run([sys.executable, "-m", "kb.cli", "status"], env=env, capture_output=True, text=True, check=True).stdout)
    assert status["generation"] is None and status["staged"] == "gen-000001"
    out = subprocess.run([sys.executable, "-m", "kb.cli", "index", "--publish"], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "Published: now serving gen-000001 (was nothing)."
    again = subprocess.run([sys.executable, "-m", "kb.cli", "index", "--publish"], env=env, capture_output=True, text=True)
    assert again.returncode == 1 and "no staged index generation to publish (serving gen-000001)" in again.stderr


def test_a_killed_reindex_leaves_the_old_index_answering_the_same(settings: Settings, small_corpus: Path, tmp_path: Path):
    Indexer(settings).run()
    before = _top(settings)
    # A larger corpus of new text so the re-index is still embedding when it is killed.
    for i in range(40):
        text = (PROJECT_ROOT / "corpus" / "neglect.md").read_text().replace("id: neglect", f"id: neglect-copy-{i}")
        (small_corpus / f"neglect-copy-{i}.md").write_text(text.replace("Neglect", f"Neglect (copy {i})"))
    env = {**os.environ, "KB_CORPUS_DIR": str(small_corpus), "KB_DATA_DIR": str(settings.data_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "kb.cli", "index", "--json"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gens = settings.data_dir / "generations"
    deadline = time.time() + 120
    cache = settings.data_dir / "embeddings.sqlite"
    start_size = cache.stat().st_size
    while time.time() < deadline and proc.poll() is None and cache.stat().st_size == start_size:
        time.sleep(0.05)
    assert proc.poll() is None, "the re-index finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = GenerationStore(settings.data_dir)
    assert store.current_name() == "gen-000001"
    assert _top(settings) == before
    # The next re-index completes, removing any half-built generation.
    report = Indexer(settings).run()
    assert report.generation == "gen-000002" and len(report.added) == 40
    assert [g.name for g in store.all()] == ["gen-000001", "gen-000002"]
    assert gens.exists()


def test_cli_index_json_summary_and_ask_json_shape(settings: Settings):
    env = {**os.environ, "KB_CORPUS_DIR": str(settings.corpus_dir), "KB_DATA_DIR": str(settings.data_dir)}
    out = subprocess.run([sys.executable, "-m", "kb.cli", "index", "--json"], env=env, capture_output=True, text=True, check=True)
    import json

    summary = json.loads(out.stdout)
    assert {"added", "changed", "removed", "unchanged", "chunks", "seconds", "errors"} <= set(summary)
    batch = settings.data_dir / "questions.txt"
    batch.write_text("is head lice neglect?\nhow soon must the LADO be told?\n   \n")
    out = subprocess.run([sys.executable, "-m", "kb.cli", "ask", "--batch", str(batch), "--json"], env=env, capture_output=True, text=True, check=True)
    answers = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(answers) == 2
    for a in answers:
        assert {"question", "status", "answer", "citations", "safety", "flows"} <= set(a)
        assert a["status"] == "answered" and a["citations"]
        for c in a["citations"]:
            assert {"n", "doc_id", "title", "section", "source_url", "version", "quote", "passage"} <= set(c)
            assert c["quote"] in c["passage"]
    bad = subprocess.run([sys.executable, "-m", "kb.cli", "ask", "   "], env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and "empty" in bad.stderr and "Traceback" not in bad.stderr


def test_a_second_process_can_search_while_the_index_is_open(settings: Settings):
    """Qdrant's local mode lets one process open a folder; another reads a private copy."""
    Indexer(settings).run()
    holder = Searcher(settings)
    try:
        assert holder.search(QUESTION, top_k=1)[0].doc_id == "head-lice"  # this process now holds the folder
        env = {**os.environ, "KB_CORPUS_DIR": str(settings.corpus_dir), "KB_DATA_DIR": str(settings.data_dir)}
        out = subprocess.run([sys.executable, "-m", "kb.cli", "-v", "ask", QUESTION, "--json"], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        import json

        assert json.loads(out.stdout)["citations"][0]["doc_id"] == "head-lice"
        assert "reading a private copy" in out.stderr
    finally:
        holder.close()


def test_answers_embed_on_one_thread_and_indexing_gives_it_back(settings: Settings):
    """A question embeds on one thread (two threads on a shared 2-core machine made the slowest
    answers 10 times slower); a re-index takes every core while it embeds, then gives them back,
    so the answers that follow are not slowed by it."""
    import torch

    from kb.index.pipelines import ANSWER_THREADS
    from kb.service import KnowledgeBase

    service = KnowledgeBase(settings)
    try:
        service.index()
        assert torch.get_num_threads() == ANSWER_THREADS
        assert service.ask(QUESTION).citations
        assert torch.get_num_threads() == ANSWER_THREADS
    finally:
        service.close()
