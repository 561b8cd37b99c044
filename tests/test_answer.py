"""Answers on the shipped corpus with the real model: quoted verbatim, cited, honest, safe."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kb.errors import QuestionError
from kb.evaluation import evaluate_file

pytestmark = pytest.mark.slow

DEV = Path(__file__).parent / "eval" / "dev_questions.yaml"


@pytest.fixture(scope="module")
def dev_answers(shipped_kb):
    items = yaml.safe_load(DEV.read_text())
    return [(item, shipped_kb.ask(item["question"])) for item in items]


def test_every_quote_is_verbatim_in_its_cited_passage(dev_answers):
    for item, answer in dev_answers:
        for c in answer.citations:
            assert c.quote and c.quote in c.passage, item["id"]
            assert f"[{c.n}]" in answer.answer
            assert c.quote in answer.answer


def test_out_of_scope_questions_are_refused_without_citations(dev_answers):
    refused = [(item, a) for item, a in dev_answers if item.get("expect") == "refuse_or_no_answer"]
    assert len(refused) >= 8
    for item, answer in refused:
        assert answer.status in ("out_of_scope", "not_found"), item["id"]
        assert answer.citations == [], item["id"]


def test_definition_questions_are_answered_by_the_section_that_defines_the_term(shipped_kb):
    answer = shipped_kb.ask("what is a core group?")
    assert answer.status == "answered" and "core group" in answer.answering.lower()
    lado = shipped_kb.ask("What does LADO stand for?")
    assert "Local Authority Designated Officer" in lado.answer


def test_old_names_are_expanded(shipped_kb):
    answer = shipped_kb.ask("what replaced serious case reviews?")
    assert "child safeguarding practice review" in (answer.answer + " ".join(c.passage for c in answer.citations)).lower()


def test_danger_puts_the_emergency_message_first_with_a_flow(shipped_kb):
    answer = shipped_kb.ask("a boy told me his dad hits him, what do i do?")
    assert answer.safety and "999" in answer.safety.message and "0300 123 2224" in answer.safety.message
    assert "disclosure" in answer.flows
    assert answer.status == "answered"


def test_a_definition_gets_no_first_step_and_a_situation_keeps_it(shipped_kb):
    """"Tell your safeguarding lead today" above what LADO stands for is noise; a situation keeps it."""
    assert shipped_kb.ask("what does LADO stand for", persona="volunteer").advice == ""
    situation = shipped_kb.ask("What's the procedure if a parent turns up drunk to collect their child?", persona="volunteer")
    assert situation.advice.startswith("If you are worried about a child, tell your organisation's safeguarding lead")


def test_personas_get_different_advice(shipped_kb):
    volunteer = shipped_kb.ask("is head lice neglect? what do I do?", persona="volunteer")
    professional = shipped_kb.ask("is head lice neglect? what do I do?", persona="professional")
    assert "safeguarding lead" in volunteer.advice
    assert "children's social care" in professional.advice and volunteer.advice != professional.advice


@pytest.mark.parametrize("question", ["", "   ", "\x00\x01", "x" * 10_000])
def test_empty_or_huge_questions_get_a_clear_message(shipped_kb, question):
    with pytest.raises(QuestionError) as info:
        shipped_kb.ask(question)
    assert "question" in str(info.value)


@pytest.mark.parametrize(
    "question",
    ["'; DROP TABLE chunks; --", "<script>alert('x')</script> what is neglect?", "¿Qué hago si un niño me cuenta que le pegan?", "LADO\u0007 OR 1=1", 'what is "early help" AND NOT *'],
)
def test_odd_questions_get_a_normal_answer(shipped_kb, question):
    answer = shipped_kb.ask(question)
    assert answer.status in ("answered", "not_found", "out_of_scope")
    assert "<script>" not in answer.answer


def test_development_set_scores(shipped_kb):
    report = evaluate_file(shipped_kb, DEV)
    s = report["summary"]
    assert s["out_of_scope_refused"] == 1.0
    assert s["quotes_verbatim"] == 1.0
    # This set was written beside the corpus for the earlier sentence-picking design (its facts
    # often span two or three sections); measured 75.0% must facts and 81.2% top-1 section on the
    # 51-document corpus (77.8% with 33 documents: new chapters compete for some of its questions).
    assert s["must_coverage"] >= 0.72
    assert s["top3_section"] >= 0.9
    assert s["answers_with_duplicate_citations"] == 0 and s["answers_without_citation"] == 0
    assert s["recall_at_5"]["hybrid"] >= max(s["recall_at_5"]["lexical"], s["recall_at_5"]["dense"])


def test_an_answer_quotes_one_section_and_names_the_question_it_answers(shipped_kb):
    answer = shipped_kb.ask("do I have to tell the parents before I report?")
    assert answer.answering == "Should I tell the parents before I make a referral?"
    assert "greater risk of harm" in answer.answer  # the exception travels with the rule
    assert len({c.section_id for c in answer.citations}) == len(answer.citations)


def test_a_tempting_request_is_refused_and_a_follow_up_keeps_the_emergency_message(shipped_kb):
    assert shipped_kb.ask("write a poem about Glastonbury Tor for our school assembly").status == "out_of_scope"
    first = shipped_kb.ask("a girl at our club said a boy touched her in a way she didn't like")
    assert first.safety and "999" in first.safety.message
    follow_up = shipped_kb.ask("who do I ring at the weekend?", previous=first.safety)
    assert follow_up.safety and follow_up.safety.carried


def test_a_scoped_procedure_answers_only_questions_in_its_scope(shipped_kb):
    baby = shipped_kb.ask("a 3 month old baby has a bruise on his cheek")
    assert baby.citations[0].doc_id == "bruising-in-non-mobile-babies"
    older = shipped_kb.ask("a 9 year old has bruises on her arms")
    assert older.safety and all(c.doc_id != "bruising-in-non-mobile-babies" for c in older.citations)


def test_a_situation_told_at_length_can_be_answered_by_two_sections_of_one_document_each_under_its_question(shipped_kb):
    answer = shipped_kb.ask(
        "I help out at a youth club. Tonight a 13 year old girl told me her stepdad comes into her room at night and "
        "touches her down there. She begged me not to tell anyone and then went home with him picking her up. What do I do now?"
    )
    assert 1 <= len(answer.parts) <= 2
    assert len({c.section_id for c in answer.citations}) == len(answer.citations), "each section cited once"
    if len(answer.parts) == 2:
        assert answer.citations[0].doc_id == answer.citations[1].doc_id, "a second section comes from the same document"
        assert f"{answer.parts[1].answering}\n" in answer.answer, "under its own question"
    for c in answer.citations:
        assert all(q in c.passage for q in c.quotes)
