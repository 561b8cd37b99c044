"""The report beside Publish and the publish gate, on real index generations built from a copy of the
small corpus (a stand-in embedder gives each text a vector from its digest, so no model is loaded):
what publishing changes is said in titles, headings and questions, never in section ids or
generation names; a staged version that no longer matches the corpus is refused, naming the
documents; two editors cannot both publish."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.config import PROJECT_ROOT, Settings
from kb.errors import KBError, StagedOutOfDateError, VersionGoneError
from kb.review import Change, corpus_drift, time_in_words, word_difference

HEAD_LICE = "head-lice.md"
OLD_SENTENCE = "Staff and volunteers should not treat an ordinary case of head lice as a child protection matter."
NEW_SENTENCE = "Staff and volunteers should treat an ordinary case of head lice as a health matter, not a child protection one."
KITES = """---
id: kite-flying
title: Kite flying at youth clubs
kind: guidance
source_url: https://example.org/kites
publisher: An example partnership
last_reviewed: 2026-11-30
audience: [volunteer]
---

# Kite flying at youth clubs

## Who checks the kite lines?

The session leader checks every kite line for fraying before children fly the kites.
"""
SECTION_ID = re.compile(r"[a-z0-9-]+#[a-z0-9-]+")


class DigestEmbedder:
    """Stands in for the embedding model: a fixed small vector from each text's digest."""

    def warm_up(self) -> None:
        pass

    def run(self, documents):
        return {"documents": [dataclasses.replace(d, embedding=[b / 255 for b in hashlib.sha256(d.content.encode()).digest()[:8]]) for d in documents]}


@pytest.fixture
def service(settings: Settings, small_corpus: Path, monkeypatch):
    from kb.index.indexer import Indexer
    from kb.index.searcher import Searcher
    from kb.service import KnowledgeBase

    def no_model(self):
        raise AssertionError("the report and the publish gate need no embedding model")

    monkeypatch.setattr(Searcher, "warm_up", no_model)
    shutil.copytree(PROJECT_ROOT / "corpus" / "flows", small_corpus / "flows")  # its own copy: the shipped ones may be edited meanwhile

    kb = KnowledgeBase(settings)
    kb.__dict__["indexer"] = Indexer(settings, embedder=DigestEmbedder())
    kb.index(editor="Sam")  # the served version
    yield kb
    kb.close()


def edit_head_lice(corpus: Path) -> None:
    path = corpus / HEAD_LICE
    text = path.read_text()
    assert OLD_SENTENCE in text and "## When might head lice be a sign of neglect?" in text and "can then decide whether early help" in text
    text = text.replace(OLD_SENTENCE, NEW_SENTENCE)  # "Are head lice a safeguarding concern?"
    text = text.replace("## When might head lice be a sign of neglect?", "## Could head lice ever be a sign of neglect?")  # the section's id changes
    text = text.replace("can then decide whether early help", "can then decide, with the family, whether early help")
    start, end = text.index("## What should staff do when a child has head lice?"), text.index("## When should head lice be discussed")
    text = text[:start] + text[end:]  # a section removed
    text += "\n## Can a child with head lice still come to the club?\n\nYes: a child with head lice does not need to stay away.\n"  # and one added
    path.write_text(text)


def words_shown(review) -> str:
    """Everything the report says to an editor, as text."""
    parts = [str(review.version), str(review.serving), *review.lines(), *review.drift.lines()]
    for doc in review.documents:
        parts += [str(doc.document), *(f"{s.heading} {s.before} {s.after}" for s in doc.sections)]
    parts += [f"{s.document} {s.reason}" for s in review.skipped]
    parts += [f"{step.flow} {step.step} {' '.join(step.sections)}" for step in review.flow_steps]
    return "\n".join(parts)


