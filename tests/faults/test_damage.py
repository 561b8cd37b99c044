"""Damage done to the data folder: corrupt or missing generation files, a garbled CURRENT, a
damaged embedding cache, a full disk and a read-only data folder. Each is detected and either
recovered from or reported with what to do, and the last good index keeps answering."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kb.config import Settings
from kb.errors import IndexDamagedError, IndexWriteError
from kb.index.generations import GenerationStore
from kb.service import KnowledgeBase

pytestmark = pytest.mark.slow

QUESTIONS = ["is head lice a sign of neglect", "what happens at a core group meeting"]
CHANGE = "\n\nHead lice on their own are not a reason to refer a child to children's social care.\n"


def _answers(kb: KnowledgeBase) -> list[tuple]:
    return [(a.status, a.answer, tuple(c.chunk_id for c in a.citations)) for a in map(kb.ask, QUESTIONS)]


@pytest.fixture(scope="module")
def two_generations(tmp_path_factory, corpus_copier):
    """A data folder serving gen-000002 (head lice changed) with gen-000001 kept for rollback,
    and what each answers."""
    root = tmp_path_factory.mktemp("two-generations")
    corpus = corpus_copier(root / "corpus")
    kb = KnowledgeBase(Settings.from_env(environ={}, corpus_dir=corpus, data_dir=root / "data"))
    try:
        kb.index()
        first = _answers(kb)
        lice = corpus / "head-lice.md"
        lice.write_text(lice.read_text(encoding="utf-8") + CHANGE, encoding="utf-8")
        assert kb.index().generation == "gen-000002"
        second = _answers(kb)
    finally:
        kb.close()
    return root, first, second


@pytest.fixture
def damaged_copy(two_generations, tmp_path):
    root, first, second = two_generations
    shutil.copytree(root / "corpus", tmp_path / "corpus")
    shutil.copytree(root / "data", tmp_path / "data")
    settings = Settings.from_env(environ={}, corpus_dir=tmp_path / "corpus", data_dir=tmp_path / "data")
    return settings, first, second


def _garble(path: Path) -> None:
    path.write_bytes(os.urandom(4096))


def _truncate(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(max(path.stat().st_size // 2, 1))


SERVED = Path("generations/gen-000002")
DAMAGE = {
    "manifest garbled": lambda d: _garble(d / SERVED / "manifest.json"),
    "manifest truncated": lambda d: _truncate(d / SERVED / "manifest.json"),
    "manifest of another generation": lambda d: (d / SERVED / "manifest.json").write_text((d / "generations/gen-000001/manifest.json").read_text()),
    "chunk table garbled": lambda d: _garble(d / SERVED / "chunks.sqlite"),
    "chunk table truncated": lambda d: _truncate(d / SERVED / "chunks.sqlite"),
    "chunk table missing": lambda d: (d / SERVED / "chunks.sqlite").unlink(),
    "Qdrant folder missing": lambda d: shutil.rmtree(d / SERVED / "qdrant"),
    "Qdrant storage garbled": lambda d: [_garble(p) for p in (d / SERVED / "qdrant").rglob("storage.sqlite")],
    "generation folder missing": lambda d: shutil.rmtree(d / SERVED),
    "CURRENT garbled": lambda d: (d / "CURRENT").write_bytes(b"\x00\xffgen-00000?\n"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_served_generation_is_detected_served_around_and_rebuilt(damaged_copy, damage):
    settings, first, second = damaged_copy
    DAMAGE[damage](settings.data_dir)

    # A restarted app: it says what is wrong, and answers from the newest whole generation
    # (gen-000001, or gen-000002 itself when only the pointer to it was garbled).
    fallback, expected = ("gen-000002", second) if damage == "CURRENT garbled" else ("gen-000001", first)
    kb = KnowledgeBase(settings)
    try:
        status = kb.status()
        assert status["problem"] and "kb index" in status["problem"], status
        assert _answers(kb) == expected
        assert f"earlier index generation {fallback}" in kb.searcher.problem and "kb index" in kb.searcher.problem

        # The next re-index sees the damage, indexes everything afresh and serves the result.
        report = kb.index()
        assert report.recovered_from, report
        assert report.generation == "gen-000003" and report.published
        assert _answers(kb) == second
        assert kb.status()["problem"] is None and kb.searcher.problem is None
    finally:
        kb.close()


def test_a_missing_current_pointer_serves_the_newest_whole_generation(damaged_copy):
    settings, _first, second = damaged_copy
    (settings.data_dir / "CURRENT").unlink()
    kb = KnowledgeBase(settings)
    try:
        assert _answers(kb) == second
        assert "kb index" in kb.searcher.problem
        assert kb.index().generation == "gen-000003" and kb.searcher.problem is None or _answers(kb) == second
        assert GenerationStore(settings.data_dir).current_name() == "gen-000003"
    finally:
        kb.close()


def test_the_command_line_warns_when_it_answers_from_an_earlier_generation(damaged_copy):
    settings, first, _second = damaged_copy
    _garble(settings.data_dir / SERVED / "chunks.sqlite")
    env = {**os.environ, "KB_CORPUS_DIR": str(settings.corpus_dir), "KB_DATA_DIR": str(settings.data_dir)}
    out = subprocess.run([sys.executable, "-m", "kb.cli", "ask", QUESTIONS[0]], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    warning = out.stderr.strip()
    assert warning.startswith("Warning: index generation gen-000002 is damaged") and warning.endswith("earlier index generation gen-000001; run 'kb index' to rebuild the index.")
    assert warning.count("\n") == 0, "one warning line, not the same news twice"
    assert first[0][1] in out.stdout  # the answer gen-000001 gives


def test_with_no_whole_generation_left_the_user_is_told_to_rebuild(damaged_copy):
    settings, _first, second = damaged_copy
    for gen in ("gen-000001", "gen-000002"):
        _garble(settings.data_dir / "generations" / gen / "chunks.sqlite")
    kb = KnowledgeBase(settings)
    try:
        with pytest.raises(IndexDamagedError, match="kb index"):
            kb.ask(QUESTIONS[0])
    finally:
        kb.close()
    env = {**os.environ, "KB_CORPUS_DIR": str(settings.corpus_dir), "KB_DATA_DIR": str(settings.data_dir)}
    out = subprocess.run([sys.executable, "-m", "kb.cli", "ask", QUESTIONS[0]], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert "gen-000002" in out.stderr and "kb index" in out.stderr and "Traceback" not in out.stderr
    out = subprocess.run([sys.executable, "-m", "kb.cli", "index"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "Serving gen-000003." in out.stdout.splitlines()[0], out.stderr[-3000:]
    assert out.stderr.startswith("Rebuilt the whole index, because the served index generation gen-000002 is damaged: ")
    kb = KnowledgeBase(settings)
    try:
        assert _answers(kb) == second and kb.searcher.problem is None
    finally:
        kb.close()


def test_a_damaged_embedding_cache_is_set_aside_and_the_index_still_builds(damaged_copy):
    settings, _first, second = damaged_copy
    _garble(settings.data_dir / "embeddings.sqlite")
    lice = settings.corpus_dir / "head-lice.md"
    lice.write_text(lice.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    kb = KnowledgeBase(settings)
    try:
        report = kb.index()
        assert report.generation == "gen-000003" and report.embedded == report.chunks  # everything embedded afresh
        assert (settings.data_dir / "embeddings.sqlite.damaged").exists()
        assert [a[0] for a in _answers(kb)] == [a[0] for a in second]
    finally:
        kb.close()


# A full disk and a read-only folder are made for real: a small tmpfs, and a read-only bind mount.

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small or read-only file system needs root (CI runs as root)")


@contextlib.contextmanager
def _mounted(target: Path, *args: str):
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", *args, str(target)], check=True)
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def _fill(folder: Path) -> Path:
    """Fill the file system holding `folder` to the last byte."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as handle:
        for size in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    handle.write(b"\0" * size)
    return filler


