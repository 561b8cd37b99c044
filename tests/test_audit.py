"""The editors' audit log: whole lines from many writers at once, a torn last line skipped, the
latest entries read from the end, and each editor action recorded once, from the library that
both the command line and the Editor page call."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb import editor
from kb.audit import Action, AuditLog, Entry
from kb.cli import main
from kb.config import Settings
from kb.errors import DocumentError, EditConflictError

ROOT = Path(__file__).resolve().parents[1]
VALID = (ROOT / "tests" / "fixtures" / "editor" / "kite-safety.md").read_text(encoding="utf-8")


def lines(audit: AuditLog) -> list[str]:
    return audit.path.read_text(encoding="utf-8").splitlines()


def test_an_entry_is_one_line_with_the_time_the_editor_the_action_the_document_and_the_reason(tmp_path):
    audit = AuditLog(tmp_path)
    entry = audit.record(Action.SAVED, "  Sam\nEditor ", document="head-lice.md", reason="fixed the dates\nand a typo")
    assert entry is not None and audit.path == tmp_path / "audit" / "audit.jsonl"
    (line,) = lines(audit)
    stored = json.loads(line)
    assert stored == {"at": entry.at, "editor": "Sam Editor", "action": "saved", "document": "head-lice.md", "reason": "fixed the dates and a typo"}
    assert entry.at.endswith("+00:00") and entry.at[:4].isdigit(), "UTC, ISO 8601"
    assert audit.read() == [entry]
    assert entry.describe() == "Sam Editor saved head-lice.md: fixed the dates and a typo."


def test_entries_read_newest_first_and_a_limit_takes_the_latest(tmp_path):
    audit = AuditLog(tmp_path)
    audit.path.parent.mkdir(parents=True)
    older = [Entry("2026-01-01T00:00:00+00:00", f"editor {i}", Action.SAVED, document=f"doc-{i}.md") for i in range(3000)]
    audit.path.write_text("".join(json.dumps(e.as_dict()) + "\n" for e in older))  # about 300 KB: many blocks read from the end
    newest = audit.record(Action.DELETED, "Kim", document="doc-1.md")
    latest = audit.read(50)
    assert latest == [newest, *older[:-50:-1]]
    assert len(audit.read()) == 3001 and audit.read()[-1] == older[0]
    assert audit.read(0) == []


def test_no_log_yet_reads_as_no_entries(tmp_path):
    assert AuditLog(tmp_path / "nowhere").read() == []


def test_concurrent_appends_from_threads_never_interleave(tmp_path):
    audit = AuditLog(tmp_path)
    start = threading.Barrier(8)
    reason = "x" * 2000  # long lines: a write split in two would show

    def writer(n: int) -> None:
        start.wait()
        for i in range(150):
            audit.record(Action.SAVED, f"writer {n}", document=f"doc-{i}.md", reason=f"{n}-{i} {reason}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    written = [json.loads(line) for line in lines(audit)]  # every line is whole JSON
    assert len(written) == 8 * 150
    for n in range(8):
        assert [w["reason"].split()[0] for w in written if w["editor"] == f"writer {n}"] == [f"{n}-{i}" for i in range(150)]


WRITER = r"""
import sys
from kb.audit import Action, AuditLog

audit = AuditLog(sys.argv[1])
for i in range(100):
    audit.record(Action.DELETED, f"process {sys.argv[2]}", document=f"doc-{i}.md", reason="y" * 3000)
"""


def test_concurrent_appends_from_processes_never_interleave(tmp_path):
    """The Editor page's server and `kb` commands write to the same log at once."""
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(n)], cwd=ROOT) for n in range(4)]
    assert [w.wait(timeout=120) for w in writers] == [0] * 4
    written = [json.loads(line) for line in lines(AuditLog(tmp_path))]
    assert len(written) == 400
    assert sorted(w["editor"] for w in written) == sorted(f"process {n}" for n in range(4) for _ in range(100))


