"""The load benchmark behind `kb bench --load`: many people asking at once while an editor
re-indexes, publishes and rolls back.

It runs the app's own arrangement in one process: one `KnowledgeBase` shared by every session (as
the Streamlit app holds it in `st.cache_resource`), `users` threads asking questions without pause,
and one editor thread that, until the time is up, edits a section of a document (as the Editor page
saves it, with its history), re-indexes without publishing, publishes, checks that a question about
that section is now answered from the new text, rolls back, puts the document back, and checks the
answer is the old text again. All of it on a copy of the corpus in a temporary folder.

Every answer is checked as it arrives: it names the generation it came from, that generation was
published during the run, and every citation's section exists in it with exactly the text it has
there (the passage), every quote verbatim in it. An answer that mixed two generations would cite a
section text of the other one, and is an error.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kb import editor as editor_ops
from kb.answer import Answer, Status
from kb.bench import benchmark_questions, rss_now_mb
from kb.config import Settings
from kb.errors import KBError
from kb.evaluation import percentile
from kb.index.documents import load_corpus
from kb.index.pipelines import drop_server_collections
from kb.service import KnowledgeBase

EDITOR = "load benchmark"
PERSONAS = ("volunteer", "professional")
MAX_EXAMPLES = 5  # errors described in full in the result; the rest are counted


@dataclass(frozen=True)
class Probe:
    """A question whose answer cites `section_id` of `file`, the section the editor changes."""

    question: str
    section_id: str
    file: str
    after_line: int  # the section's last line (1-based): the marker paragraph goes after it


@dataclass
class Timed:
    """One answer: when it was asked and done (clock seconds), its generation, what was wrong with it."""

    started: float
    ended: float
    generation: str
    problems: list[str]

    @property
    def ms(self) -> float:
        return (self.ended - self.started) * 1000


@dataclass
class Cycle:
    """One edit, re-index, publish and rollback, with what the probe question got after each."""

    marker: str
    generation: str = ""
    reindex_s: float = 0.0
    publish_s: float = 0.0
    rollback_s: float = 0.0
    switched: bool = False  # after publish, the probe's answer came from the new generation with the new text
    switched_back: bool = False  # after rollback, from the old generation without it

    def as_dict(self) -> dict:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in self.__dict__.items()}


@dataclass
class LoadRun:
    service: KnowledgeBase
    questions: list[str]
    users: int
    seconds: float
    log: Callable[[str], None]
    probe: Probe | None = None
    sections: dict[str, dict[str, str]] = field(default_factory=dict)  # generation -> section id -> text, for every generation served
    timed: list[Timed] = field(default_factory=list)
    windows: list[tuple[float, float]] = field(default_factory=list)  # from an edit or a rollback until the version it serves answers
    cycles: list[Cycle] = field(default_factory=list)
    editor_errors: list[str] = field(default_factory=list)
    rss_samples: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop_editing: threading.Event = field(default_factory=threading.Event)
    _stop_asking: threading.Event = field(default_factory=threading.Event)

    # setting up

    def prepare(self) -> None:
        served = self.service.generations.current_name()
        self.sections[served] = self.service.section_texts(served)
        self.probe = self._find_probe()
        self.log(f"Editor's probe: {self.probe.question!r} cites {self.probe.section_id} ({self.probe.file}); each cycle adds a paragraph to that section")

    def _find_probe(self) -> Probe:
        files = {d.id: d.path for d in load_corpus(self.service.settings.corpus_dir).documents if d.path.endswith(".md")}
        for question in dict.fromkeys(self.questions):
            answer = self.service.ask(question)
            cited = [c for c in answer.citations if c.doc_id in files]
            if answer.status is Status.ANSWERED and cited:
                section = self.service.section(cited[0].section_id)
                if section is not None:
                    return Probe(question, section.section_id, files[section.doc_id], section.line_end)
        raise KBError("no question of the benchmark's set is answered from a Markdown document of this corpus, so the editor has no section to change")

    # the sessions

    def ask_repeatedly(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self._stop_asking.is_set():
            question = rng.choice(self.questions)
            started = time.perf_counter()
            try:
                answer = self.service.ask(question, persona=rng.choice(PERSONAS))
            except Exception as exc:  # noqa: BLE001 - every failure is a finding, counted and described
                ended, generation, problems = time.perf_counter(), "", [f"{question!r} raised {type(exc).__name__}: {exc}"]
            else:
                ended, generation = time.perf_counter(), answer.generation
                problems = self.check(answer)
            with self._lock:
                self.timed.append(Timed(started, ended, generation, problems))

    def check(self, answer: Answer) -> list[str]:
        """What is wrong with an answer: incomplete, from an unknown generation, or citing text that
        is not its generation's."""
        q = repr(answer.question)
        texts = self.sections.get(answer.generation)
        if texts is None:
            return [f"{q} was answered from {answer.generation or 'no generation'}, which was not served during the run"]
        problems = []
        if answer.status is Status.ANSWERED and not (answer.answer.strip() and answer.citations):
            problems.append(f"{q} is answered without {'citations' if answer.answer.strip() else 'text'}")
        for c in answer.citations:
            if c.section_id not in texts:
                problems.append(f"{q} cites {c.section_id}, which {answer.generation} does not have")
            elif c.passage != texts[c.section_id]:
                problems.append(f"{q} cites {c.section_id} with text that is not {answer.generation}'s: the answer mixes generations")
            elif any(quote not in c.passage for quote in [c.quote, *c.quotes]):
                problems.append(f"{q} quotes text that is not in {c.section_id}")
        return problems

    # the editor

    def edit_repeatedly(self) -> None:
        number = 0
        while True:
            number += 1
            try:
                self.cycles.append(self.cycle(number))
            except Exception as exc:  # noqa: BLE001 - reported as an error of the run
                self.editor_errors.append(f"cycle {number}: {type(exc).__name__}: {exc}")
                return
            if self._stop_editing.is_set():
                return

    def cycle(self, number: int) -> Cycle:
        settings, probe, service = self.service.settings, self.probe, self.service
        cycle = Cycle(marker=f"Load benchmark check {number}: this paragraph is only in the edited version.")
        pause = min(5.0, self.seconds / 10)
        lines = editor_ops.read_document(settings, probe.file).split("\n")
        edited = "\n".join(lines[: probe.after_line] + ["", cycle.marker] + lines[probe.after_line :])

        started = time.perf_counter()
        editor_ops.write_document(settings, probe.file, edited, editor=EDITOR, reason=f"load benchmark cycle {number}")
        report = service.index(publish=False, editor=EDITOR, reason=f"load benchmark cycle {number}")
        cycle.reindex_s = time.perf_counter() - started
        cycle.generation = report.generation or ""
        self.sections[cycle.generation] = service.section_texts(cycle.generation)  # before any answer can come from it
        published = time.perf_counter()
        service.publish(cycle.generation, editor=EDITOR)
        cycle.publish_s = time.perf_counter() - published
        shown = self._probe_passage(cycle.generation)
        cycle.switched = shown is not None and cycle.marker in shown
        self.windows.append((started, time.perf_counter()))
        self._stop_editing.wait(pause)

        started = time.perf_counter()
        _was, now = service.rollback(editor=EDITOR)
        service.restore_corpus_to(now, editor=EDITOR, reason=f"load benchmark cycle {number}, rolled back")
        cycle.rollback_s = time.perf_counter() - started
        shown = self._probe_passage(now)
        cycle.switched_back = shown is not None and cycle.marker not in shown
        self.windows.append((started, time.perf_counter()))
        self.log(
            f"  cycle {number}: re-index {cycle.reindex_s:.2f} s, publish {cycle.publish_s:.2f} s ({cycle.generation}), "
            f"rollback {cycle.rollback_s:.2f} s ({now}); new text after publish: {'yes' if cycle.switched else 'NO'}, "
            f"old text after rollback: {'yes' if cycle.switched_back else 'NO'}"
        )
        self._stop_editing.wait(pause)
        return cycle

    def _probe_passage(self, generation: str) -> str | None:
        """The probe question, asked as any session asks it (and checked as theirs are): the text of
        the changed section it cites, or None when the answer is not from `generation` or does not
        cite that section."""
        answer = self.service.ask(self.probe.question)
        self.editor_errors += self.check(answer)
        cited = [c.passage for c in answer.citations if c.section_id == self.probe.section_id]
        return cited[0] if cited and answer.generation == generation else None

    # the run

    def run(self) -> dict:
        askers = [threading.Thread(target=self.ask_repeatedly, args=(i,), name=f"session-{i}") for i in range(self.users)]
        editor = threading.Thread(target=self.edit_repeatedly, name="editor")
        started = time.perf_counter()
        for thread in [*askers, editor]:
            thread.start()
        while time.perf_counter() - started < self.seconds and editor.is_alive():
            self.rss_samples.append(rss_now_mb())
            time.sleep(min(0.5, self.seconds / 20))
        self._stop_editing.set()
        editor.join()  # the cycle under way finishes (at least one always does)
        self._stop_asking.set()
        for thread in askers:
            thread.join()
        return self.result(time.perf_counter() - started)

    def result(self, elapsed: float) -> dict:
        overlaps = [any(t.started < end and t.ended > start for start, end in self.windows) for t in self.timed]
        during = [t for t, overlap in zip(self.timed, overlaps, strict=True) if overlap]
        outside = [t for t, overlap in zip(self.timed, overlaps, strict=True) if not overlap]
        failures = [p for t in self.timed for p in t.problems] + self.editor_errors
        return {
            "mode": "load",
            "users": self.users,
            "seconds": round(elapsed, 1),
            "answers": len(self.timed),
            "answers_per_s": round(len(self.timed) / elapsed, 2) if elapsed else 0.0,
            "latency_ms": _spread(self.timed),
            "latency_during_reindex_ms": _spread(during),
            "latency_outside_reindex_ms": _spread(outside),
            "errors": len(failures),
            "error_examples": failures[:MAX_EXAMPLES],
            "cycles": [c.as_dict() for c in self.cycles],
            "switched_after_publish": bool(self.cycles) and all(c.switched for c in self.cycles),
            "switched_back_after_rollback": bool(self.cycles) and all(c.switched_back for c in self.cycles),
            "generations_answered_from": sorted({t.generation for t in self.timed if t.generation}),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "peak_rss_under_load_mb": round(max(self.rss_samples, default=rss_now_mb()), 1),
        }


