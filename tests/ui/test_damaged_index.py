"""The app on a data folder whose served generation is damaged: it says so, and still answers
from the last whole generation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[2] / "ui" / "views"

pytestmark = pytest.mark.slow


@pytest.fixture
def damaged_env(tmp_path, small_index, point_app):
    from kb.config import Settings
    from kb.service import KnowledgeBase

    corpus, data = small_index(tmp_path)
    lice = corpus / "recognising-abuse-and-neglect.md"
    lice.write_text(lice.read_text(encoding="utf-8") + "\n\nOne more sentence about neglect.\n", encoding="utf-8")
    kb = KnowledgeBase(Settings.from_env(environ={}, corpus_dir=corpus, data_dir=data))
    assert kb.index().generation == "gen-000002"
    kb.close()
    (data / "generations" / "gen-000002" / "chunks.sqlite").write_bytes(os.urandom(8192))
    with point_app(corpus, data):
        yield
        from ui.common import knowledge_base

        knowledge_base().close()


def test_the_ask_page_warns_about_a_damaged_index_and_still_answers(damaged_env):
    at = AppTest.from_file(str(PAGES / "ask.py"), default_timeout=180).run()
    assert not at.exception
    assert [w.value for w in at.warning] == [
        "The newest version of the procedures could not be opened, so answers come from the version before it. "
        "Please tell whoever looks after this assistant."
    ]
    details = [c.value.replace("\\", "") for c in at.caption if c.value.startswith("For them:")]
    assert details and "gen-000002 is damaged" in details[0] and "earlier index generation gen-000001" in details[0] and "kb index" in details[0]
    at.chat_input(key="ask_input").set_value("A boy told me his dad hits him. What do I do?").run()
    assert not at.exception
    assistant = at.chat_message[1]
    assert assistant.expander, "the answer cites its passages"
