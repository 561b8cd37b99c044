"""'Also asked as' lines: how people ask a section's question, indexed for search and never quoted."""

from __future__ import annotations

import pytest

from kb.errors import DocumentError
from kb.index.chunk_db import section_phrasings
from kb.index.chunker import chunk_document
from kb.index.documents import load_document_bytes

FRONT = "---\nid: t\ntitle: T\nkind: procedure\nsource_url: https://example.org/t\n---\n\n"


def doc(body: str):
    title = "" if body.startswith("Also asked as") else "# T\n\n"
    return load_document_bytes((FRONT + title + body).encode(), "t.md")


def test_phrasings_belong_to_their_section_and_are_not_part_of_its_text():
    chunks = chunk_document(doc("## Should I tell the parents?\n\nUsually. Not if it puts the child at risk.\n\nAlso asked as: do I tell mum first; tell parents before reporting\n\n## Next?\n\nText.\n"))
    first = chunks[0]
    assert first.text == "Usually. Not if it puts the child at risk."
    assert first.asked_as == ("do I tell mum first", "tell parents before reporting")
    assert "Also asked as" not in first.text
    pairs = section_phrasings([c.record() for c in chunks])
    assert ("t#should-i-tell-the-parents", "Should I tell the parents?") in pairs
    assert ("t#should-i-tell-the-parents", "do I tell mum first") in pairs


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("Also asked as: too early\n\n## Q?\n\nText.\n", "comes before the first heading"),
        ("## Q?\n\nText.\n\nAlso asked as: \n", "lists no phrasings"),
        ("## Q?\n\nText.\n\nAlso asked as: same one; Same  one\n", "also listed on line"),
        ("## Q?\n\nText.\n\nAlso asked as: " + "x" * 201 + "\n", "201 characters long"),
    ],
)
def test_a_bad_phrasing_line_is_reported_with_its_line(body: str, problem: str):
    with pytest.raises(DocumentError) as err:
        doc(body)
    assert problem in str(err.value)


def test_the_shipped_corpus_phrasings_point_to_one_section_each():
    from kb.config import PROJECT_ROOT
    from kb.index.documents import load_corpus

    loaded = load_corpus(PROJECT_ROOT / "corpus")
    assert not loaded.errors
    owners: dict[str, str] = {}
    for d in loaded.documents:
        for c in chunk_document(d):
            for phrasing in c.asked_as:
                key = " ".join(phrasing.lower().split())
                assert owners.setdefault(key, c.section_id) == c.section_id, phrasing
    assert len(owners) > 1000


def test_the_words_people_ask_with_find_the_section_the_embedding_blurs():
    """"Chasing" a referral is asked in words the procedures' text does not use: the section whose
    phrasings use them ranks first by its words, and a question sharing no word scores nothing."""
    from kb.index.sections import PhrasingWords, stems

    texts = {
        "referral#what-happens-after": ["What happens after a referral is made?", "chasing up a referral nobody answered"],
        "referral#how-to-refer": ["How do I make a referral?", "who do I ring to report a child"],
        "lice#what-to-do": ["What should staff do about head lice?", "nits in a child's hair"],
    }
    words = PhrasingWords(texts, list(texts))
    scores = words.scores(stems("how long before I chase the referral I made last week?"))
    assert scores.argmax() == 0 and scores[0] == 1.0
    assert scores[2] == 0.0
    assert not words.scores(stems("opening times of the library")).any()