def _spread(timed: list[Timed]) -> dict:
    values = [t.ms for t in timed]
    if not values:
        return {"answers": 0, "median": None, "p95": None, "max": None}
    return {"answers": len(values), "median": round(statistics.median(values), 1), "p95": round(percentile(values, 95), 1), "max": round(max(values), 1)}


def run_load_benchmark(settings: Settings, users: int = 8, seconds: float = 60.0, log: Callable[[str], None] = print) -> dict:
    """Index a copy of the corpus, then `users` sessions ask for `seconds` while an editor
    re-indexes, publishes and rolls back; the figures as one JSON-able dict."""
    if users < 1:
        raise ValueError(f"users is {users}; at least one session must ask")
    if seconds <= 0:
        raise ValueError(f"seconds is {seconds}; the run must last some time")
    work = Path(tempfile.mkdtemp(prefix="kb-bench-load-"))
    corpus = work / "corpus"
    shutil.copytree(settings.corpus_dir, corpus, ignore=shutil.ignore_patterns(".*"))
    bench_settings = settings.replace(corpus_dir=corpus, data_dir=work / "data", qdrant_collection=f"kb_bench_load_{os.getpid()}")
    service = KnowledgeBase(bench_settings)
    try:
        report = service.index(editor=EDITOR, reason="load benchmark: the starting index")
        log(f"Load: indexed a copy of the corpus ({len(report.added)} documents, {report.chunks} chunks) in {report.seconds:.1f} s")
        run = LoadRun(service, benchmark_questions(200), users, seconds, log)
        run.prepare()
        log(f"Load: {users} sessions asking for {seconds:.0f} s in one process, one editor re-indexing, publishing and rolling back")
        result = run.run()
        result.update(documents=len(report.added), chunks=report.chunks)
    finally:
        service.close()
        if settings.qdrant_url:
            drop_server_collections(bench_settings, [g.name for g in service.generations.all()])
        shutil.rmtree(work, ignore_errors=True)
    _report(result, log)
    return result


