"""The decision record: path, cited text with versions, outcome, notes; escaped in HTML; no storage."""

from __future__ import annotations

import datetime as dt

import pytest

from kb.flows import engine
from kb.flows.record import NOTES_HEADINGS, record_html, record_markdown

pytestmark = pytest.mark.slow


def test_record_holds_path_outcome_sources_and_notes(shipped_kb):
    flows = shipped_kb.flows
    state = engine.walk(flows, "disclosure", ["Yes"])
    when = dt.datetime(2026, 11, 21, 10, 30, tzinfo=dt.UTC)
    notes = {NOTES_HEADINGS[0]: "<script>alert(1)</script> bruises seen"}
    md = record_markdown(flows, state, shipped_kb.sections(), shipped_kb.contacts, notes, when)
    assert "# Decision record" in md and "2026-11-21 10:30" in md
    assert "Answer: Yes" in md and "Outcome:" in md and "999" in md
    assert "version " in md
    for heading in NOTES_HEADINGS:
        assert heading in md
    page = record_html(md)
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_index_reports_flow_nodes_whose_citations_changed(shipped_kb):
    flows = shipped_kb.flows
    cited = next(iter(flows["disclosure"].cited_sections()))
    hits = flows.affected_by({cited}, set())
    assert hits and all(h["section"] == cited and h["change"] == "changed" for h in hits)
    removed = flows.affected_by(set(), {cited})
    assert removed and removed[0]["change"] == "removed"
