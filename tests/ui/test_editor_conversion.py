"""The Editor's upload review, driven with AppTest: what the conversion did not carry over is listed
before saving, and saving proposes today's date as the document's last review."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui.common import date_in_words

pytestmark = pytest.mark.slow  # the unlocked Editor loads the embedding model

EDITOR_PAGE = Path(__file__).resolve().parents[2] / "ui" / "views" / "editor.py"
PASSWORD = "correct horse"
PAGE = b"""<!doctype html><html><head><title>Kites</title></head><body>
<h1>Kite flying at youth clubs</h1>
<h2>Who checks the kite lines?</h2>
<p>The session leader checks every line. Call <a href="tel:03001232224">Somerset Direct</a> with a worry.</p>
<p><img src="kite.png" alt="a kite"> <a href="javascript:alert(1)">Read more</a></p>
</body></html>"""


@pytest.fixture(scope="module", autouse=True)
def release_the_index(ui_env):
    yield
    from ui.common import knowledge_base

    knowledge_base().close()  # the cached one the page used: release its Qdrant clients


def unlocked() -> AppTest:
    at = AppTest.from_file(str(EDITOR_PAGE), default_timeout=600)
    at.secrets["editor_password"] = PASSWORD
    at.run()
    at.text_input(key="editor_name_input").input("Ann")
    at.text_input(key="editor_password_input").input(PASSWORD)
    at.button(key="editor_unlock").click().run()
    assert not at.exception and at.file_uploader, "unlocked"
    return at


def test_an_upload_lists_what_was_not_carried_over_and_saving_sets_the_review_date(ui_env):
    corpus, _data = ui_env
    at = unlocked()
    at.file_uploader[0].upload("Kite Flying.html", PAGE, "text/html")
    at.run()
    draft = at.text_area(key="editor_draft_text").value
    assert "Call Somerset Direct (03001232224) with a worry." in draft
    listed = next(w.value for w in at.warning if "Not carried over from the upload" in w.value).replace("\\", "")
    assert "An image dropped (line 5)" in listed
    assert "A link with the scheme javascript: kept as its text only: 'Read more' (line 5)" in listed

    today = dt.date.today()
    reviewed = at.checkbox(key="editor_set_reviewed")
    assert reviewed.value and reviewed.label == f"Set 'last reviewed' to today ({date_in_words(today.isoformat())})"
    at.text_area(key="editor_draft_text").input(draft.replace("REPLACE-WITH-THE-PUBLIC-WEB-ADDRESS-THIS-IS-BASED-ON", "https://example.org/kites"))
    at.button(key="editor_save").click().run()
    assert not at.exception
    saved = (corpus / "kite-flying.md").read_text()
    assert f"last_reviewed: {today.isoformat()}  # YYYY-MM-DD" in saved
    assert not any("Not carried over" in w.value for w in at.warning), "the list goes with the draft"


def test_unticking_keeps_the_review_date(ui_env):
    corpus, _data = ui_env
    before = (corpus / "head-lice.md").read_text()
    at = unlocked()
    at.selectbox(key="editor_chosen").select("head-lice.md").run()
    at.button(key="editor_edit").click().run()
    at.checkbox(key="editor_set_reviewed").uncheck().run()
    text = at.text_area(key="editor_draft_text").value
    at.text_area(key="editor_draft_text").input(text + "\nChecked by Ann.\n")
    at.button(key="editor_save").click().run()
    assert not at.exception
    after = (corpus / "head-lice.md").read_text()
    assert after == before + "\nChecked by Ann.\n", "only the editor's change, the review date as it was"
