"""Understanding a request before answering: refusals, danger cues, the asker's role, two questions in one."""

from __future__ import annotations

import pytest

from kb.glossary import Glossary
from kb.language import shipped_language
from kb.request import RequestReader, Role, split_parts


@pytest.fixture(scope="module")
def read():
    reader = RequestReader(shipped_language(), Glossary([]))
    return lambda question, persona="volunteer", previous=None: reader.run(question, persona, previous)["request"]


@pytest.mark.parametrize(
    "question",
    [
        "Can you write a short poem about Glastonbury Tor for our school's safeguarding assembly?",
        "please write a reference letter for our childminder, she's been brilliant with the kids",
        "Could you translate our club's safeguarding consent form into Polish?",
        "which baby monitor app should I buy for my toddler?",
        "our church wifi keeps dropping during the youth group, how do I fix the router?",
        "help me write my NPQ assignment on safeguarding leadership in Somerset schools",
        "what's the Ofsted grade of the best nursery in Taunton?",
        "Draft a complaint letter to the council about the potholes outside our school",
        "rewrite this email to a parent so it sounds friendlier",
        "how much child benefit would I get for three children?",
        "can you recommend a safeguarding training provider and what it costs?",
        "I need legal advice on my divorce",
    ],
)
def test_requests_that_are_not_safeguarding_questions_are_refused_even_when_they_mention_it(read, question):
    assert read(question).refused_as is not None


@pytest.mark.parametrize(
    "question",
    [
        "what does section 11 mean for a charity we contract to run holiday clubs?",
        "who shares information with children's social care after a referral?",
        "a child in my class has no coat in cold weather and is always hungry",
        "can you help me write down what the child told me?",
        "Can I write a letter to complain about our social worker?",
        "We're divorcing and my ex drinks heavily when he has the kids, what can I do?",
        "Can you recommend who I should call if I'm worried about a child in Frome?",
    ],
)
def test_safeguarding_questions_with_tempting_words_are_not_refused(read, question):
    assert read(question).refused_as is None


def test_a_danger_cue_is_never_refused(read):
    request = read("write a letter to social services: my neighbour's boy told me his dad hits him")
    assert request.refused_as is None and "disclosure" in request.cues.cues


@pytest.mark.parametrize(
    ("question", "cue"),
    [
        ("a girl in my group said a boy touched her in a way she didn't like", "sexual_harm"),
        ("one of my pupils said she got cut on a family trip abroad over the summer", "fgm"),
        ("a 15-year-old at our club keeps sharing extremist videos", "extremism"),
        ("her older boyfriend buys her vodka and gives her lifts", "exploitation"),
    ],
)
def test_danger_and_harm_in_everyday_words_bring_the_emergency_message(read, question, cue):
    assert cue in read(question).cues.cues


@pytest.mark.parametrize(
    ("question", "role"),
    [
        ("im 14 and my stepdad hits me when he's drunk", Role.CHILD),
        ("social services want to do an assessment of my son, what can they do to us?", Role.PARENT),
        ("I'm a health visitor and a baby on my caseload has a bruise", Role.PROFESSIONAL),
        ("a lad at our football club told me something worrying", Role.VOLUNTEER),
        ("my dad just went to prison and my mum says i'm not allowed to tell anyone at school", Role.CHILD),
        ("my mum stays in bed for days and her boyfriend drinks and shouts and i have to look after my brother", Role.CHILD),
        ("my mum looks after my kids on tuesdays and i think she smacks them", Role.PARENT),
    ],
)
def test_the_askers_own_words_decide_their_role(read, question, role):
    assert read(question, persona="professional" if role is not Role.PROFESSIONAL else "volunteer").role is role


def test_the_role_chosen_on_the_page_holds_when_the_question_does_not_show_one(read):
    assert read("what is a core group?", persona="professional").role is Role.PROFESSIONAL


def test_a_follow_up_keeps_the_earlier_danger_cue(read):
    request = read("and who do I ring at the weekend?", previous=["disclosure"])
    assert request.carried_cues == ("disclosure",) and not request.cues


def test_long_questions_are_not_steered_by_cue_words(read):
    short = read("she told me, what do i do?")
    long = read("a girl told me her uncle has been sending her messages asking for photos, what should our club do about the messages?")
    assert "promise" in short.lexical_query and "promise" not in long.lexical_query


def test_two_questions_in_one_are_split():
    assert len(split_parts("Do I have to tell the parents before I refer? And how quickly must the referral be made?")) == 2
    assert split_parts("What should I do if a child tells me they are being hurt?") == ()


@pytest.mark.parametrize(
    ("question", "step"),
    [
        ("a girl in my group told me she took a load of pills last night and wants to die", "do not leave the child alone"),
        ("my daughter has been cutting herself and says she can't keep herself safe", "call 999 or take the child to A&E"),
        ("a boy told me his uncle touches him, should I ring the uncle?", "Do not confront or contact the person"),
        ("I'm a teacher and a pupil told me she was cut down there on holiday abroad", "report to the police (101)"),
    ],
)
def test_the_emergency_message_names_the_step_the_danger_calls_for(read, question, step):
    from kb.quoting import SectionQuoter

    safety = SectionQuoter(shipped_language(), {}).safety(read(question))
    assert safety is not None and step in safety.message
    assert safety.message.startswith("If a child is in immediate danger"), "the general step comes first"


def test_a_step_two_dangers_both_call_for_is_said_once(read):
    from kb.quoting import SectionQuoter

    question = "a girl at youth club told me her stepdad touches her down there and begged me not to tell"
    request = read(question)
    assert {"disclosure", "sexual_harm"} <= set(request.cues.cues)
    message = SectionQuoter(shipped_language(), {}).safety(request).message
    assert message.count("Do not confront or contact the person the child has named") == 1
    assert "Never view, copy or forward a sexual image of a child." in message


@pytest.mark.parametrize(
    ("question", "only_defines"),
    [
        ("what does LADO stand for", True),
        ("What is a section 47?", True),
        ("whats the diff between joint and single agency s47?", True),
        ("What's the procedure if a parent turns up drunk to collect their child from nursery?", False),
        ("what is county lines and should I be worried about my son?", False),
        ("what signs of made-up or exaggerated illness could we notice at nursery?", False),
    ],
)
def test_only_a_question_about_what_a_word_means_counts_as_a_definition(read, question, only_defines):
    assert read(question).only_defines is only_defines
