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
from kb.errors import StagedOutOfDateError, VersionGoneError
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
