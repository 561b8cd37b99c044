"""The pure engine: step, back, restart, goto into other flows, clear errors; and the case scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kb.errors import FlowError
from kb.flows import engine
from kb.flows.library import FlowLibrary

FLOWS = FlowLibrary.load_default()
SCENARIOS = yaml.safe_load((Path(__file__).parent / "scenarios.yaml").read_text())


def test_step_back_restart():
    state = engine.start(FLOWS, "disclosure")
    assert engine.current(FLOWS, state).safety_first
    moved = engine.step(FLOWS, state, "No")
    assert moved.path[-1].choice == "No" and moved.at_node != state.at_node
    assert engine.back(FLOWS, moved) == state
    assert engine.restart(FLOWS, moved) == state
    assert engine.back(FLOWS, state) == state


def test_yes_to_danger_is_an_outcome_that_says_call_999():
    for flow_id in FLOWS:
        state = engine.step(FLOWS, engine.start(FLOWS, flow_id), "Yes")
        node = engine.current(FLOWS, state)
        assert node.is_outcome and "emergency-999" in node.contacts, flow_id


def test_invalid_choice_names_the_valid_options():
    state = engine.start(FLOWS, "disclosure")
    with pytest.raises(FlowError) as info:
        engine.step(FLOWS, state, "Maybe")
    assert "'Yes'" in str(info.value) and "'No'" in str(info.value)


def test_unknown_flow_is_a_clear_error():
    with pytest.raises(FlowError, match="unknown flow 'nope'"):
        engine.start(FLOWS, "nope")


def test_stepping_past_an_outcome_is_refused():
    state = engine.step(FLOWS, engine.start(FLOWS, "disclosure"), "Yes")
    with pytest.raises(FlowError, match="reached the outcome"):
        engine.step(FLOWS, state, "Yes")


def test_there_are_enough_scenarios():
    assert len(SCENARIOS) >= 20


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s["id"])
def test_scenario_reaches_its_outcome(scenario):
    state = engine.walk(FLOWS, scenario["flow"], scenario["choices"])
    node = engine.current(FLOWS, state)
    assert node.is_outcome, f"{scenario['id']} stopped at question {node.id!r}"
    assert (state.at_flow, node.id) == (scenario.get("outcome_flow", scenario["flow"]), scenario["outcome"])


def test_who_the_user_is_is_asked_once_and_carried_into_the_next_flow():
    from kb.flows.model import flow_from_data

    def role_node(next_or_goto: dict, question: str) -> dict:
        return {
            "question": question,
            "asks": "role",
            "cites": ["d#s"],
            "options": [
                {"label": "I work or volunteer with children", "roles": ["volunteer", "professional"], **next_or_goto},
                {"label": "A parent or member of the public", "roles": ["public"], **next_or_goto},
            ],
        }

    outcome = {"outcome": "Done", "protocol": "p", "actions": ["a"], "timescale": "t", "cites": ["d#s"]}
    danger = {"question": "Danger?", "safety_first": True, "cites": ["d#s"], "options": [{"label": "Yes", "next": "end"}, {"label": "No", "next": "who"}]}
    first = flow_from_data({"id": "first", "title": "t", "start": "danger", "nodes": {"danger": danger, "who": role_node({"goto": "second#who"}, "Who are you?"), "end": outcome}}, "first.yaml")
    second = flow_from_data({"id": "second", "title": "t", "start": "danger", "nodes": {"danger": danger, "who": role_node({"next": "end"}, "Are you a worker?"), "end": outcome}}, "second.yaml")
    flows = {"first": first, "second": second}

    state = engine.walk(flows, "first", ["No", "A parent or member of the public"])
    assert engine.is_finished(flows, state), "the second flow's role question is answered from the first answer"
    assert [s.carried for s in state.path] == [False, False, True]
    assert engine.progress(flows, state)[0] == 2, "only the questions asked count"
    back = engine.back(flows, state)
    assert (back.at_flow, back.at_node) == ("first", "who"), "back undoes the carried answer with the one it came from"
