"""Questions while re-indexes switch generation, and re-indexes that collide.

Every answer is checked against the answer its own generation gives when nothing else is
happening: an answer that mixed two generations would match neither.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kb.config import PROJECT_ROOT, Settings
from kb.errors import IndexBusyError
from kb.index.generations import GenerationStore
from kb.service import KnowledgeBase

pytestmark = pytest.mark.slow

QUESTIONS = [
    "is head lice a sign of neglect",
    "what should I do about nits",
    "what happens at a core group meeting",
    "what should I do if a child tells me they are being abused",
]
SWITCHES = 8
WORKER = Path(__file__).with_name("reindex_worker.py")
SEED = 7


def _key(answer) -> tuple:
    if isinstance(answer, dict):
        return (answer["status"], answer["answer"], tuple((c["chunk_id"], c["quote"]) for c in answer["citations"]))
    return (answer.status, answer.answer, tuple((c.chunk_id, c.quote) for c in answer.citations))


def _versions(corpus: Path) -> dict[str, str]:
    """Two versions of the head lice chapter whose answers differ in every quote."""
    text = (corpus / "head-lice.md").read_text(encoding="utf-8")
    return {"A": text, "B": text.replace("head lice", "head lice (version B)").replace("Head lice", "Head lice (version B)")}


def test_questions_during_switching_reindexes_never_fail_or_mix_generations(settings: Settings, small_corpus: Path):
    versions = _versions(small_corpus)
    lice = small_corpus / "head-lice.md"
    kb = KnowledgeBase(settings)
    version_of: dict[str, str] = {}
    expected: dict[str, dict[str, tuple]] = {}
    try:
        for name, text in versions.items():
            lice.write_text(text, encoding="utf-8")
            version_of[kb.index().generation] = name
            expected[name] = {q: _key(kb.ask(q)) for q in QUESTIONS}
        assert expected["A"][QUESTIONS[0]] != expected["B"][QUESTIONS[0]]

        # Another process asks too, reading whichever generation is served when it asks.
        batch = settings.data_dir.parent / "questions.txt"
        batch.write_text("\n".join(QUESTIONS * 60) + "\n", encoding="utf-8")
        env = {**os.environ, "KB_CORPUS_DIR": str(settings.corpus_dir), "KB_DATA_DIR": str(settings.data_dir), "OPENBLAS_NUM_THREADS": "1"}
        other = subprocess.Popen([sys.executable, "-m", "kb.cli", "ask", "--batch", str(batch), "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        seen: list[tuple[str, str, tuple]] = []
        errors: list[BaseException] = []
        stop = threading.Event()

        def ask_repeatedly(seed: int) -> None:
            rng = random.Random(seed)
            while not stop.is_set():
                q = rng.choice(QUESTIONS)
                try:
                    answer = kb.ask(q)
                except BaseException as exc:  # noqa: BLE001 (every failure is a finding)
                    errors.append(exc)
                    return
                seen.append((q, answer.generation, _key(answer)))

        askers = [threading.Thread(target=ask_repeatedly, args=(SEED + i,)) for i in range(4)]
        for t in askers:
            t.start()
        rng = random.Random(SEED)
        for switch in range(SWITCHES):
            if switch % 3 == 2:
                was, now = kb.rollback()  # back to the previous generation, whichever version it holds
            else:
                name = "AB"[switch % 2]
                lice.write_text(versions[name] + f"\n<!-- switch {switch} -->\n", encoding="utf-8")
                version_of[kb.index().generation] = name
            time.sleep(rng.uniform(0.2, 1.0))
        stop.set()
        for t in askers:
            t.join(timeout=120)
        out, err = other.communicate(timeout=600)
    finally:
        kb.close()

    assert not errors, f"questions failed during re-indexing: {errors[:3]!r}"
    assert other.returncode == 0, err[-3000:]
    others = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(others) == len(QUESTIONS) * 60
    answered = seen + [(a["question"], a["generation"], _key(a)) for a in others]
    for question, generation, key in answered:
        assert key == expected[version_of[generation]][question], f"an answer from {generation} differs from that generation's own answer to {question!r}"
    generations = {g for _q, g, _k in answered}
    assert len(generations) >= 3, f"answers came from only {sorted(generations)}: the switches were not exercised"
    assert "already accessed" not in err and "locked" not in err.lower()


def _bulk_change(corpus: Path, copies: int = 12) -> None:
    """Enough new text that a re-index takes several seconds."""
    source = (PROJECT_ROOT / "corpus" / "neglect.md").read_text(encoding="utf-8")
    for i in range(copies):
        (corpus / f"neglect-copy-{i}.md").write_text(source.replace("id: neglect", f"id: neglect-copy-{i}").replace("Neglect", f"Neglect (copy {i})"), encoding="utf-8")


def test_a_second_reindex_in_the_same_process_is_refused_clearly(settings: Settings, small_corpus: Path):
    kb = KnowledgeBase(settings)
    try:
        kb.index()
        _bulk_change(small_corpus)
        embedding = threading.Event()
        outcome: dict = {}

        def first() -> None:
            outcome["report"] = kb.index(progress=lambda stage, done, total: embedding.set() if stage == "embed" else None)

        runner = threading.Thread(target=first)
        runner.start()
        assert embedding.wait(timeout=300)
        with pytest.raises(IndexBusyError, match="another re-index is running.*wait for it to finish"):
            kb.index()
        runner.join(timeout=600)
        assert outcome["report"].generation == "gen-000002" and len(outcome["report"].added) == 12
        store = GenerationStore(settings.data_dir)
        assert store.current_name() == "gen-000002" and [g.name for g in store.all()] == ["gen-000001", "gen-000002"]
        assert kb.ask("what is neglect").status == "answered"
    finally:
        kb.close()


def test_a_second_reindex_process_is_refused_clearly_and_the_first_completes(settings: Settings, small_corpus: Path):
    env = {**os.environ, "KB_CORPUS_DIR": str(settings.corpus_dir), "KB_DATA_DIR": str(settings.data_dir), "OPENBLAS_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "kb.cli", "index"], env=env, check=True, capture_output=True, timeout=600)
    _bulk_change(small_corpus, copies=24)
    # Both processes load the model first, so the second asks while the first is still embedding.
    first, second = (
        subprocess.Popen([sys.executable, str(WORKER), *args], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for args in ([], ["index"])
    )
    for proc in (first, second):
        assert proc.stdout.readline().strip() == "ready"
    first.stdin.write("go\n")
    first.stdin.flush()
    while not (line := first.stdout.readline()).split()[1:2] == ["embed"]:  # the first holds the lock
        assert line, first.stderr.read()[-3000:]
    out, err = second.communicate("go\n", timeout=600)
    assert first.poll() is None, "the first re-index ended before the second asked"
    assert second.returncode == 1 and "Traceback" not in err, err[-3000:]
    assert err.strip() == f"Error: another re-index is running on {settings.data_dir}; wait for it to finish"
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0 and out.split()[-2:] == ["finished", "gen-000002"], err[-3000:]
    store = GenerationStore(settings.data_dir)
    assert store.current_name() == "gen-000002" and store.verify(store.current()) == []
    assert len(store.current().manifest()["documents"]) == 5 + 24
