"""What the shipped flows ask and say: a short first screen, short walks to an outcome, and the
first-response steps for a disclosure in the FGM and exploitation outcomes for workers."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest
import yaml

from kb.flows.library import FlowLibrary

FLOWS = FlowLibrary.load_default()
SCENARIOS = yaml.safe_load((Path(__file__).parent / "scenarios.yaml").read_text())
ENTRY = "worried-about-a-child"
MOST_ANSWERS = 6  # issue 12: no walk over 6 answers, the median at most 4
MEDIAN_ANSWERS = 4


@pytest.mark.parametrize("menu", ["what", "what-public"])
def test_the_first_screen_is_a_short_menu_of_groups_each_leading_to_a_short_menu(menu):
    flow = FLOWS[ENTRY]
    groups = flow.nodes[menu].options
    assert len(groups) <= 9, f"{menu} has {len(groups)} options"
    for group in groups:
        if group.next:
            second = flow.nodes[group.next]
            assert not second.is_outcome and 2 <= len(second.options) <= 8, f"{menu} -> {group.next}: {len(second.options)} options"


def _answers(scenario: dict) -> int:
    return len(scenario["choices"])  # a role carried from an earlier answer is not a choice


def test_no_walk_from_the_first_screen_takes_more_than_six_answers():
    long = [(s["id"], _answers(s)) for s in SCENARIOS if s["flow"] == ENTRY and _answers(s) > MOST_ANSWERS]
    assert not long, long


def test_the_development_cases_take_four_answers_or_fewer_at_the_median():
    dev = [_answers(s) for s in SCENARIOS if re.fullmatch(r"dev-c\d+", s["id"])]
    assert len(dev) >= 30
    assert statistics.median(dev) <= MEDIAN_ANSWERS, sorted(dev)


WORKER_DISCLOSURE_OUTCOMES = [
    ("fgm", "fgm-tell-dsl"),
    ("fgm", "fgm-referral-to-csc"),
    ("fgm", "fgm-mandatory-report"),
    ("exploitation", "exploitation-tell-dsl"),
    ("exploitation", "exploitation-refer-now"),
    ("exploitation", "exploitation-refer-professional"),
]
FIRST_RESPONSE = {
    "no promise of secrecy": (r"don't promise to keep it secret", "responding-to-a-disclosure#can-i-promise-a-child-to-keep-a-secret"),
    "the parents or family not told first where that adds to the risk": (
        r"(?:don't|do not|before) tell(?:ing)? [^.]*(?:parents|family)",
        "consent-and-telling-parents#when-should-i-not-tell-the-parents-first",
    ),
    "the child's own words recorded": (r"in (?:her|their) own words", "responding-to-a-disclosure#how-should-i-record-what-the-child-told-me"),
}


@pytest.mark.parametrize(("flow_id", "node_id"), WORKER_DISCLOSURE_OUTCOMES, ids=lambda v: v)
def test_worker_outcomes_for_fgm_and_exploitation_carry_the_first_response_to_a_disclosure(flow_id, node_id):
    node = FLOWS[flow_id].nodes[node_id]
    said = " ".join(node.actions)
    cited = {c.section for c in node.cites}
    for step, (pattern, section) in FIRST_RESPONSE.items():
        assert re.search(pattern, said, re.IGNORECASE), f"{node_id}: {step}"
        assert section in cited, f"{node_id}: {step} is not cited ({section})"


def test_fgm_outcomes_for_workers_say_the_family_may_be_involved():
    for node_id in ("fgm-tell-dsl", "fgm-referral-to-csc", "fgm-mandatory-report"):
        node = FLOWS["fgm"].nodes[node_id]
        assert "honour-based abuse" in " ".join(node.actions), node_id
        assert "forced-marriage-and-honour-based-abuse#what-should-i-never-do-if-i-suspect-forced-marriage-or-honou" in {c.section for c in node.cites}, node_id
