"""Each page of the app driven with Streamlit's AppTest, one page at a time (AppTest does not drive
st.navigation; the browser test covers the whole app)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

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
    assert "Saved kite-flying.md" in plain(at.success[0].value)
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
    assert "This version cannot be published." in texts(at), "the version rolled back from no longer matches the documents"
    assert "deleted since: “Kite flying at youth clubs” (kite-flying.md)" in texts(at)
    assert "editor_publish" not in [b.key for b in at.button]
    at.button(key="editor_reindex_stale").click().run()
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
    assert plain(recent.markdown[0].value).startswith(f"- {date_in_words(dt.datetime.now(dt.UTC).date().isoformat())} at "), "dates in words"
    assert plain(recent.markdown[0].value).splitlines()[0].endswith("UTC: Sam Editor unlocked the Editor."), "newest first"

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
    newest = [line.split(" UTC: ", 1)[1] for line in plain(recent.markdown[0].value).splitlines()[:3]]
    assert newest == ["Kim Editor unlocked the Editor.", "A wrong Editor password was given, under the name Kim Editor.", "Sam Editor unlocked the Editor."]


@pytest.mark.slow
def test_two_editors_on_one_document_nothing_is_lost(app_index):
    corpus, _data = app_index
    name = "head-lice.md"
    ann, bob = unlocked_editor("Ann"), unlocked_editor("Bob")
    original = open_document(ann, name)
    assert open_document(bob, name) == original

    ann.text_area(key="editor_draft_text").input(original + "\nAnn's paragraph.\n")
    ann.text_input(key="editor_reason").input("adds Ann's paragraph")
    ann.button(key="editor_save").click().run()
    assert "Replaced head-lice.md" in plain(ann.success[0].value)

    bob.text_area(key="editor_draft_text").input(original + "\nBob's paragraph.\n")
    bob.button(key="editor_save").click().run()
    assert not bob.exception
    assert "changed by someone else after you started editing it, so nothing was saved" in plain(bob.error[0].value)
    assert "Ann's paragraph." in (corpus / name).read_text(), "Ann's save is still there"
    difference = next(c.value for c in bob.code if "+++ yours" in c.value)
    assert "-Ann's paragraph." in difference and "+Bob's paragraph." in difference, "both versions are shown"
    assert bob.text_area(key="editor_draft_text").value.endswith("Bob's paragraph.\n"), "Bob's draft is kept"

    bob.button(key="editor_save_over").click().run()
    assert "Replaced head-lice.md" in plain(bob.success[0].value)
    assert "Bob's paragraph." in (corpus / name).read_text()

    bob.selectbox(key="editor_chosen").select(name).run()
    history = [plain(m.value) for m in bob.markdown if m.value.startswith("**Version")]
    assert history[0].startswith("**Version 3** · saved by Bob") and "saved by Ann" in history[1] and "adds Ann's paragraph" in history[1]
    bob.selectbox(key=f"editor_history_{name}").select(3).run()
    change = next(c.value for c in bob.code if "+++ version 3" in c.value)
    assert "--- version 2" in change and "+Bob's paragraph." in change, "a version is compared with the one just before it"
    assert "Ann's paragraph." not in change.replace("-Ann's paragraph.", ""), "Ann's change is not shown as Bob's"
    bob.selectbox(key=f"editor_history_{name}").select(2).run()
    bob.button(key=f"editor_restore_{name}").click().run()
    assert "Restored version 2 of head-lice.md" in plain(bob.success[0].value)
    assert "Ann's paragraph." in (corpus / name).read_text() and "Bob's paragraph." not in (corpus / name).read_text()
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
