"""`kb bench --load`: sessions asking at once while an editor re-indexes, publishes and rolls back;
and `kb bench --limits`. What is checked is what the runs report and leave behind, never a time."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.answer import Answer, Citation, Status
from kb.bench import run_limits
from kb.cli import main
from kb.config import Settings
from kb.load_benchmark import LoadRun

LOAD_KEYS = {
    "mode", "users", "seconds", "answers", "answers_per_s", "latency_ms", "latency_during_reindex_ms", "latency_outside_reindex_ms",
    "errors", "error_examples", "cycles", "switched_after_publish", "switched_back_after_rollback", "generations_answered_from",
    "peak_rss_mb", "peak_rss_under_load_mb", "documents", "chunks",
}  # fmt: skip
SPREAD_KEYS = {"answers", "median", "p95", "max"}


def _files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_the_load_run_answers_every_question_from_one_generation_and_follows_publish_and_rollback(settings: Settings, small_corpus: Path):
    before = _files(small_corpus)
    env = {"KB_CORPUS_DIR": str(small_corpus), "KB_DATA_DIR": str(settings.data_dir), "QDRANT_URL": ""}
    result = CliRunner().invoke(main, ["bench", "--load", "--users", "3", "--seconds", "2"], env=env)
    assert result.exit_code == 0, result.output[-3000:]
    lines = result.output.strip().splitlines()
    summary = json.loads(lines[-1])
    assert set(summary) == LOAD_KEYS
    assert summary["mode"] == "load" and summary["users"] == 3 and summary["documents"] == 5
    assert summary["errors"] == 0, summary["error_examples"]
    assert summary["answers"] > 0 and summary["answers_per_s"] > 0
    for key in ("latency_ms", "latency_during_reindex_ms", "latency_outside_reindex_ms"):
        assert set(summary[key]) == SPREAD_KEYS, key
    assert summary["latency_ms"]["answers"] == summary["answers"]
    assert summary["latency_during_reindex_ms"]["answers"] + summary["latency_outside_reindex_ms"]["answers"] == summary["answers"]
    assert len(summary["cycles"]) >= 1, "at least one edit, re-index, publish and rollback, however short the run"
    assert summary["switched_after_publish"] and summary["switched_back_after_rollback"]
    assert all(c["generation"] for c in summary["cycles"])
    assert summary["peak_rss_mb"] >= summary["peak_rss_under_load_mb"] > 0
    assert any(line.startswith("Load: errors 0") for line in lines), "the figures are printed for people too"
    assert _files(small_corpus) == before, "the run works on a copy of the corpus"
    assert not settings.data_dir.exists(), "nor does it touch the data folder"


def _citation(section_id: str, passage: str, quote: str) -> Citation:
    return Citation(1, "head-lice", "Head lice", "Section", "https://example.org", "1", quote, passage, section_id=section_id, quotes=[quote])


@pytest.mark.parametrize(
    ("generation", "citation", "problem"),
    [
        ("gen-000001", _citation("head-lice#a", "Old text.", "Old text."), None),
        ("gen-000002", _citation("head-lice#a", "New text.", "New text."), None),
        ("gen-000001", _citation("head-lice#a", "New text.", "New text."), "mixes generations"),
        ("gen-000001", _citation("head-lice#b", "Only in two.", "Only in two."), "gen-000001 does not have"),
        ("gen-000001", _citation("head-lice#a", "Old text.", "Made up."), "quotes text that is not in head-lice#a"),
        ("gen-000003", _citation("head-lice#a", "Old text.", "Old text."), "not served during the run"),
    ],
)
def test_an_answer_mixing_generations_or_citing_what_its_generation_lacks_is_an_error(generation, citation, problem):
    run = LoadRun(service=None, questions=[], users=1, seconds=1, log=print)
    run.sections = {"gen-000001": {"head-lice#a": "Old text."}, "gen-000002": {"head-lice#a": "New text.", "head-lice#b": "Only in two."}}
    problems = run.check(Answer("nits?", Status.ANSWERED, "Text [1]", [citation], generation=generation))
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0]


def test_an_answered_status_without_citations_is_an_error():
    run = LoadRun(service=None, questions=[], users=1, seconds=1, log=print)
    run.sections = {"gen-000001": {}}
    assert run.check(Answer("nits?", Status.ANSWERED, "Text", [], generation="gen-000001")) == ["'nits?' is answered without citations"]
    assert run.check(Answer("a poem?", Status.OUT_OF_SCOPE, "I can't help with that.", [], generation="gen-000001")) == []


@pytest.mark.parametrize("args", [["--users", "3"], ["--seconds", "5"], ["--load", "--limits"], ["--load", "--only-scale", "2"], ["--load", "--users", "0"]])
def test_load_options_out_of_place_are_bad_arguments(args):
    assert CliRunner().invoke(main, ["bench", *args]).exit_code == 2


def test_documents_and_uploads_at_the_limits_are_handled_as_the_limits_say(settings: Settings):
    lines: list[str] = []
    cases = run_limits(settings, log=lines.append)
    assert len(cases) >= 10 and len(lines) == len(cases) + 1
    for case, figures in cases.items():
        assert set(figures) == {"s", "outcome"}
        if case.endswith(": refused"):
            assert figures["outcome"].startswith("refused: "), case
        elif not case.endswith("converted or refused"):
            assert figures["outcome"] == "done", (case, figures["outcome"])
