"""Each page of the app driven with Streamlit's AppTest, one page at a time (AppTest does not drive
st.navigation; the browser test covers the whole app)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kb import editor
from kb.config import Settings
from kb.review import time_in_words
from ui.common import FOOTER, date_in_words, md_text, md_with_phones, quoted_passage_html

PAGES = Path(__file__).resolve().parents[2] / "ui" / "views"
TIMEOUT = 180  # the first page run loads the embedding model


def page(name: str) -> AppTest:
    return AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=TIMEOUT)


def plain(label: str) -> str:
    """A Markdown-escaped label as the user reads it."""
    return label.replace("\\", "")


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [a.value for kind in (at.error, at.warning, at.info, at.success) for a in kind]
    return plain("\n".join(parts))


# safe text, no Streamlit run needed


def test_passage_html_escapes_everything_but_the_mark():
    html = quoted_passage_html("Before <script>alert(1)</script> the quote & after.", "the quote & after.")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<mark style='background:#fdf0b5;padding:0 .1em'>the quote &amp; after.</mark>" in html


def test_passage_html_without_the_quote_shows_the_passage_plainly():
    html = quoted_passage_html("Some <b>text</b>.", "not there")
    assert "<mark" not in html and "&lt;b&gt;" in html


def test_every_telephone_number_is_a_link_that_calls_it():
    text = "Call 999 now, Somerset Direct on 0300 123 2224 or the EDT on 0300 123 23 27; Childline 0800 1111."
    assert md_with_phones(text) == (
        "Call [999](tel:999) now, Somerset Direct on [0300 123 2224](tel:03001232224) or the EDT on "
        "[0300 123 23 27](tel:03001232327); Childline [0800 1111](tel:08001111)\\."
    )
    assert "tel:" not in md_with_phones("In 2026, £5,000 at 10.30 under section 47, aged 0 to 18.")
    assert "tel:" in quoted_passage_html("Ring 01823 355803 for advice.", "Ring")


def test_a_phone_link_converted_from_an_upload_is_a_link_that_calls_it():
    """Uploads write a tel: link as its text and number in brackets (kb.convert); the number calls."""
    sentence = "Call Somerset Direct (03001232224) in office hours."
    assert md_with_phones(sentence) == "Call Somerset Direct \\([03001232224](tel:03001232224)\\) in office hours\\."


def test_dates_are_shown_in_words():
    assert date_in_words("2026-11-21") == "21 November 2026"
    assert date_in_words("2026-12-02T09:30:00+00:00") == "2 December 2026"
    assert date_in_words("not a date") == "not a date"


def test_markdown_is_escaped():
    assert md_text("**bold** [link](http://x) :red[text] $x$") == "\\*\\*bold\\*\\* \\[link\\]\\(http\\:\\/\\/x\\) \\:red\\[text\\] \\$x\\$".replace("\\/", "/")


# the Editor's lock, no model needed


def test_editor_is_locked_without_a_password(ui_env):
    at = page("editor").run()
    assert not at.exception
    assert "no editor password is set" in at.info[0].value
    assert "KB_EDITOR_PASSWORD" in at.info[0].value
    assert not at.text_input, "no password box when no password is configured"
    assert not at.file_uploader
    assert at.caption[-1].value == md_with_phones(FOOTER)


def test_editor_stays_locked_with_a_wrong_password(ui_env):
    at = page("editor")
    at.secrets["editor_password"] = "the right one"
    at.run()
    at.text_input(key="editor_password_input").input("a wrong one")
    at.button(key="editor_unlock").click().run()
    assert "not right" in at.error[0].value
    assert not at.file_uploader
    assert "editor_unlocked" not in at.session_state


def test_editor_with_a_malformed_password_hash_stays_locked_and_says_what_is_wrong(ui_env):
    at = page("editor")
    at.secrets["editor_password_hash"] = "hunter2"
    at.run()
    assert not at.exception
    shown = plain(at.error[0].value)
    assert shown.startswith("The Editor is locked because its password setting is wrong: the secret editor_password_hash is not a password hash: it does not start with 'scrypt:'")
    assert "kb editor set-password" in shown and "hunter2" not in shown
    assert not at.text_input and not at.expander, "no password box, and no editor actions"


# asking


@pytest.mark.slow
def test_ask_shows_safety_first_then_a_cited_answer(app_index):
    at = page("ask").run()
    assert not at.exception
    at.chat_input(key="ask_input").set_value("A boy told me his dad hits him. What do I do?").run()
    assert not at.exception
    assert at.error and "999" in at.error[0].value, "the emergency guidance is shown, before the answer"
    assert "[999](tel:999)" in at.error[0].value, "its numbers can be tapped to call"
    assistant = at.chat_message[1]
    texts = [plain(m.value) for m in assistant.markdown]
    assert texts[0].startswith("**What to do first:**"), "the asker's first step is part of the answer, in normal text"
    assert "Answering:" in texts[1], "the answer names the question its section answers"
    assert texts[2].endswith("](#turn0-source-1)") or "](#turn0-source-" in texts[2], "each citation marker jumps to its source"
    labels = [plain(e.label) for e in assistant.expander]
    assert labels and labels[0].startswith("[1] ")
    first = assistant.expander[0]
    assert "<mark" in first.get("html")[0].proto.body
    caption = first.caption[0].value
    assert "last reviewed" in caption and "last changed here" in caption, "each source says when it was reviewed and changed"
    assert "version" not in caption and "gen-" not in caption, "no versions or hashes for volunteers"
    assert any(b.key.startswith("ask_flow_") for b in assistant.button), "a guided flow is suggested"
    assert at.caption[-1].value == md_with_phones(FOOTER)
    at.chat_input(key="ask_input").set_value("and who do I ring at the weekend?").run()
    assert at.chat_message[0].markdown[0].value.startswith("and who do I ring"), "the newest turn comes first, under the box"
    assert at.error and "Shown again" in at.error[0].value, "a follow-up keeps the emergency guidance"
    assert "Earlier in this conversation" in [h.value for h in at.header]


@pytest.mark.slow
def test_ask_marks_questions_outside_the_procedures(app_index):
    at = page("ask").run()
    at.chat_input(key="ask_input").set_value("What is a good recipe for lasagne?").run()
    assistant = at.chat_message[1]
    assert assistant.warning, "out of scope is shown as a warning"
    assert not assistant.expander, "nothing is cited"


@pytest.mark.slow
def test_ask_explains_an_empty_question(app_index):
    at = page("ask").run()
    at.button(key="ask_example_1").click().run()  # an example question, then an empty one
    at.session_state["ask_pending"] = "   "
    at.run()
    assert not at.exception
    assert "the question is empty" in at.chat_message[1].warning[0].value, "the newest turn, first"


@pytest.mark.slow
def test_persona_switch_changes_the_advice(app_index):
    at = page("ask").run()
    at.selectbox(key="ask_persona").set_value("professional").run()
    at.chat_input(key="ask_input").set_value("How do I make a referral to children's social care?").run()
    assert at.session_state["persona"] == "professional"
    assert "refer to children's social care" in plain(at.chat_message[1].markdown[0].value), "the first step is the referral route"
    at.selectbox(key="ask_persona").set_value("volunteer").run()
    at.chat_input(key="ask_input").set_value("I'm worried about a boy at our club, what do I do?").run()
    assert "safeguarding lead" in plain(at.chat_message[1].markdown[0].value), "a volunteer is pointed to their safeguarding lead"


# guided flows


@pytest.mark.slow
def test_walk_a_flow_to_its_outcome_and_download_the_record(app_index, flow_walk):
    flow, path = flow_walk
    at = page("flows").run()
    assert not at.exception
    at.button(key=f"flows_start_{flow.id}").click().run()
    assert "Question 1" in texts(at)
    for step, (node_id, option, label) in enumerate(path):
        question = flow.nodes[node_id].question
        assert plain(at.header[0].value) == question
        assert f"Question {step + 1}" in texts(at), "the progress line counts up and promises no total"
        at.button(key=f"flows_option_{flow.id}_{node_id}_{option}").click().run()
        assert not at.exception, f"step {step}: {label}"
    outcome = [n for n in flow.nodes.values() if n.is_outcome]
    assert plain(at.header[0].value) in {n.outcome for n in outcome}
    assert "By when:" in texts(at) and "What to do now" in texts(at)
    assert [t.label for t in at.text_area] == ["What are we worried about?", "What is working well?", "What needs to happen next?"]
    downloads = at.get("download_button")
    assert [d.proto.label for d in downloads] == ["Download the decision record", "Download it as a web page, to print"], "one press downloads, no Prepare step"
    at.text_area(key="flows_note_0").input("Bruise on the arm, seen 10am.").run()
    assert at.session_state["flows_notes"]["What are we worried about?"] == "Bruise on the arm, seen 10am.", "the record is made from the notes as typed"
    # back returns to the last question; the notes survive the round trip
    at.button(key="flows_back").click().run()
    assert not at.text_area and not at.get("download_button")
    last_node, last_option, _label = path[-1]
    assert plain(at.header[0].value) == flow.nodes[last_node].question
    at.button(key=f"flows_option_{flow.id}_{last_node}_{last_option}").click().run()
    assert at.text_area(key="flows_note_0").value == "Bruise on the arm, seen 10am."


@pytest.mark.slow
def test_a_flow_suggested_on_the_ask_page_starts_on_the_flows_page(app_index, flow_walk):
    flow, _path = flow_walk
    at = page("flows")
    at.session_state["flows_pending"] = flow.id
    at.run()
    assert plain(at.title[0].value) == flow.title
    assert plain(at.header[0].value) == flow.nodes[flow.start].question


# glossary and contacts


@pytest.mark.slow
def test_glossary_search(app_index):
    at = page("glossary").run()
    assert not at.exception
    everything = len(at.expander)
    at.text_input(key="glossary_query").input("LADO").run()
    labels = [plain(e.label) for e in at.expander]
    assert 0 < len(labels) < everything
    assert any("Local Authority Designated Officer" in label for label in labels)


@pytest.mark.slow
def test_whats_new_lists_the_published_versions(app_index):
    at = page("whats_new").run()
    assert not at.exception
    first = texts(at)
    assert "Published" in first and "version gen-" in first, "the version the index serves is listed with its date"
    assert at.caption[-1].value == md_with_phones(FOOTER)


@pytest.mark.slow
def test_contacts_search_shows_when_verified(app_index):
    at = page("contacts").run()
    assert not at.exception
    at.text_input(key="contacts_query").input("out of hours").run()
    cards = [plain(m.value) for m in at.markdown if m.value.startswith("**")]
    assert "Emergency Duty Team" in cards[0], "the out-of-hours service is listed first"
    shown = texts(at)
    assert "Last checked" in shown
    assert "(tel:" in "\n".join(m.value for m in at.markdown), "numbers can be tapped to call"
    for editorial in ("stored", "verification", "Editors:", "corpus", "depending on the source", "Sources disagree"):
        assert editorial not in shown, f"maintainers' words ({editorial!r}) are not shown to users"
    at.text_input(key="contacts_query").input("zzzz no such contact").run()
    assert "No contact matches" in plain(at.info[0].value)


# the Editor, unlocked: upload, review, save, re-index, publish, roll back, delete

KITES_HTML = b"""<!doctype html><html><head><title>Kites</title></head><body>
<nav>Home | About</nav>
<h1>Kite flying at youth clubs</h1>
<h2>Who checks the kite lines?</h2>
<p>The session leader checks every kite line for fraying before children fly the kites.</p>
<ul><li>Check the line.</li><li>Check the spool.</li></ul>
</body></html>"""
KITES_QUESTION = "Who checks the kite lines before children fly the kites?"


def cited_titles(question: str) -> list[str]:
    """Ask on the Ask page (sharing the app's cached knowledge base) and return the cited sources' labels."""
    at = page("ask").run()
    at.chat_input(key="ask_input").set_value(question).run()
    assert not at.exception
    return [plain(e.label) for e in at.chat_message[1].expander]


@pytest.mark.slow
def test_editor_upload_review_save_reindex_publish_and_roll_back(app_index):
    corpus, _data = app_index
    at = page("editor")
    at.secrets["editor_password"] = "correct horse"
    at.run()
    at.text_input(key="editor_password_input").input("correct horse")
    at.button(key="editor_unlock").click().run()
    assert not at.exception
    assert at.file_uploader, "unlocked"

    at.file_uploader[0].upload("Kite Flying.html", KITES_HTML, "text/html")
    at.run()
    draft = at.text_area(key="editor_draft_text").value
    assert 'title: "Kite flying at youth clubs"' in draft
    assert "## Who checks the kite lines?" in draft and "- Check the line." in draft
    assert "Home | About" not in draft

    at.button(key="editor_check").click().run()
    assert "source_url" in plain(at.error[0].value), "the placeholder source_url fails validation"
    at.button(key="editor_save").click().run()
    assert not (corpus / "kite-flying.md").exists(), "an invalid document is not written"

    at.text_area(key="editor_draft_text").input(draft.replace("REPLACE-WITH-THE-PUBLIC-WEB-ADDRESS-THIS-IS-BASED-ON", "https://example.org/kites"))
    at.button(key="editor_save").click().run()
    assert plain(at.success[0].value).startswith("Saved kite-flying.md (“Kite flying at youth clubs”) as version 1.")
    assert (corpus / "kite-flying.md").exists()

    assert not any("Kite flying" in t for t in cited_titles(KITES_QUESTION))

    at.button(key="editor_reindex").click().run()
    assert not at.exception
    assert at.get("progress")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Added"] == "1" and metrics["Skipped"] == "0"
    assert "Kite flying at youth clubs: new document" in [plain(e.label) for e in at.expander]
    assert "The new version is ready but not published: answers come from the version " in plain(at.success[0].value)
    assert [b.label for b in at.button if b.key in ("editor_publish", "editor_discard_staged")] == ["Publish", "Discard"]
    assert not any("Kite flying" in t for t in cited_titles(KITES_QUESTION)), "a staged version answers nothing"

    at.button(key="editor_publish").click().run()
    assert not at.exception
    assert plain(at.success[0].value).startswith("Published: answers now come from this version (published ")
    assert not at.metric, "the report is gone once published"
    assert any("Kite flying at youth clubs" in t for t in cited_titles(KITES_QUESTION)), "the published version answers"

    at.checkbox(key="editor_rollback_confirm").check().run()
    at.button(key="editor_rollback").click().run()
    assert plain(at.success[0].value).startswith("Rolled back: answers come again from the version ")
    assert "deleted, kept in their history: kite-flying.md" in plain(at.success[0].value), "the rollback puts the documents back too"
    assert not any("Kite flying" in t for t in cited_titles(KITES_QUESTION))
    assert "Waiting to be published" not in [h.value for h in at.subheader], "the version rolled back from is not offered again"
    assert "This version cannot be published." not in texts(at)
    assert "editor_publish" not in [b.key for b in at.button] and "editor_reindex_stale" not in [b.key for b in at.button]
    at.run()  # and not after a reload either
    assert "Waiting to be published" not in [h.value for h in at.subheader] and "editor_publish" not in [b.key for b in at.button]
    at.button(key="editor_reindex").click().run()
    assert not at.exception
    assert "Nothing changed since the version serving answers" in texts(at), "the documents are the served version's again"
    assert "editor_publish" not in [b.key for b in at.button] and "editor_reindex_stale" not in [b.key for b in at.button]

    assert not (corpus / "kite-flying.md").exists(), "the rollback put the corpus back as it was: the document added since is gone"
    assert "editor_undelete_kite-flying.md" in [b.key for b in at.button], "and it can be restored from its history"


def unlocked_editor(name: str) -> AppTest:
    at = page("editor")
    at.secrets["editor_password"] = "correct horse"
    at.run()
    at.text_input(key="editor_name_input").input(name)
    at.text_input(key="editor_password_input").input("correct horse")
    at.button(key="editor_unlock").click().run()
    assert not at.exception and at.file_uploader, "unlocked"
    return at


def open_document(at: AppTest, name: str) -> str:
    at.selectbox(key="editor_chosen").select(name).run()
    at.button(key="editor_edit").click().run()
    return at.text_area(key="editor_draft_text").value


@pytest.mark.slow
def test_editor_says_a_plain_text_password_is_for_development_and_shows_recent_actions(app_index):
    from kb.access import hash_password

    at = unlocked_editor("Sam Editor")  # the secret editor_password: plain text
    assert "The Editor password is set in plain text (the secret `editor_password`), which is meant for development" in texts(at)
    (recent,) = [e for e in at.expander if e.label.startswith("Recent editor actions")]
    first = plain(recent.markdown[0].value).splitlines()[0]
    assert re.fullmatch(r"- \d{1,2} [A-Z][a-z]+ \d{4} at \d\d:\d\d: Sam Editor unlocked the Editor\.", first), f"newest first, the time in words: {first}"
    assert "UTC" not in recent.markdown[0].value, "times on the partnership's clock"

    at = page("editor")
    at.secrets["editor_password_hash"] = hash_password("a hashed password")
    at.run()
    assert "Recent editor actions" not in str([e.label for e in at.expander]), "not shown while locked"
    at.text_input(key="editor_name_input").input("Kim Editor")
    at.text_input(key="editor_password_input").input("a wrong one")
    at.button(key="editor_unlock").click().run()
    at.text_input(key="editor_name_input").input("Kim Editor")
    at.text_input(key="editor_password_input").input("a hashed password")
    at.button(key="editor_unlock").click().run()
    assert not at.exception and at.file_uploader, "unlocked by the salted hash"
    assert "plain text" not in texts(at) and "SHA-256" not in texts(at), "a salted hash needs no warning"
    (recent,) = [e for e in at.expander if e.label.startswith("Recent editor actions")]
    newest = [re.sub(r"^- \d{1,2} [A-Z][a-z]+ \d{4} at \d\d:\d\d: ", "", line) for line in plain(recent.markdown[0].value).splitlines()[:3]]
    assert newest == ["Kim Editor unlocked the Editor.", "A wrong Editor password was given, under the name Kim Editor.", "Sam Editor unlocked the Editor."]


@pytest.mark.slow
def test_two_editors_on_one_document_nothing_is_lost(app_index):
    corpus, data = app_index
    name = "head-lice.md"
    ann, bob = unlocked_editor("Ann"), unlocked_editor("Bob")
    original = open_document(ann, name)
    assert open_document(bob, name) == original

    ann.text_area(key="editor_draft_text").input(original + "\nAnn's paragraph.\n")
    ann.text_input(key="editor_reason").input("adds Ann's paragraph")
    ann.button(key="editor_save").click().run()
    saved = plain(ann.success[0].value)
    assert re.match(rf"Saved head-lice\.md \(“{LICE_TITLE}”\) as version \d+\. Re-index below", saved), saved
    assert "Replaced" not in saved, "an ordinary save is a save"
    ann_version = editor.history_of(Settings.from_env(environ={}, corpus_dir=corpus, data_dir=data), name)[0]

    bob.text_area(key="editor_draft_text").input(original + "\n" + "Bob's paragraph, " + "long " * 60 + "enough to need wrapping.\n")
    bob.button(key="editor_save").click().run()
    assert not bob.exception
    assert "changed by someone else after you started editing it, so nothing was saved" in plain(bob.error[0].value)
    assert "Ann's paragraph." in (corpus / name).read_text(), "Ann's save is still there"
    who = next(plain(m.value) for m in bob.markdown if "changed after you opened it." in m.value)
    assert f"Ann saved this version on {time_in_words(ann_version.at)} (“adds Ann's paragraph”)." in who, "who saved the other version, and when (UK time)"
    (shown,) = [c for c in bob.code if "+++ yours" in c.value]
    assert "-Ann's paragraph." in shown.value and "+Bob's paragraph, long" in shown.value, "both versions are shown"
    assert shown.proto.wrap_lines, "long lines wrap: no scrolling sideways to read them"
    assert bob.text_area(key="editor_draft_text").value.endswith("enough to need wrapping.\n"), "Bob's draft is kept"

    bob.button(key="editor_save_over").click().run()
    assert plain(bob.success[0].value).startswith("Saved head-lice.md (“") and "Replaced" not in plain(bob.success[0].value)
    assert "Bob's paragraph" in (corpus / name).read_text()

    bob.selectbox(key="editor_chosen").select(name).run()
    history = [plain(m.value) for m in bob.markdown if m.value.startswith("**Version")]
    assert history[0].startswith("**Version 3** · saved by Bob") and "saved by Ann" in history[1] and "adds Ann's paragraph" in history[1]
    bob.selectbox(key=f"editor_history_{name}").select(3).run()
    change = next(c.value for c in bob.code if "+++ version 3" in c.value)
    assert "--- version 2" in change and "+Bob's paragraph" in change, "a version is compared with the one just before it"
    assert "Ann's paragraph." not in change.replace("-Ann's paragraph.", ""), "Ann's change is not shown as Bob's"
    bob.selectbox(key=f"editor_history_{name}").select(2).run()
    bob.text_input(key=f"editor_restore_reason_{name}").input("Ann's paragraph was the right one")
    bob.button(key=f"editor_restore_{name}").click().run()
    assert "Restored version 2 of head-lice.md" in plain(bob.success[0].value)
    assert "Ann's paragraph." in (corpus / name).read_text() and "Bob's paragraph" not in (corpus / name).read_text()
    history = [plain(m.value) for m in bob.markdown if m.value.startswith("**Version")]
    assert history[0].startswith("**Version 4** · restored, from version 2 by Bob on ") and history[0].endswith(": Ann's paragraph was the right one"), "the reason is kept"
    (recent,) = [e for e in bob.expander if e.label.startswith("Recent editor actions")]
    assert plain(recent.markdown[0].value).splitlines()[0].endswith("Bob restored an earlier version of head-lice.md: Ann's paragraph was the right one.")
    bob.selectbox(key=f"editor_history_{name}").select(1).run()
    bob.button(key=f"editor_restore_{name}").click().run()
    assert (corpus / name).read_text() == original, "the text as it was before either editor is kept too"


@pytest.mark.slow
def test_a_draft_is_not_replaced_without_asking(app_index):
    at = unlocked_editor("Ann")
    text = open_document(at, "head-lice.md")
    at.text_area(key="editor_draft_text").input(text + "\nUnsaved work.\n").run()
    at.selectbox(key="editor_chosen").select("neglect.md").run()
    at.button(key="editor_edit").click().run()
    assert "has changes that are not saved" in plain(at.warning[0].value)
    assert at.text_area(key="editor_draft_text").value.endswith("Unsaved work.\n"), "the unsaved draft was not replaced"


# the publish gate and the report beside it

LICE = "head-lice.md"
LICE_TITLE = "Head lice and when they may signal neglect"
LICE_SECTION = "When might head lice be a sign of neglect?"
LICE_OLD = "A prolonged and persistent failure by parents or carers to treat head lice is likely to be distressing for the child"  # quoted by no flow
LICE_NEW = "A long and persistent failure by parents or carers to treat head lice is likely to distress the child"


def publish_offer(at: AppTest) -> list[str]:
    """What the page offers for the version waiting to be published: Publish, or a re-index instead."""
    return [b.key for b in at.button if b.key in ("editor_publish", "editor_reindex_stale")]


def report_of(at: AppTest, title: str):
    (expander,) = [e for e in at.expander if plain(e.label).startswith(f"{title}: changed")]
    return expander


def words_for_editors(at: AppTest) -> str:
    """The page's words, but for the flow files' technical check and the audit log (which name
    flow nodes, section ids and versions for whoever edits the YAML or supports the app)."""
    technical = [e for e in at.expander if plain(e.label).startswith(("Flow check", "Recent editor actions"))]
    inside = {id(m) for e in technical for m in e.markdown}
    parts = [m.value for m in at.markdown if id(m) not in inside] + [c.value for c in at.caption if "For support" not in c.value]
    parts += [a.value for kind in (at.error, at.warning, at.info, at.success) for a in kind]
    return plain("\n".join(parts + [e.label for e in at.expander]))


@pytest.mark.slow
def test_publish_is_offered_with_its_report_in_every_session_and_refused_after_a_save_made_since(app_index):
    corpus, _data = app_index
    dee = unlocked_editor("Dee")
    text = open_document(dee, LICE)
    assert LICE_OLD in text
    dee.text_area(key="editor_draft_text").input(text.replace(LICE_OLD, LICE_NEW))
    dee.text_input(key="editor_reason").input("lice are a health matter")
    dee.button(key="editor_save").click().run()
    assert "The documents differ from the version answering questions" in texts(dee)
    assert f"saved since: “{LICE_TITLE}” ({LICE})" in texts(dee), "the banner names what is not served yet"

    dee.button(key="editor_reindex").click().run()
    assert not dee.exception
    assert publish_offer(dee) == ["editor_publish"]
    lice = report_of(dee, LICE_TITLE)
    assert f"**Changed: {LICE_SECTION}**" in [plain(m.value) for m in lice.markdown]
    served_now, after = [h.proto.body for h in lice.get("html")][:2]  # side by side: two columns
    assert LICE_OLD in re.sub(r"<[^>]+>", "", served_now) and ">prolonged</del>" in served_now, "the old text, the words taken out struck through"
    assert LICE_NEW in re.sub(r"<[^>]+>", "", after) and ">long</ins>" in after, "the new text, the words put in marked"
    waiting = next(plain(m.value) for m in dee.markdown if m.value.startswith("The version built "))
    assert waiting.split(".")[0].endswith("by Dee"), waiting
    steps = [plain(w.value) for w in dee.warning if "the step “" in plain(w.value)]
    assert steps and len(steps) == len(set(steps)), "flow steps citing the changed section, each once"
    assert all(f"“{LICE_SECTION}” in “{LICE_TITLE}”" in step for step in steps)
    report_words = words_for_editors(dee)
    assert not re.search(r"[a-z0-9-]+#[a-z0-9-]+", report_words), "no section ids"
    assert "gen-0" not in report_words and "UTC" not in report_words, "versions by date (UK time) and editor; generation names only for support"

    eve = unlocked_editor("Eve")  # another editor, or Dee after a reload: the same report beside Publish
    assert publish_offer(eve) == ["editor_publish"]
    assert f"**Changed: {LICE_SECTION}**" in [plain(m.value) for m in report_of(eve, LICE_TITLE).markdown]

    held_publish = dee.button(key="editor_publish")  # Dee's page, not refreshed
    neglect = open_document(eve, "neglect.md")
    eve.text_area(key="editor_draft_text").input(neglect + "\nA paragraph saved after the re-index.\n")
    eve.button(key="editor_save").click().run()
    assert publish_offer(eve) == ["editor_reindex_stale"], "no Publish for a version older than the documents"
    assert "This version cannot be published." in texts(eve) and "saved since: “Neglect” (neglect.md)" in texts(eve)

    held_publish.click().run()
    assert not dee.exception
    assert "Not published: the documents changed after this version was built (saved since: “Neglect” (neglect.md))" in texts(dee)
    assert publish_offer(dee) == ["editor_reindex_stale"]

    eve.button(key="editor_reindex_stale").click().run()
    assert not eve.exception
    assert publish_offer(eve) == ["editor_publish"], "re-indexed from the documents as they are now"
    dee.run()  # Dee's page, refreshed: the version Eve built, with its report
    assert publish_offer(dee) == ["editor_publish"] and "by Eve" in texts(dee)
    held_publish = dee.button(key="editor_publish")
    eve.button(key="editor_publish").click().run()
    assert plain(eve.success[0].value).startswith("Published: answers now come from this version (published ")
    held_publish.click().run()
    assert "Nothing to publish: this version was already published " in texts(dee) and " by Eve." in texts(dee), "the other editor sees why"
    assert "The documents differ from the version answering questions" not in texts(eve)


# drafts kept on disk

@pytest.mark.slow
def test_an_unsaved_draft_is_offered_after_unlocking_again(app_index):
    _corpus, data = app_index
    cara = unlocked_editor("Cara Reload")
    text = open_document(cara, "home-alone.md")
    cara.text_area(key="editor_draft_text").input(text + "\nCara's unsaved paragraph.\n").run()
    kept = data / "drafts" / "cara-reload" / "home-alone.md.json"
    assert json.loads(kept.read_text())["text"].endswith("Cara's unsaved paragraph.\n"), "kept on disk as she types"

    again = unlocked_editor("Cara Reload")  # a reload: a new session, locked, then unlocked under the same name
    assert not again.exception
    assert "You have an unsaved draft of home-alone.md from " in texts(again)
    assert [b.label for b in again.button if b.key and b.key.endswith("_home-alone.md") and b.key.startswith("editor_draft_")] == ["Continue editing", "Discard"]
    assert "unsaved draft" not in texts(unlocked_editor("Dan")), "another editor is not offered Cara's draft"

    again.button(key="editor_draft_continue_home-alone.md").click().run()
    assert again.text_area(key="editor_draft_text").value.endswith("Cara's unsaved paragraph.\n")
    assert "your unsaved draft from" in texts(again)
    again.selectbox(key="editor_chosen").select("neglect.md").run()
    again.button(key="editor_edit").click().run()
    assert "home-alone.md has changes that are not saved" in texts(again), "switching documents asks first"
    assert again.text_area(key="editor_draft_text").value.endswith("Cara's unsaved paragraph.\n")

    again.button(key="editor_discard").click().run()
    assert not kept.exists(), "a discarded draft is gone from the disk too"
    assert "unsaved draft" not in texts(unlocked_editor("Cara Reload"))


# the flows publishing would drop, named alike in the report and at the gate; the audit log in words; a rollback that sticks

NEGLECT_QUOTE = "Staff and volunteers should not treat an ordinary case of head lice as a child protection matter."  # quoted by the neglect flow
NEGLECT_FLOW = "I'm worried a child is being neglected"


@pytest.mark.slow
def test_the_flows_publishing_would_drop_are_named_alike_in_the_report_and_the_gate(app_index):
    from ui.common import knowledge_base

    assert NEGLECT_FLOW in {f.title for f in knowledge_base().flows.values()}, "the neglect flow is served before the change"
    fay = unlocked_editor("Fay")
    text = open_document(fay, LICE)
    assert NEGLECT_QUOTE in text
    fay.text_area(key="editor_draft_text").input(text.replace(NEGLECT_QUOTE, "Head lice on their own are a health matter."))
    fay.text_input(key="editor_reason").input("head lice are a health matter")
    fay.button(key="editor_save").click().run()
    fay.button(key="editor_reindex").click().run()
    assert not fay.exception

    (warning,) = [plain(e.value).replace("**", "") for e in fay.error if "would stop offering" in e.value]
    listed = [plain(m.value).split("\n", 1) for m in fay.markdown if re.match(r"\*\*[^*\n]+\*\*\n- ", plain(m.value))]
    titles = [title.strip("*") for title, _steps in listed]
    assert NEGLECT_FLOW in titles, "the flow whose quoted sentence is gone, by its title"
    assert len(titles) > 1, "and the flows that lead into it"
    count = f"the {len(titles)} guided flows " if len(titles) > 1 else "the guided flow "
    assert warning.startswith(f"Publishing this version would stop offering {count}“"), warning
    assert all(f"“{t}”" in warning for t in titles), "every flow listed below is named in the warning, and no other"
    neglect_steps = dict(listed)[f"**{NEGLECT_FLOW}**"]
    assert f"quotes “{NEGLECT_QUOTE}”, which is no longer in “Are head lice a safeguarding concern?” in “{LICE_TITLE}”" in neglect_steps
    assert "into the flow “" in "\n".join(steps for _title, steps in listed), "a flow leading into a dropped one says which"

    fay.button(key="editor_publish").click().run()
    refused = next(plain(e.value) for e in fay.error if e.value.startswith("Not published"))
    assert refused.startswith(f"Not published: this version would stop offering {count}“"), "the gate counts what the report lists"
    assert all(f"“{t}”" in refused for t in titles)
    shown = words_for_editors(fay)
    assert not re.search(r"[a-z0-9-]+#[a-z0-9-]+|\.yaml|node '", shown), "flows and steps in words, never ids"
    assert "problem" not in warning + refused, "flows counted, not the flow check's problems"

    fay.text_input(key="editor_despite").input("the flow is corrected tomorrow")
    fay.button(key="editor_publish").click().run()
    assert plain(fay.success[0].value).startswith("Published: answers now come from this version")
    (recent,) = [e for e in fay.expander if e.label.startswith("Recent editor actions")]
    newest = plain(recent.markdown[0].value).splitlines()[:2]
    assert re.fullmatch(
        r"- \d{1,2} [A-Z][a-z]+ \d{4} at \d\d:\d\d: Fay published the version built \d{1,2} [A-Z][a-z]+ \d{4} at \d\d:\d\d by Fay instead of the version built .+"
        r" although a guided flow would no longer be offered, because: the flow is corrected tomorrow\.",
        newest[0],
    ), newest[0]
    assert re.fullmatch(r"- .+: Fay re-indexed the documents into the version built .+ by Fay\.", newest[1]), newest[1]
    assert "gen-0" not in recent.markdown[0].value and "UTC" not in recent.markdown[0].value

    fay.checkbox(key="editor_rollback_confirm").check().run()
    fay.button(key="editor_rollback").click().run()
    assert plain(fay.success[0].value).startswith("Rolled back: answers come again from the version ")
    assert NEGLECT_QUOTE in open_document(unlocked_editor("Gil"), LICE), "the document is back as it was"
    assert "Waiting to be published" not in [h.value for h in fay.subheader], "the version rolled back from is not offered again"
    assert not {"editor_publish", "editor_reindex_stale"} & {b.key for b in fay.button}
    (recent,) = [e for e in fay.expander if e.label.startswith("Recent editor actions")]
    assert "gen-0" not in recent.markdown[0].value and "Fay rolled back from the version built " in plain(recent.markdown[0].value)
    fay.button(key="editor_reindex").click().run()
    assert "Nothing changed since the version serving answers" in texts(fay)
    assert NEGLECT_FLOW in {f.title for f in knowledge_base().flows.values()}, "the flow is served again"
