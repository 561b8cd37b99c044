"""Each invalid flow fixture produces its expected error; every problem names file and node."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from kb.flows.library import FlowLibrary
from kb.flows.model import load_flow_file

INVALID = Path(__file__).parent.parent / "fixtures" / "flows" / "invalid"
DEFINITIONS = Path(__file__).parent.parent.parent / "corpus" / "flows"
SECTION = "responding-to-a-disclosure#what-should-i-do-if-a-child-tells-me-they-are-being-hurt"
SECTIONS = {SECTION: "When a child tells you they are being hurt, stay calm and listen carefully to what the child says."}
CONTACTS = {"emergency-999", "somerset-direct-childrens-social-care"}


def _expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: ")
    return first.removeprefix("# expect: ")


@pytest.mark.parametrize("path", sorted(INVALID.glob("*.yaml")), ids=lambda p: p.stem)
def test_invalid_fixture_produces_its_error(path: Path, tmp_path: Path):
    (tmp_path / path.name).write_text(path.read_text())
    library = FlowLibrary.load_dir(tmp_path)
    problems = [str(p) for p in library.check(SECTIONS, CONTACTS)]
    assert any(_expected(path) in p for p in problems), problems
    assert all(p.startswith(path.name) for p in problems)


def test_all_problems_are_listed_at_once(tmp_path: Path):
    for path in INVALID.glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    problems = FlowLibrary.load_dir(tmp_path).check(SECTIONS, CONTACTS)
    assert {p.file for p in problems} == {p.name for p in INVALID.glob("*.yaml")}


def test_yes_and_no_labels_stay_text():
    flow = load_flow_file(INVALID / "unquoted-yes-label.yaml")
    assert [o.label for o in flow.nodes["danger"].options] == ["Yes", "Yes"]


def test_shipped_flows_have_a_sound_graph_and_known_contacts():
    from kb.config import PROJECT_ROOT
    from kb.contacts import load_contacts

    library = FlowLibrary.load_default()
    assert len(library) >= 11
    problems = library.check(None, set(load_contacts(PROJECT_ROOT / "corpus")))
    assert problems == []
    for flow in library.values():
        assert flow.nodes[flow.start].safety_first


def test_outcomes_cover_the_required_routes():
    library = FlowLibrary.load_default()
    text = " ".join(f"{n.outcome} {n.protocol}".lower() for f in library.values() for n in f.nodes.values() if n.is_outcome)
    for needle in ["999", "children's social care", "safeguarding lead", "early help", "lado", "101", "fgm", "private fostering", "prevent", "child death", "record"]:
        assert needle in text, needle


@pytest.mark.slow
def test_every_shipped_flow_passes_check_against_the_real_index(shipped_kb):
    sections = {sid: p.text for sid, p in shipped_kb.sections().items()}
    assert shipped_kb.flows.check(sections, set(shipped_kb.contacts)) == []


EDITORIAL = re.compile(r"\bunconfirmed\b|\bnot (?:be )?confirmed\b|\bthe corpus\b|\(see note\)|\bnot described here\b|\bnot reproduced here\b|\bnot been read\b|\bnot summarised here\b", re.IGNORECASE)


def _shown_texts(node, where: str = ""):
    """Every string a user could see in a flow file: all but the verbatim quotes of the cited text."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "quote":
                yield from _shown_texts(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _shown_texts(value, f"{where}[{i}]")
    elif isinstance(node, str):
        yield where, node


def test_no_editors_note_in_any_text_a_flow_shows():
    found = []
    for path in sorted(DEFINITIONS.glob("*.yaml")):
        found += [f"{path.name} {where}: {text[:80]}" for where, text in _shown_texts(yaml.safe_load(path.read_text())) if EDITORIAL.search(text)]
    assert not found, "say what to check and with whom instead:\n" + "\n".join(found)