def _report(result: dict, log: Callable[[str], None]) -> None:
    def spread(s: dict) -> str:
        return f"median {s['median']} ms, p95 {s['p95']} ms, max {s['max']} ms ({s['answers']} answers)" if s["answers"] else "no answers"

    log(f"Load: {result['answers']} answers in {result['seconds']} s = {result['answers_per_s']} answers/s with {result['users']} sessions")
    log(f"Load: latency overall {spread(result['latency_ms'])}")
    log(f"Load: latency during an edit, re-index, publish or rollback (until the new version answers) {spread(result['latency_during_reindex_ms'])}")
    log(f"Load: latency the rest of the time {spread(result['latency_outside_reindex_ms'])}")
    cycles = result["cycles"]
    log(
        f"Load: {len(cycles)} edit/re-index/publish/rollback cycles; answers switched to the new text after every publish: "
        f"{'yes' if result['switched_after_publish'] else 'NO'}; back after every rollback: {'yes' if result['switched_back_after_rollback'] else 'NO'}"
    )
    log(f"Load: errors {result['errors']}" + (f" ({'; '.join(result['error_examples'])})" if result["errors"] else " (every answer complete, from one generation, every citation in it)"))
    log(f"Load: peak RSS {result['peak_rss_mb']:.0f} MB (with the starting index); {result['peak_rss_under_load_mb']:.0f} MB at most while under load")
