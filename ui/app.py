"""The Somerset safeguarding procedures assistant: the one entry point.

Run with `streamlit run ui/app.py`. Each page lives in ui/pages/ and calls the service layer
(`kb.service.KnowledgeBase`) through ui/common.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))  # so pages can import ui.common

import streamlit as st  # noqa: E402

st.set_page_config(page_title="Safeguarding procedures assistant", page_icon="🛡️", layout="centered")

pages = [
    st.Page("pages/ask.py", title="Ask", icon=":material/chat:", default=True),
    st.Page("pages/flows.py", title="Guided flows", icon=":material/alt_route:"),
    st.Page("pages/glossary.py", title="Glossary", icon=":material/menu_book:"),
    st.Page("pages/contacts.py", title="Contacts", icon=":material/call:"),
    st.Page("pages/whats_new.py", title="What's new", icon=":material/update:"),
    st.Page("pages/editor.py", title="Editor", icon=":material/edit_document:"),
]
st.navigation(pages, position="top").run()
