"""Quoting a section: whole when short, never a rule without its exception, verbatim spans."""

from __future__ import annotations

from kb.quoting import WHOLE_SECTION_CHARS, quote_spans
from kb.text import split_sentences


def test_a_short_section_is_quoted_whole_in_reading_order():
    text = "Talk to the parents first. If that could put the child at risk, do not. Record your reasons."
    assert quote_spans(text, {"parent"}) == [(0, len(text))]


def test_a_long_section_keeps_the_exception_with_its_rule_and_opens_with_its_first_sentence():
    filler = " ".join(f"Background sentence number {i} says something about meetings and paperwork." for i in range(20))
    text = f"This section explains telling parents. {filler} A worker should tell the parents before a referral. If telling them could put the child at greater risk, the worker should not tell them first. Another sentence about paperwork follows."
    assert len(text) > WHOLE_SECTION_CHARS
    quoted = [text[a:b] for a, b in quote_spans(text, {"tell", "parent", "referral"})]
    joined = " ".join(quoted)
    assert quoted[0].startswith("This section explains telling parents.")
    assert "A worker should tell the parents before a referral. If telling them could put the child at greater risk" in joined
    assert all(q in text for q in quoted)


def test_a_list_stays_with_the_sentence_that_introduces_it():
    filler = " ".join(f"Context sentence {i} about the local arrangements in the area." for i in range(22))
    text = f"Opening sentence. {filler}\nCall the police when:\n- a child is in immediate danger\n- a crime is happening now"
    quoted = " ".join(text[a:b] for a, b in quote_spans(text, {"police", "call"}))
    assert "Call the police when:\n- a child is in immediate danger\n- a crime is happening now" in quoted


def test_glossary_search_lines_are_not_quoted():
    text = "Also called: s47; child protection enquiry\nA section 47 enquiry is a child protection enquiry."
    (start, end), = quote_spans(text, set())
    assert text[start:end] == "A section 47 enquiry is a child protection enquiry."
    assert len(split_sentences(text)) == 2