def test_the_report_names_documents_sections_and_flow_steps_in_words(service, small_corpus: Path):
    edit_head_lice(small_corpus)
    (small_corpus / "kite-flying.md").write_text(KITES)
    (small_corpus / "child-protection-plans-and-core-groups.md").unlink()
    (small_corpus / "broken.md").write_text("---\nid: broken\n---\nNo title.\n")
    service.index(publish=False, editor="Ann")

    review = service.staged_review()
    assert review.publishable and not review.drift.files
    assert str(review.version).startswith("built ") and str(review.version).endswith(" by Ann")
    assert str(review.serving).startswith("published ") and str(review.serving).endswith(" by Sam")

    by_title = {d.document.title: d for d in review.documents}
    lice = by_title["Head lice and when they may signal neglect"]
    assert lice.change is Change.CHANGED and lice.document.file == HEAD_LICE
    changed = {s.heading: s for s in lice.of(Change.CHANGED)}
    assert set(changed) == {"Are head lice a safeguarding concern?", "When should head lice be discussed with the Designated Safeguarding Lead?", "Could head lice ever be a sign of neglect?"}
    concern = changed["Are head lice a safeguarding concern?"]
    assert OLD_SENTENCE in concern.before and NEW_SENTENCE in concern.after, "the old and the new text"
    assert not concern.was and not concern.reworded_only
    reworded = changed["Could head lice ever be a sign of neglect?"]
    assert reworded.was == "When might head lice be a sign of neglect?" and reworded.reworded_only, "a reworded question is one section, not one removed and one added"
    assert [(s.heading, s.after) for s in lice.of(Change.ADDED)] == [("Can a child with head lice still come to the club?", "Yes: a child with head lice does not need to stay away.")]
    (removed,) = lice.of(Change.REMOVED)
    assert removed.heading == "What should staff do when a child has head lice?" and removed.before.startswith("Staff should let the parents or carers know") and not removed.after
    assert by_title["Kite flying at youth clubs"].change is Change.ADDED
    assert [s.heading for s in by_title["Kite flying at youth clubs"].sections] == ["Who checks the kite lines?"]
    assert by_title["Child protection plans, core groups and review conferences"].change is Change.REMOVED

    (skipped,) = review.skipped
    assert skipped.document.file == "broken.md" and "title" in skipped.reason and not skipped.kept_previous

    steps = [(s.flow, s.step) for s in review.flow_steps]
    assert ("I'm worried a child is being neglected", "Which best describes the head lice?") in steps, "a step by its flow's title and its question"
    assert len(steps) == len(set(steps)), "each flow step once, however many of its citations changed"
    severity = next(s for s in review.flow_steps if s.step == "Which best describes the head lice?")
    assert severity.removed, "one of the sections it cites is gone"
    assert "“When might head lice be a sign of neglect?” in “Head lice and when they may signal neglect”" in severity.sections

    shown = words_shown(review)
    assert not SECTION_ID.search(shown), f"a section id reached the editor: {SECTION_ID.search(shown).group()}"
    assert "gen-0" not in shown
    assert "UTC" not in shown, "times on the partnership's clock"


def test_a_staged_version_that_no_longer_matches_the_corpus_is_refused_naming_the_documents(service, small_corpus: Path):
    edit_head_lice(small_corpus)
    staged = service.index(publish=False, editor="Ann").generation
    assert service.staged_review().publishable

    (small_corpus / "kite-flying.md").write_text(KITES)  # added since
    (small_corpus / "responding-to-a-disclosure.md").write_text((small_corpus / "responding-to-a-disclosure.md").read_text() + "\nA new line.\n")  # saved since
    (small_corpus / "child-protection-plans-and-core-groups.md").unlink()  # deleted since

    review = service.staged_review()
    assert not review.publishable
    assert [d.file for d in review.drift.added] == ["kite-flying.md"] and review.drift.added[0].title == "Kite flying at youth clubs"
    assert [d.file for d in review.drift.saved] == ["responding-to-a-disclosure.md"]
    assert [d.file for d in review.drift.deleted] == ["child-protection-plans-and-core-groups.md"]
    assert review.drift.lines()[0].startswith("saved since: “Responding when a child tells you about abuse”")
    with pytest.raises(StagedOutOfDateError) as refused:
        service.publish(staged, editor="Ann")
    for name in ("kite-flying.md", "responding-to-a-disclosure.md", "child-protection-plans-and-core-groups.md"):
        assert name in str(refused.value)
    assert service.generations.current_name() != staged, "nothing was published"

    env = {"KB_CORPUS_DIR": str(small_corpus), "KB_DATA_DIR": str(service.settings.data_dir)}
    from kb.cli import main

    result = CliRunner().invoke(main, ["index", "--publish"], env=env)
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"Error: {staged} no longer matches the corpus (saved since: “Responding when a child tells you about abuse”") and "kite-flying.md (added since" not in line
    assert "added since: “Kite flying at youth clubs” (kite-flying.md)" in line and "re-index ('kb index --stage')" in line

    rebuilt = service.index(publish=False, editor="Ann").generation  # from the documents as they are now
    assert service.staged_review().publishable
    assert service.publish(rebuilt, editor="Ann")[1] == rebuilt
    assert service.corpus_drift().matches, "the corpus and the served version agree again"


