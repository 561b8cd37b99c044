"""The service layer end to end: a re-index reports the flow steps whose cited text changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.config import Settings
from kb.service import KnowledgeBase

pytestmark = pytest.mark.slow

CITED = "responding-to-a-disclosure#what-should-i-do-if-a-child-tells-me-they-are-being-hurt"


def test_reindex_reports_flow_nodes_citing_changed_or_removed_sections(settings: Settings, small_corpus: Path):
    service = KnowledgeBase(settings)
    try:
        service.index()
        doc = small_corpus / "responding-to-a-disclosure.md"
        text = doc.read_text()
        assert "stay calm and listen carefully" in text
        doc.write_text(text.replace("stay calm and listen carefully", "stay calm and listen very carefully", 1))
        report = service.index()
        assert CITED in report.changed_sections
        hits = [h for h in report.affected_flow_nodes if h["section"] == CITED]
        assert hits and {h["change"] for h in hits} == {"changed"}
        assert any(h["flow"] == "disclosure" for h in hits)

        doc.unlink()
        report = service.index()
        assert any(h["section"] == CITED and h["change"] == "removed" for h in report.affected_flow_nodes)
    finally:
        service.close()


def test_ask_follows_a_reindex_in_the_same_process(settings: Settings, small_corpus: Path):
    service = KnowledgeBase(settings)
    try:
        service.index()
        assert service.ask("is head lice neglect?").citations[0].doc_id == "head-lice"
        (small_corpus / "head-lice.md").unlink()
        service.index()
        answer = service.ask("is head lice neglect?")
        assert all(c.doc_id != "head-lice" for c in answer.citations)
    finally:
        service.close()
