"""kill -9 a re-index at random points: the served index is always the last published generation
and answers exactly as before; the next re-index completes and leaves no half-built generation.

Each run's seed, kill point and outcome are written to test-output/faults/kill-runs.json.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kb.config import PROJECT_ROOT, Settings
from kb.index.generations import GenerationStore
from kb.service import KnowledgeBase

pytestmark = pytest.mark.slow

RUNS = 20
BASE_SEED = int(os.environ.get("KB_KILL_SEED", "20261121"))
WORKER = Path(__file__).with_name("reindex_worker.py")
QUESTIONS = [
    "is head lice a sign of neglect",
    "what should I do if a child tells me they are being abused",
    "what happens at a core group meeting",
    "what do I do if an allegation is made against a member of staff",
]
OUTPUT = PROJECT_ROOT / "test-output" / "faults"


@dataclass
class Worker:
    """A re-index process waiting for "go"; its progress lines arrive on `events` with arrival times."""

    proc: subprocess.Popen
    events: queue.Queue = field(default_factory=queue.Queue)

    @classmethod
    def start(cls, env: dict) -> Worker:
        proc = subprocess.Popen([sys.executable, str(WORKER)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        worker = cls(proc)
        threading.Thread(target=worker._read, daemon=True).start()
        return worker

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.events.put((time.perf_counter(), line.split()))
        self.events.put((time.perf_counter(), ["eof"]))

    def wait_for(self, word: str, timeout: float = 300) -> float:
        deadline = time.perf_counter() + timeout
        while True:
            at, parts = self.events.get(timeout=max(deadline - time.perf_counter(), 0.01))
            if word in parts:
                return at
            assert parts != ["eof"], f"the re-index worker ended before {word!r}"

    def go(self) -> float:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return time.perf_counter()

    def seen(self) -> list[str]:
        stages = []
        while not self.events.empty():
            _at, parts = self.events.get_nowait()
            if parts not in (["eof"], ["ready"]):
                stages.append(" ".join(parts[1:]))  # "embed 64 310": the stage, done, total
        return stages


def _answers(kb: KnowledgeBase) -> list[tuple]:
    out = []
    for q in QUESTIONS:
        a = kb.ask(q)
        out.append((a.status, a.answer, tuple((c.chunk_id, c.quote) for c in a.citations)))
    return out


def _mutate(corpus: Path, rng: random.Random, seed: int) -> None:
    """Give the re-index real work: a changed section, and fresh copies of a long document."""
    for old in corpus.glob("neglect-copy-*.md"):
        old.unlink()
    source = (PROJECT_ROOT / "corpus" / "neglect.md").read_text(encoding="utf-8")
    for i in range(rng.randint(2, 5)):
        text = source.replace("id: neglect", f"id: neglect-copy-{i}").replace("Neglect", f"Neglect (run {seed}, copy {i})")
        (corpus / f"neglect-copy-{i}.md").write_text(text, encoding="utf-8")
    lice = corpus / "head-lice.md"
    lice.write_text(lice.read_text(encoding="utf-8").rstrip("\n") + f"\n\nA note added in run {seed}.\n", encoding="utf-8")


def test_kill_9_at_random_points_never_loses_the_served_index(settings: Settings, small_corpus: Path):
    env = {**os.environ, "KB_CORPUS_DIR": str(small_corpus), "KB_DATA_DIR": str(settings.data_dir), "OPENBLAS_NUM_THREADS": "1"}
    store = GenerationStore(settings.data_dir)
    kb = KnowledgeBase(settings)
    runs: list[dict] = []
    try:
        kb.index()
        # A calibration run, not killed: how long a re-index takes and when it starts writing.
        _mutate(small_corpus, random.Random(BASE_SEED - 1), BASE_SEED - 1)
        worker = Worker.start(env)
        worker.wait_for("ready")
        go = worker.go()
        store_at = worker.wait_for("store") - go
        finish_at = worker.wait_for("finished") - go
        worker.proc.wait(timeout=60)
        expected = _answers(kb)

        next_worker = Worker.start(env)
        for run in range(RUNS):
            seed = BASE_SEED + run
            rng = random.Random(seed)
            _mutate(small_corpus, rng, seed)
            # Half the runs aim anywhere in the run, half at the writing, publishing and pruning.
            anchor = "start" if run % 2 == 0 else "store"
            delay = rng.uniform(0, finish_at if anchor == "start" else (finish_at - store_at) * 1.2)
            worker, next_worker = next_worker, Worker.start(env)  # the next one loads while this one runs
            worker.wait_for("ready")
            served_before = store.current_name()
            go = worker.go()
            if anchor == "store":
                worker.wait_for("store")
            time.sleep(delay)
            worker.proc.send_signal(signal.SIGKILL)
            worker.proc.wait(timeout=60)
            stages = worker.seen()

            served = store.current_name()
            record = {"seed": seed, "anchor": anchor, "delay_s": round(delay, 3), "killed_after_s": round(time.perf_counter() - go, 3), "last_step_seen": stages[-1] if stages else "none", "served_before": served_before, "served_after_kill": served}
            runs.append(record)
            assert served in (served_before, *[g.name for g in store.complete() if g.number > int(served_before[4:])]), record
            assert store.verify(store.get(served)) == [], record
            answers = _answers(kb)
            if served == served_before:
                assert answers == expected, f"the old index answers differently after the kill: {record}"
            # The next re-index completes, serves the corpus as it is, and leaves nothing half-built.
            report = kb.index()
            record["recovery"] = {"generation": report.generation, "embedded": report.embedded}
            assert [g.name for g in store.all() if not g.is_complete()] == [], record
            assert store.current_name() == store.complete()[-1].name, record
            expected_after = _answers(kb)
            if served != served_before:  # killed after it published: it served the finished index already
                assert answers == expected_after, f"the new index answered differently before cleanup: {record}"
            expected = expected_after
        next_worker.proc.kill()
        next_worker.proc.wait(timeout=60)
    finally:
        kb.close()
        OUTPUT.mkdir(parents=True, exist_ok=True)
        (OUTPUT / "kill-runs.json").write_text(json.dumps({"base_seed": BASE_SEED, "runs": runs}, indent=1), encoding="utf-8")
    assert len(runs) == RUNS
    before_publish = sum(r["served_after_kill"] == r["served_before"] for r in runs)
    print(f"{RUNS} kills: {before_publish} before the switch, {RUNS - before_publish} after it; runs recorded in {OUTPUT / 'kill-runs.json'}")