def test_a_reindex_that_finds_nothing_changed_removes_the_version_that_no_longer_matches(service, small_corpus: Path):
    original = (small_corpus / HEAD_LICE).read_text()
    edit_head_lice(small_corpus)
    service.index(publish=False)
    (small_corpus / HEAD_LICE).write_text(original)  # changed back
    assert not service.staged_review().publishable
    report = service.index(publish=False)
    assert report.generation == report.previous_generation, "nothing to build"
    assert service.staged() is None and service.staged_review() is None


def test_two_editors_only_one_staged_version_can_be_published(service, small_corpus: Path):
    edit_head_lice(small_corpus)
    anns = service.index(publish=False, editor="Ann").generation
    (small_corpus / "kite-flying.md").write_text(KITES)
    bobs = service.index(publish=False, editor="Bob").generation  # replaces Ann's: only the newest waits
    with pytest.raises(VersionGoneError) as replaced:
        service.publish(anns, editor="Ann")
    assert replaced.value.staged == bobs
    assert str(service.version_name(bobs)).endswith("by Bob")

    assert service.publish(bobs, editor="Bob")[1] == bobs
    with pytest.raises(VersionGoneError) as already:
        service.publish(bobs, editor="Ann")  # Ann pressed Publish on the page she had open
    assert already.value.served == bobs
    assert str(service.version_name(bobs)).startswith("published ") and str(service.version_name(bobs)).endswith(" by Bob")


