"""Danger cues from the phrasings people type, misspellings included, and the ones that must not trigger."""

from __future__ import annotations

import pytest

from kb.safety import detect

TRIGGERS = {
    "a boy told me his dad hits him, what do i do?": {"disclosure"},
    "my neighbours kid has a bruse on her face": {"injury"},
    "child says shes scared to go home": {"immediate_danger"},
    "a girl in my group is self harming": {"self_harm"},
    "one of the young people said he wants to kill himself": {"self_harm"},
    "7 year old left home alone all weekend": {"child_alone"},
    "the kid hasn't been picked up and it's 7pm": {"child_alone"},
    "one of the dads threatend me with a knife": {"threat"},
    "Im worried a child is in danger": {"immediate_danger"},
    "she disclosed abuse to me today": {"disclosure"},
    "my son's coach touched him": {"injury"},
    "there's a baby with a bruise on his face": {"injury"},
    "a pupil told me her step dad locks her in her room": {"disclosure"},
    "he has cigarette burns on his arms": {"injury"},
    "a child in my class is suicidal": {"self_harm"},
    "teenager being blackmailed with photos": {"threat"},
}

QUIET = [
    "What does the word danger mean in our policy?",
    "what counts as immediate danger in the procedures?",
    "at what age can a child be left home alone?",
    "how long is a core group",
    "is head lice neglect",
    "what is the threshold for significant harm",
    "how do I safeguard my wifi",
    "what does LADO stand for",
    "define disclosure",
]


@pytest.mark.parametrize("question", sorted(TRIGGERS))
def test_danger_cues_trigger(question):
    assert TRIGGERS[question] <= set(detect(question).cues)


@pytest.mark.parametrize("question", QUIET)
def test_questions_about_words_or_policy_do_not_trigger(question):
    assert detect(question).cues == ()


def test_a_policy_question_that_describes_a_real_child_still_triggers():
    assert "injury" in detect("what does immediate danger mean? my daughter said her dad hit her").cues