def test_a_torn_last_line_is_skipped_and_the_next_entry_starts_a_line_of_its_own(tmp_path):
    audit = AuditLog(tmp_path)
    first = audit.record(Action.UNLOCKED, "Sam")
    whole = lines(audit)[0]
    with open(audit.path, "ab") as fh:  # a crash part-way through writing the second line
        fh.write(whole.encode()[: len(whole) // 2])
    assert audit.read() == [first]
    after = audit.record(Action.SAVED, "Sam", document="head-lice.md")
    assert audit.read() == [after, first]
    assert len(lines(audit)) == 3 and json.loads(lines(audit)[2])["action"] == "saved"


def test_lines_that_are_not_entries_are_skipped(tmp_path):
    audit = AuditLog(tmp_path)
    audit.path.parent.mkdir(parents=True)
    audit.path.write_text('not json\n[1, 2]\n{"at": "x", "editor": "y", "action": "made up"}\n{"at": "x", "editor": "y", "action": "saved", "extra": "z"}\n\n')
    kept = audit.record(Action.REINDEXED, "Sam", generation="gen-000002", previous="gen-000001")
    assert audit.read() == [kept]


def test_a_log_that_cannot_be_written_never_stops_the_action(tmp_path, caplog):
    audit = AuditLog(tmp_path)
    audit.path.mkdir(parents=True)  # a folder where the file should be
    assert audit.record(Action.SAVED, "Sam", document="head-lice.md") is None
    assert "could not be written" in caplog.text and "Sam saved head-lice.md" in caplog.text


@pytest.mark.parametrize(
    "entry, words",
    [
        (Entry("t", "Sam", Action.UNLOCK_FAILED), "A wrong Editor password was given, under the name Sam."),
        (Entry("t", "Sam", Action.RESTORED, document="a.md", reason="restored version 2"), "Sam restored an earlier version of a.md: restored version 2."),
        (Entry("t", "Sam", Action.REINDEXED, generation="gen-000003", previous="gen-000002"), "Sam re-indexed the documents into gen-000003."),
        (Entry("t", "Sam", Action.REINDEXED, generation="gen-000002", previous="gen-000002"), "Sam re-indexed; nothing had changed, so gen-000002 kept serving."),
        (Entry("t", "Sam", Action.PUBLISHED, generation="gen-000003"), "Sam published gen-000003."),
        (
            Entry("t", "Sam", Action.PUBLISHED_DESPITE, generation="gen-000003", previous="gen-000002", reason="the flow is fixed tomorrow"),
            "Sam published gen-000003 instead of gen-000002 although a guided flow would no longer be offered, because: the flow is fixed tomorrow.",
        ),
        (Entry("t", "Sam", Action.ROLLED_BACK, generation="gen-000001", previous="gen-000002"), "Sam rolled back from gen-000002 to gen-000001."),
        (Entry("t", "Sam", Action.CORPUS_RESTORED, generation="gen-000001"), "Sam put the documents back as they were in gen-000001."),
    ],
)
def test_each_entry_reads_in_plain_words(entry, words):
    assert entry.describe() == words


def test_an_entry_names_index_versions_as_it_is_told():
    """The Editor page names versions by when they were built and by whom, never gen-000004."""
    names = {"gen-000003": "the version built 2 December 2026 at 15:40 by Ann", "gen-000002": "the version built 1 December 2026 at 09:05 by Sam"}
    published = Entry("t", "Sam", Action.PUBLISHED, generation="gen-000003", previous="gen-000002")
    assert published.describe(names.__getitem__) == "Sam published the version built 2 December 2026 at 15:40 by Ann instead of the version built 1 December 2026 at 09:05 by Sam."
    rolled = Entry("t", "Kim", Action.ROLLED_BACK, generation="gen-000002", previous="gen-000003")
    assert rolled.describe(names.__getitem__) == "Kim rolled back from the version built 2 December 2026 at 15:40 by Ann to the version built 1 December 2026 at 09:05 by Sam."
    same = Entry("t", "Sam", Action.REINDEXED, generation="gen-000002", previous="gen-000002")
    assert same.describe(names.__getitem__) == "Sam re-indexed; nothing had changed, so the version built 1 December 2026 at 09:05 by Sam kept serving."
    assert "gen-0" not in published.describe(names.__getitem__) + rolled.describe(names.__getitem__)


# each editor action, recorded once by the library


@pytest.fixture
def settings(tmp_path) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    return Settings.from_env(environ={}, corpus_dir=corpus, data_dir=tmp_path / "data")


def actions(settings: Settings) -> list[tuple[str, str, str, str]]:
    """(action, editor, document, reason) of every entry, oldest first."""
    return [(e.action.value, e.editor, e.document, e.reason) for e in reversed(AuditLog(settings.data_dir).read())]


def test_each_document_action_is_recorded_once(settings):
    editor.save_upload(settings, "kite-safety.md", VALID.encode())
    editor.write_document(settings, "kite-safety.md", VALID + "\nOne more line.\n", editor="Sam", reason="added a line")
    editor.delete_document(settings, "kite-safety.md", editor="Kim", reason="out of date")
    editor.restore_document(settings, "kite-safety.md", 2, editor="Sam")
    assert actions(settings) == [
        ("uploaded", "not given", "kite-safety.md", ""),
        ("saved", "Sam", "kite-safety.md", "added a line"),
        ("deleted", "Kim", "kite-safety.md", "out of date"),
        ("restored", "Sam", "kite-safety.md", "restored version 2"),
    ]


def test_a_refused_save_is_not_recorded(settings):
    editor.write_document(settings, "kite-safety.md", VALID, editor="Sam")
    with pytest.raises(EditConflictError):
        editor.write_document(settings, "kite-safety.md", VALID + "\nMine.\n", base=editor.base_of("an older text"), editor="Kim")
    with pytest.raises(DocumentError):
        editor.write_document(settings, "broken.md", "no front matter\n", editor="Kim")
    assert actions(settings) == [("saved", "Sam", "kite-safety.md", "")]


@pytest.fixture
def service(make_store, settings):
    from kb.service import KnowledgeBase

    make_store(settings.data_dir, complete=[1, 2, 3], current=1)
    service = KnowledgeBase(settings)
    yield service
    service.close()


def test_publish_and_rollback_are_recorded_once_with_the_editor(service):
    service.publish("gen-000002", editor="Sam")
    service.rollback(editor="Kim")
    service.publish(despite="the flow is fixed tomorrow", editor="Sam")
    entries = list(reversed(service.recent_actions()))
    assert [(e.action, e.editor, e.generation, e.previous, e.reason) for e in entries] == [
        (Action.PUBLISHED, "Sam", "gen-000002", "gen-000001", ""),
        (Action.ROLLED_BACK, "Kim", "gen-000001", "gen-000002", ""),
        (Action.PUBLISHED, "Sam", "gen-000003", "gen-000001", "the flow is fixed tomorrow"),
    ]
    assert service.recent_actions(1) == [entries[-1]]


def test_the_command_line_records_its_user_and_lists_the_log(make_store, tmp_path):
    data = tmp_path / "data"
    make_store(data, complete=[1, 2], current=1)
    env = {"KB_DATA_DIR": str(data), "KB_CORPUS_DIR": str(tmp_path / "corpus")}
    (tmp_path / "corpus").mkdir()
    assert CliRunner().invoke(main, ["editor", "audit"], env=env).output.startswith("No editor actions are recorded yet")
    assert CliRunner().invoke(main, ["index", "--publish"], env=env).exit_code == 0
    assert CliRunner().invoke(main, ["index", "--rollback"], env=env).exit_code == 0

    listed = CliRunner().invoke(main, ["editor", "audit", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    entries = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(e["action"], e["generation"], e["previous"]) for e in entries] == [("rolled back", "gen-000001", "gen-000002"), ("published", "gen-000002", "gen-000001")]
    assert entries[0]["editor"] == entries[1]["editor"] != "not given", "the command line's user"

    shown = CliRunner().invoke(main, ["editor", "audit", "--limit", "1"], env=env).stdout.splitlines()
    assert len(shown) == 1 and shown[0].endswith(f"{entries[0]['editor']} rolled back from gen-000002 to gen-000001.")
    assert shown[0][:10] == entries[0]["at"][:10] and " UTC  " in shown[0]