def test_the_corpus_compared_with_the_files_a_version_was_built_from(tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("one")
    (corpus / "b.md").write_text("two")
    (corpus / ".hidden.md.tmp").write_text("an editor's save half way")
    from kb.index.documents import corpus_digests, load_corpus

    files = corpus_digests(corpus)
    assert files == load_corpus(corpus).paths, "the same digests the indexer keeps in the manifest"
    manifest = {"files": files, "documents": {"a": {"path": "a.md", "title": "Document A"}}}
    assert corpus_drift(manifest, corpus).matches
    (corpus / "a.md").write_text("one, edited")
    (corpus / "b.md").unlink()
    (corpus / "c.md").write_text("three")
    drift = corpus_drift(manifest, corpus)
    assert drift.lines() == ["saved since: “Document A” (a.md)", "added since: c.md", "deleted since: b.md"]
    assert corpus_drift({"documents": {}}, corpus).unknown, "a version that keeps no record of its files cannot be compared"
    assert corpus_drift({"files": files, "flows": "old"}, corpus, "new").lines()[-1] == "the guided flows were changed since"


def test_times_are_in_words_on_the_uk_clock():
    assert time_in_words("2026-12-02T15:40:00+00:00") == "2 December 2026 at 15:40"
    assert time_in_words("2026-07-02T14:40:00Z") == "2 July 2026 at 15:40", "British Summer Time"
    assert time_in_words("not a time") == "not a time"


def test_the_word_difference_marks_what_was_taken_out_and_put_in():
    before, after = word_difference("Tell the DSL the same day, in writing.", "Tell the DSL within one hour, in writing.")
    assert "".join(t for t, _ in before) == "Tell the DSL the same day, in writing."
    assert "".join(t for t, _ in after) == "Tell the DSL within one hour, in writing."
    assert [t for t, changed in before if changed] == ["the same day,"]
    assert [t for t, changed in after if changed] == ["within one hour,"]
    assert word_difference("Same text.", "Same text.") == ([("Same text.", False)], [("Same text.", False)])


def test_kb_index_stage_says_what_publishing_changes_in_words(settings: Settings, small_corpus: Path, monkeypatch):
    from kb.cli import main
    from kb.index import indexer

    monkeypatch.setattr(indexer, "build_document_embedder", lambda settings: DigestEmbedder())
    shutil.copytree(PROJECT_ROOT / "corpus" / "flows", small_corpus / "flows")
    env = {"KB_CORPUS_DIR": str(small_corpus), "KB_DATA_DIR": str(settings.data_dir)}
    assert CliRunner().invoke(main, ["index"], env=env).exit_code == 0
    edit_head_lice(small_corpus)
    result = CliRunner().invoke(main, ["index", "--stage"], env=env)
    assert result.exit_code == 0, result.output
    words = result.stdout.split("What publishing it changes, in words:\n", 1)[1]
    assert "Changed: “Head lice and when they may signal neglect” (head-lice.md)" in words
    assert "  section changed: “Are head lice a safeguarding concern?”" in words
    assert "  section changed: “Could head lice ever be a sign of neglect?” (was “When might head lice be a sign of neglect?”)" in words
    assert "Flow “I'm worried a child is being neglected”, step “Which best describes the head lice?”: cited text removed" in words
    assert not SECTION_ID.search(words) and "gen-0" not in words


# the guided flows publishing would stop offering: the same list in the report and at the gate

NITS_FLOW = """id: lice-at-club
title: Nits at the club
description: Head lice at the club.
start: danger
nodes:
  danger:
    safety_first: true
    question: Is the child in immediate danger, or seriously hurt, right now?
    cites:
      - section: head-lice#are-head-lice-a-safeguarding-concern
        quote: "Staff and volunteers should not treat an ordinary case of head lice as a child protection matter."
    options:
      - label: "Yes"
        next: call-999
      - label: "No"
        next: tell-parents
  call-999:
    outcome: Call 999 now
    protocol: Immediate danger
    actions: [Call 999.]
    timescale: Now
    contacts: [emergency-999]
    cites:
      - section: head-lice#are-head-lice-a-safeguarding-concern
  tell-parents:
    outcome: Let the parents know discreetly
    protocol: Head lice
    actions: [Tell the parents discreetly.]
    timescale: Today
    cites:
      - section: head-lice#what-should-staff-do-when-a-child-has-head-lice
"""
CLUB_FLOW = """id: any-worry
title: Worried at the club
description: Any worry at the club.
start: danger
nodes:
  danger:
    safety_first: true
    question: Is anyone in immediate danger right now?
    cites:
      - section: responding-to-a-disclosure#what-should-i-do-if-a-child-tells-me-they-are-being-hurt
    options:
      - label: "Yes"
        next: call-999
      - label: "No, it is about head lice"
        goto: lice-at-club
  call-999:
    outcome: Call 999 now
    protocol: Immediate danger
    actions: [Call 999.]
    timescale: Now
    contacts: [emergency-999]
    cites:
      - section: responding-to-a-disclosure#what-should-i-do-if-a-child-tells-me-they-are-being-hurt
"""
NITS_STEP = "Is the child in immediate danger, or seriously hurt, right now?"
FLOW_IDS = re.compile(r"lice-at-club|any-worry|\.yaml|node '|call-999|tell-parents")


@pytest.fixture
def flows_served(settings: Settings, small_corpus: Path, monkeypatch):
    """The small corpus with two flows of its own, both served: 'Worried at the club' leads into 'Nits at the club'."""
    from kb.index.indexer import Indexer
    from kb.index.searcher import Searcher
    from kb.service import KnowledgeBase

    monkeypatch.setattr(Searcher, "warm_up", lambda self: (_ for _ in ()).throw(AssertionError("no model is needed")))
    (small_corpus / "flows").mkdir()
    (small_corpus / "flows" / "lice-at-club.yaml").write_text(NITS_FLOW)
    (small_corpus / "flows" / "any-worry.yaml").write_text(CLUB_FLOW)
    kb = KnowledgeBase(settings)
    kb.__dict__["indexer"] = Indexer(settings, embedder=DigestEmbedder())
    kb.index(editor="Sam")
    assert {kb.flows[f].title for f in kb.flows} == {"Nits at the club", "Worried at the club"}
    yield kb
    kb.close()


def test_the_report_and_the_gate_name_every_flow_publishing_would_drop_by_title_and_question(flows_served, small_corpus: Path):
    from kb.cli import main
    from kb.errors import FlowGateError

    lice = small_corpus / HEAD_LICE
    lice.write_text(lice.read_text().replace(OLD_SENTENCE, NEW_SENTENCE))  # the sentence 'Nits at the club' quotes is gone
    staged = flows_served.index(publish=False, editor="Ann").generation

    review = flows_served.staged_review()
    assert [f.flow for f in review.dropped_flows] == ["Nits at the club", "Worried at the club"], "the flow leading into a dropped one goes too"
    nits, club = review.dropped_flows
    (quote_gone,) = nits.reasons
    assert quote_gone.step == NITS_STEP
    assert str(quote_gone) == (
        f"the step “{NITS_STEP}” quotes “{OLD_SENTENCE}”, which is no longer in “Are head lice a safeguarding concern?” in “Head lice and when they may signal neglect”"
    )
    assert [str(r) for r in club.reasons] == [
        "the step “Is anyone in immediate danger right now?” leads (answer “No, it is about head lice”) into the flow “Nits at the club”, which would no longer be offered either"
    ]

    with pytest.raises(FlowGateError) as refused:
        flows_served.publish(staged, editor="Ann")
    assert refused.value.flows == list(review.dropped_flows), "the gate refuses on exactly the flows the report lists"
    message = str(refused.value)
    assert "would stop offering a guided flow that users have now, 2 in all: “Nits at the club”: the step “Is the child in immediate danger" in message
    assert "“Worried at the club”: the step “Is anyone in immediate danger right now?” leads" in message
    words = "\n".join([message, *review.lines(), *(str(f) for f in review.dropped_flows)])
    assert not SECTION_ID.search(words) and not FLOW_IDS.search(words), "flows by title, steps by question, never by ids"
    assert "Would stop offering the guided flow “Nits at the club”: the step “Is the child in immediate danger" in "\n".join(review.lines())

    env = {"KB_CORPUS_DIR": str(small_corpus), "KB_DATA_DIR": str(flows_served.settings.data_dir)}
    result = CliRunner().invoke(main, ["index", "--publish"], env=env)
    assert result.exit_code == 1 and "2 in all: “Nits at the club”" in result.output and "“Worried at the club”" in result.output
    assert flows_served.generations.current_name() != staged, "nothing was published"


def test_a_flow_that_keeps_its_quotes_is_not_listed_as_dropped(flows_served, small_corpus: Path):
    edit = small_corpus / "responding-to-a-disclosure.md"
    edit.write_text(edit.read_text() + "\n## Is there a leaflet?\n\nAsk the Designated Safeguarding Lead for one.\n")
    staged = flows_served.index(publish=False, editor="Ann").generation
    assert flows_served.staged_review().dropped_flows == ()
    assert flows_served.publish(staged, editor="Ann")[1] == staged, "nothing is dropped, so nothing is refused"


# a rollback

def test_the_version_rolled_back_from_is_not_offered_again_until_a_new_reindex(service, small_corpus: Path):
    from kb import editor

    original = (small_corpus / HEAD_LICE).read_text()
    edit_head_lice(small_corpus)
    changed = (small_corpus / HEAD_LICE).read_text()
    (small_corpus / HEAD_LICE).write_text(original)
    editor.write_document(service.settings, HEAD_LICE, changed, editor="Ann", reason="the head lice chapter rewritten")  # through the Editor: kept in its history
    edited = service.index(publish=False, editor="Ann").generation
    service.publish(edited, editor="Ann")
    _was, now = service.rollback(editor="Bob")
    assert service.restore_corpus_to(now, editor="Bob").restored == (HEAD_LICE,)

    assert service.staged() is None and service.staged_review() is None, "not waiting to be published"
    assert service.status()["staged"] is None
    with pytest.raises(VersionGoneError, match="rolled back from, so it is not published again"):
        service.publish(edited, editor="Bob")
    with pytest.raises(KBError, match="no staged index generation to publish"):
        service.publish(editor="Bob")
    assert service.generations.current_name() == now

    assert service.index(publish=False, editor="Bob").generation == now, "nothing changed: the version rolled back from is removed"
    (small_corpus / "kite-flying.md").write_text(KITES)  # a new change, re-indexed: that version is offered
    rebuilt = service.index(publish=False, editor="Bob").generation
    assert rebuilt == edited, "built under the name the removed one had"
    assert service.staged_review().generation == rebuilt and service.staged_review().publishable, "a new version, however it is named"
    assert service.publish(rebuilt, editor="Bob")[1] == rebuilt


# versions in the audit log, by when they were built and by whom

def test_versions_are_named_by_when_they_were_built_and_by_whom_even_once_no_longer_kept(service, small_corpus: Path):
    first = service.generations.current_name()
    edit_head_lice(small_corpus)
    second = service.index(publish=False, editor="Ann").generation
    names = service.built_names([first, second])
    assert str(names[first]).startswith("built ") and str(names[first]).endswith(" by Sam")
    assert str(names[second]).startswith("built ") and str(names[second]).endswith(" by Ann")
    assert "UTC" not in str(names[second]) and "gen-0" not in str(names[second])

    shutil.rmtree(service.generations.get(second).path)  # pruned: the audit log's re-index still says when and by whom
    gone = service.built_names([second])[second]
    assert gone.at and gone.editor == "Ann"
    assert not service.built_names(["gen-000099"])["gen-000099"].at, "a version nothing says anything about"
