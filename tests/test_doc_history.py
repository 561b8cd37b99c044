"""Editors never lose work: every save, upload, delete and restore keeps a version with who, when
and why; a save based on a replaced version is refused with both versions; a deleted document can
be restored; kill -9 in the middle of a save leaves the old or the new text and a history that
reads consistently."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb import editor
from kb.cli import main
from kb.config import PROJECT_ROOT, Settings
from kb.doc_history import DocumentHistory, digest
from kb.errors import EditConflictError, EditorError

NAME = "head-lice.md"


@pytest.fixture
def settings(tmp_path) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(PROJECT_ROOT / "corpus" / NAME, corpus / NAME)
    return Settings.from_env(environ={}, corpus_dir=corpus, data_dir=tmp_path / "data")


def edited(text: str, words: str) -> str:
    return text.rstrip("\n") + f"\n\n{words}\n"


def test_two_editors_on_one_document_the_second_save_is_refused_with_both_versions(settings):
    opened = editor.read_document(settings, NAME)
    base = editor.base_of(opened)  # both editors open the same version
    first = edited(opened, "Ann's paragraph.")
    editor.write_document(settings, NAME, first, base=base, editor="Ann", reason="adds a paragraph")
    second = edited(opened, "Bob's paragraph.")
    with pytest.raises(EditConflictError) as refused:
        editor.write_document(settings, NAME, second, base=base, editor="Bob", reason="adds another")
    assert refused.value.theirs == first and refused.value.mine == second, "both versions go back to the editor"
    assert "nothing was saved" in str(refused.value)
    assert editor.read_document(settings, NAME) == first, "Ann's work is still there"
    assert "+Bob's paragraph." in editor.difference(refused.value.theirs, refused.value.mine, "theirs", "mine")
    editor.write_document(settings, NAME, second, base=editor.base_of(first), editor="Bob", reason="over Ann's, having read it")
    versions = editor.history_of(settings, NAME)
    assert [(v.action, v.editor) for v in versions] == [("saved", "Bob"), ("saved", "Ann"), ("found", "Ann")]
    assert editor.document_history(settings).text(NAME, 2) == first, "Ann's version is kept even though Bob saved over it"


def test_a_refused_save_says_who_made_the_version_in_the_corpus_and_when(settings):
    opened = editor.read_document(settings, NAME)
    base = editor.base_of(opened)
    saved = editor.write_document(settings, NAME, edited(opened, "Ann's paragraph."), base=base, editor="Ann", reason="adds a paragraph")
    assert (saved.replaced, saved.version) == (True, 2), "version 1 is the text found before Ann's save"
    with pytest.raises(EditConflictError) as refused:
        editor.write_document(settings, NAME, edited(opened, "Bob's paragraph."), base=base, editor="Bob")
    theirs = refused.value.theirs_version
    assert (theirs.number, theirs.action, theirs.editor, theirs.reason) == (2, "saved", "Ann", "adds a paragraph")
    assert theirs.at == editor.history_of(settings, NAME)[0].at, "the time her version was kept"

    by_hand = edited(editor.read_document(settings, NAME), "Typed on the server.")
    (Path(settings.corpus_dir) / NAME).write_text(by_hand)
    with pytest.raises(EditConflictError) as outside:
        editor.write_document(settings, NAME, edited(opened, "Bob's paragraph."), base=base, editor="Bob")
    assert outside.value.theirs_version is None, "changed outside the Editor: its history cannot say who"

    editor.delete_document(settings, NAME, editor="Cy", reason="out of date")
    with pytest.raises(EditConflictError) as deleted:
        editor.write_document(settings, NAME, edited(opened, "Bob's paragraph."), base=base, editor="Bob")
    assert (deleted.value.theirs, deleted.value.theirs_version.action, deleted.value.theirs_version.editor) == (None, "deleted", "Cy")


def test_a_restore_keeps_the_reason_given_or_says_which_version_in_the_history_and_the_audit_log(settings, monkeypatch):
    from kb.audit import Action, AuditLog

    monkeypatch.setenv("KB_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("KB_DATA_DIR", str(settings.data_dir))
    original = editor.read_document(settings, NAME)
    editor.write_document(settings, NAME, edited(original, "A change."), editor="Ann", reason="a change")
    runner = CliRunner()
    given = runner.invoke(main, ["docs", "restore", NAME, "1", "--editor", "Bob", "--reason", "the change was wrong"])
    assert given.exit_code == 0 and "as its newest version, version 3" in given.output, given.output
    omitted = runner.invoke(main, ["docs", "restore", NAME, "2", "--editor", "Bob"])
    assert omitted.exit_code == 0, omitted.output
    assert [(v.number, v.restored_from, v.reason) for v in editor.history_of(settings, NAME)[:2]] == [(4, 2, "restored version 2"), (3, 1, "the change was wrong")]
    restores = [(e.editor, e.document, e.reason) for e in AuditLog(settings.data_dir).read() if e.action is Action.RESTORED]
    assert restores == [("Bob", NAME, "restored version 2"), ("Bob", NAME, "the change was wrong")]
    assert "restored version VERSION" in runner.invoke(main, ["docs", "restore", "--help"]).output, "the default is documented"


def test_a_new_document_refuses_to_overwrite_one_created_meanwhile(settings):
    text = (PROJECT_ROOT / "corpus" / NAME).read_text(encoding="utf-8")
    with pytest.raises(EditConflictError):
        editor.write_document(settings, NAME, edited(text, "Mine."), base=editor.base_of(None))


def test_delete_then_restore_brings_the_document_back_as_a_new_version(settings):
    original = editor.read_document(settings, NAME)
    editor.delete_document(settings, NAME, editor="Ann", reason="replaced by the neglect chapter")
    assert not (Path(settings.corpus_dir) / NAME).exists()
    assert editor.deleted_documents(settings) == [NAME]
    versions = editor.history_of(settings, NAME)
    assert [v.action for v in versions] == ["deleted", "found"]
    with pytest.raises(EditorError, match="deletion"):
        editor.restore_document(settings, NAME, versions[0].number)
    editor.restore_document(settings, NAME, 1, editor="Bob", reason="still needed")
    assert editor.read_document(settings, NAME) == original
    newest = editor.history_of(settings, NAME)[0]
    assert (newest.action, newest.restored_from, newest.editor, newest.reason) == ("restored", 1, "Bob", "still needed")
    assert editor.deleted_documents(settings) == []


def test_the_cli_lists_and_restores_versions(settings, monkeypatch):
    monkeypatch.setenv("KB_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("KB_DATA_DIR", str(settings.data_dir))
    original = editor.read_document(settings, NAME)
    editor.write_document(settings, NAME, edited(original, "A change."), editor="Ann", reason="a change")
    runner = CliRunner()
    listed = runner.invoke(main, ["docs", "history", NAME])
    assert listed.exit_code == 0 and "saved by Ann: a change" in listed.output and "found by Ann" in listed.output
    restored = runner.invoke(main, ["docs", "restore", NAME, "1", "--editor", "Bob", "--reason", "undo"])
    assert restored.exit_code == 0, restored.output
    assert editor.read_document(settings, NAME) == original
    missing = runner.invoke(main, ["docs", "restore", NAME, "99"])
    assert missing.exit_code == 1 and "has no version 99" in missing.output


def test_a_torn_log_line_and_an_orphan_version_file_are_ignored(settings):
    original = editor.read_document(settings, NAME)
    editor.write_document(settings, NAME, edited(original, "One."), editor="Ann")
    folder = DocumentHistory(settings.data_dir).root / NAME
    (folder / "v000003.md").write_text("written, then the process died before its log line\n")
    with open(folder / "log.jsonl", "a") as fh:
        fh.write('{"number": 4, "action": "sav')  # torn by a crash
    assert [v.number for v in editor.history_of(settings, NAME)] == [2, 1]
    editor.write_document(settings, NAME, edited(original, "Two."), editor="Ann")
    assert [v.number for v in editor.history_of(settings, NAME)] == [4, 2, 1], "the next version goes after the orphan, never over it"


SAVER = textwrap.dedent(
    """
    import sys
    from kb import editor
    from kb.config import Settings
    settings = Settings.from_env(environ={}, corpus_dir=sys.argv[1], data_dir=sys.argv[2])
    original = editor.read_document(settings, "head-lice.md")
    n = 0
    while True:
        n += 1
        editor.write_document(settings, "head-lice.md", original.rstrip() + f"\\n\\nSave number {n}.\\n" + "x" * (n % 7) * 5000 + "\\n", editor="worker")
    """
)


@pytest.mark.slow
def test_kill_9_during_saves_leaves_the_old_or_new_text_and_a_consistent_history(settings, tmp_path):
    rng = random.Random(int(os.environ.get("KB_KILL_SEED", "20261202")))
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    history = DocumentHistory(settings.data_dir)
    for _run in range(6):
        proc = subprocess.Popen([sys.executable, str(script), str(settings.corpus_dir), str(settings.data_dir)], cwd=PROJECT_ROOT)
        time.sleep(rng.uniform(2.0, 4.0))  # the import takes about a second; then it saves in a loop
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        text = editor.read_document(settings, NAME)
        versions = history.versions(NAME)
        assert versions, "saves were made before the kill"
        kept = {v.digest for v in versions}
        # the file is a version the history holds, or the one whose log line the kill cut off
        assert digest(text) in kept or (history.root / NAME / f"v{versions[-1].number + 1:06d}.md").is_file()
        for v in versions:
            assert digest(history.text(NAME, v.number)) == v.digest, f"version {v.number} reads back as written"
        editor.validate_document(NAME, text)
    editor.write_document(settings, NAME, edited(text, "After the kills."), editor="Ann")
    assert history.versions(NAME)[-1].editor == "Ann", "saving goes on normally after the kills"


@pytest.mark.slow
def test_a_rollback_sticks_the_next_reindex_brings_nothing_back(tmp_path):
    from kb.service import KnowledgeBase

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in (NAME, "contacts.yaml"):
        shutil.copy(PROJECT_ROOT / "corpus" / name, corpus / name)
    settings = Settings.from_env(environ={}, corpus_dir=corpus, data_dir=tmp_path / "data")
    service = KnowledgeBase(settings)
    try:
        service.index()
        original = editor.read_document(settings, NAME)
        editor.write_document(settings, NAME, edited(original, "A paragraph that turned out to be wrong."), editor="Ann", reason="mistake")
        shutil.copy(PROJECT_ROOT / "corpus" / "neglect.md", corpus / "neglect.md")  # added by hand, outside the Editor
        assert service.index().generation == "gen-000002"
        was, now = service.rollback()
        put_back = service.restore_corpus_to(now, editor="Bob")
        assert (was, now) == ("gen-000002", "gen-000001")
        assert put_back.restored == (NAME,) and put_back.deleted == ("neglect.md",) and not put_back.not_restorable
        assert editor.read_document(settings, NAME) == original
        assert editor.history_of(settings, "neglect.md")[0].action == "deleted", "the document added since is kept in its history"
        again = service.index()
        assert not (again.added or again.changed or again.removed), "re-indexing after a rollback brings nothing back"
        assert service.generations.current_name() == "gen-000001" or again.generation == "gen-000001"
    finally:
        service.close()


def test_a_version_with_no_record_of_its_files_leaves_the_corpus_alone(settings):
    before = sorted(p.name for p in Path(settings.corpus_dir).iterdir())
    put_back = editor.restore_corpus(settings, {}, editor="Ann")
    assert put_back.unknown and not put_back.changed
    assert sorted(p.name for p in Path(settings.corpus_dir).iterdir()) == before, "nothing deleted on a guess"
