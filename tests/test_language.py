"""The editors' language rules: the shipped files load, and a broken file names every problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kb.config import PROJECT_ROOT
from kb.language import LanguageError, language_dir, load_language

SHIPPED = PROJECT_ROOT / "corpus" / "language"


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "language"
    shutil.copytree(SHIPPED, folder)
    return folder


def test_the_shipped_rules_load_and_name_only_known_flows_and_contacts():
    from kb.contacts import load_contacts
    from kb.flows.library import FlowLibrary

    language = load_language(SHIPPED, set(FlowLibrary.load_default().ids()), set(load_contacts(PROJECT_ROOT / "corpus")))
    assert {"disclosure", "injury", "sexual_harm", "exploitation", "fgm"} <= set(language.cue_names)
    assert [r.role for r in language.roles] == ["child", "professional", "parent", "volunteer"]
    assert any(r.type == "writing" for r in language.requests)


def test_every_problem_is_listed_at_once_by_file_and_entry(rules: Path):
    cues = (rules / "cues.yaml").read_text()
    (rules / "cues.yaml").write_text(cues.replace("- \\bunsafe\\b", "- '(unclosed'", 1).replace("label: a disclosure", "label: a disclosure\n    colour: red", 1))
    roles = (rules / "roles.yaml").read_text()
    (rules / "roles.yaml").write_text(roles.replace("{childline}", "{no-such-helpline}"))
    with pytest.raises(LanguageError) as err:
        load_language(rules, contact_ids={"childline", "emergency-999", "somerset-direct-childrens-social-care", "emergency-duty-team", "nspcc-helpline"})
    message = str(err.value)
    assert "cues.yaml: cue immediate_danger patterns" in message and "not a valid regular expression" in message
    assert "unknown key 'colour'" in message
    assert "unknown contact {no-such-helpline}" in message


def test_a_missing_file_and_an_unknown_flow_are_named(rules: Path):
    (rules / "synonyms.yaml").unlink()
    with pytest.raises(LanguageError) as err:
        load_language(rules, flow_ids={"disclosure"})
    assert "synonyms.yaml is missing" in str(err.value)
    assert "unknown flow 'worried-about-a-child'" in str(err.value)


def test_a_corpus_without_rules_uses_the_shipped_ones(tmp_path: Path):
    assert language_dir(tmp_path) == SHIPPED
    (tmp_path / "language").mkdir()
    assert language_dir(tmp_path) == tmp_path / "language"
