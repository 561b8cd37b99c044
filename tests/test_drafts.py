"""Editors' drafts on disk: kept per editor, read back whole, removed when done, written crash-safe,
holding only the document's text, its base and the time."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kb.drafts import DRAFTS_DIR, MAX_DRAFT_BYTES, DraftStore, editor_folder_name
from kb.errors import EditorError

TEXT = "---\nid: head-lice\ntitle: Head lice\n---\n\n# Head lice\n\nAn unsaved paragraph.\n"


def test_a_draft_round_trip(tmp_path: Path):
    store = DraftStore(tmp_path, "Sam Smith")
    kept = store.keep("head-lice.md", TEXT, base="abc123")
    path = tmp_path / DRAFTS_DIR / "sam-smith" / "head-lice.md.json"
    assert path.is_file()
    assert json.loads(path.read_text()) == {"document": "head-lice.md", "text": TEXT, "base": "abc123", "saved_at": kept.saved_at}, "the text, its base and the time: nothing else"
    assert kept.saved_at.endswith("+00:00")

    again = DraftStore(tmp_path, "Sam  Smith ")  # the same name, typed again after a reload
    assert again.get("head-lice.md") == kept
    assert again.all() == [kept]
    again.keep("head-lice.md", TEXT + "More.\n", base="abc123")
    assert again.get("head-lice.md").text == TEXT + "More.\n", "a later keep replaces the draft"

    again.drop("head-lice.md")
    assert again.get("head-lice.md") is None and again.all() == []
    again.drop("head-lice.md")  # dropping what is gone is no error
    assert [p.name for p in path.parent.iterdir()] == [], "no temporary file left behind"


def test_each_editor_has_their_own_drafts(tmp_path: Path):
    DraftStore(tmp_path, "Ann").keep("head-lice.md", "Ann's text", base="")
    DraftStore(tmp_path, "Bob").keep("neglect.md", "Bob's text", base="")
    assert [d.text for d in DraftStore(tmp_path, "Ann").all()] == ["Ann's text"]
    assert [d.document for d in DraftStore(tmp_path, "Bob").all()] == ["neglect.md"]
    assert editor_folder_name("Zoë O'Neill") == "zoe-o-neill"
    assert editor_folder_name("李雷").startswith("editor-") and editor_folder_name("李雷") != editor_folder_name("韩梅梅"), "a name without Latin letters is still the editor's own"


def test_newest_draft_first(tmp_path: Path):
    store = DraftStore(tmp_path, "Ann")
    store.keep("head-lice.md", "one", base="")
    store.keep("contacts.yaml", "two", base="")
    older = store.folder / "head-lice.md.json"
    data = json.loads(older.read_text())
    older.write_text(json.dumps({**data, "saved_at": "2026-01-01T09:00:00+00:00"}))
    assert [d.document for d in store.all()] == ["contacts.yaml", "head-lice.md"]


@pytest.mark.parametrize("name", ["../secrets.md", "notes.txt", "Head Lice.md", "", ".hidden.md"])
def test_a_draft_only_ever_names_a_corpus_document(tmp_path: Path, name: str):
    with pytest.raises(EditorError, match="not allowed for a draft"):
        DraftStore(tmp_path, "Ann").keep(name, "text", base="")
    assert not (tmp_path / DRAFTS_DIR).exists() or not any((tmp_path / DRAFTS_DIR).rglob("*.json"))


def test_a_draft_too_large_to_keep_is_refused_and_the_old_one_stays(tmp_path: Path):
    store = DraftStore(tmp_path, "Ann")
    store.keep("head-lice.md", "the last good draft", base="")
    with pytest.raises(EditorError, match="too large to keep"):
        store.keep("head-lice.md", "x" * (MAX_DRAFT_BYTES + 1), base="")
    assert store.get("head-lice.md").text == "the last good draft"


def test_a_crash_while_keeping_leaves_the_old_draft(tmp_path: Path, monkeypatch):
    store = DraftStore(tmp_path, "Ann")
    store.keep("head-lice.md", "the last good draft", base="")

    def crash(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(EditorError, match="could not keep the draft of head-lice.md"):
        store.keep("head-lice.md", "a new draft", base="")
    monkeypatch.undo()
    assert store.get("head-lice.md").text == "the last good draft"
    assert [p.name for p in store.folder.iterdir()] == ["head-lice.md.json"], "the temporary file is removed"


def test_a_damaged_or_misplaced_draft_file_is_skipped(tmp_path: Path):
    store = DraftStore(tmp_path, "Ann")
    store.keep("head-lice.md", "good", base="")
    (store.folder / "neglect.md.json").write_text("{not json")
    (store.folder / "other.md.json").write_text(json.dumps({"document": "head-lice.md", "text": "x", "base": "", "saved_at": "2026-01-01T00:00:00+00:00"}))
    assert [d.document for d in store.all()] == ["head-lice.md"]