@needs_root
def test_a_full_disk_during_a_reindex_keeps_the_old_index_and_says_so(tmp_path, small_corpus):
    with _mounted(tmp_path / "disk", "-t", "tmpfs", "-o", "size=48m", "tmpfs") as disk:
        settings = Settings.from_env(environ={}, corpus_dir=small_corpus, data_dir=disk / "data")
        kb = KnowledgeBase(settings)
        try:
            kb.index()
            before = _answers(kb)
            for i in range(6):  # plenty of new text to embed and store
                text = (settings.corpus_dir / "head-lice.md").read_text(encoding="utf-8")
                (settings.corpus_dir / f"lice-{i}.md").write_text(text.replace("id: head-lice", f"id: lice-{i}").replace("Head lice", f"Head lice ({i})"), encoding="utf-8")
            filler = _fill(disk)
            with pytest.raises(IndexWriteError) as failure:
                kb.index()
            message = str(failure.value)
            assert "No space left" in message or "disk is full" in message, message
            assert "gen-000001" in message and "unchanged" in message and "free some disk space" in message
            store = GenerationStore(settings.data_dir)
            assert store.current_name() == "gen-000001"
            assert [g.name for g in store.all()] == ["gen-000001"], "half a generation was left behind"
            assert _answers(kb) == before
            fresh = KnowledgeBase(settings)  # a restarted app reads the old index too
            try:
                assert _answers(fresh) == before
            finally:
                fresh.close()
            filler.unlink()
            report = kb.index()
            assert report.generation == "gen-000002" and len(report.added) == 6
        finally:
            kb.close()


@needs_root
def test_a_read_only_data_folder_refuses_a_reindex_clearly_and_keeps_answering(tmp_path, small_corpus):
    settings = Settings.from_env(environ={}, corpus_dir=small_corpus, data_dir=tmp_path / "data")
    kb = KnowledgeBase(settings)
    kb.index()
    before = _answers(kb)
    kb.close()
    lice = settings.corpus_dir / "head-lice.md"
    lice.write_text(lice.read_text(encoding="utf-8") + CHANGE, encoding="utf-8")
    with _mounted(settings.data_dir, "--bind", str(settings.data_dir)):
        subprocess.run(["mount", "-o", "remount,ro,bind", str(settings.data_dir)], check=True)
        env = {**os.environ, "KB_CORPUS_DIR": str(settings.corpus_dir), "KB_DATA_DIR": str(settings.data_dir)}
        out = subprocess.run([sys.executable, "-m", "kb.cli", "index"], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr[-3000:]
        assert "Read-only file system" in out.stderr and "make the data folder writable" in out.stderr, out.stderr
        reader = KnowledgeBase(settings)  # the app started on the read-only folder answers as before
        try:
            assert _answers(reader) == before
            with pytest.raises(IndexWriteError, match="gen-000001"):
                reader.index()
        finally:
            reader.close()
    kb = KnowledgeBase(settings)
    try:
        assert kb.index().generation == "gen-000002"
    finally:
        kb.close()
