"""What's new: each published version's added, changed and removed documents and sections,
recorded by the indexer itself, newest first, and kept across rollbacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.config import Settings
from kb.index import history

pytestmark = pytest.mark.slow


def test_each_publish_records_what_changed_newest_first(settings: Settings, small_corpus: Path):
    from kb.service import KnowledgeBase

    service = KnowledgeBase(settings)
    service.index()
    lice = small_corpus / "head-lice.md"
    lice.write_text(lice.read_text().replace("## ", "## What is a nit comb for?\n\nA nit comb is a fine-toothed comb for finding and removing head lice.\n\n## ", 1))
    (small_corpus / "child-protection-plans-and-core-groups.md").unlink()
    service.index()

    newest, first = service.history()
    assert (newest.generation, newest.previous, newest.event) == ("gen-000002", "gen-000001", "published")
    changes = {d.doc_id: d for d in newest.documents}
    assert set(changes) == {"head-lice", "child-protection-plans-and-core-groups"}
    assert changes["head-lice"].change == "changed" and changes["head-lice"].sections_added == ("What is a nit comb for?",)
    assert changes["child-protection-plans-and-core-groups"].change == "removed"
    assert first.previous is None and {d.change for d in first.documents} == {"added"}
    assert service.last_changed()["head-lice"] == newest.day

    service.rollback()
    assert service.history()[0].event == "rolled back" and service.history()[0].generation == "gen-000001"


def test_without_a_history_file_the_kept_versions_are_shown(settings: Settings, small_corpus: Path):
    from kb.service import KnowledgeBase

    service = KnowledgeBase(settings)
    service.index()
    (settings.data_dir / history.HISTORY_FILE).unlink()
    releases = service.history()
    assert [r.generation for r in releases] == ["gen-000001"] and len(releases[0].documents) == 5


def test_a_damaged_history_line_is_skipped_not_fatal(settings: Settings, small_corpus: Path):
    from kb.service import KnowledgeBase

    service = KnowledgeBase(settings)
    service.index()
    with open(settings.data_dir / history.HISTORY_FILE, "a") as f:
        f.write("{not json\n")
    assert [r.generation for r in service.history()] == ["gen-000001"]
