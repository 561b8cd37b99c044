"""The Somerset safeguarding procedures assistant: the one entry point.

Run with `streamlit run ui/app.py`. Each page lives in ui/views/ and calls the service layer
(`kb.service.KnowledgeBase`) through ui/common.py. The folder is not called pages/: Streamlit would
also serve that as pages of its own, without this file, when a page's address is opened directly.
What every page shows above its own content (the page style, the "In danger now? Call 999" line,
labelled navigation) is drawn here.
"""

from __future__ import annotations

import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))  # so pages can import ui.common

import streamlit as st  # noqa: E402

from ui.common import danger_line, navigation_bar, page_style  # noqa: E402

st.set_page_config(page_title="Safeguarding procedures assistant", page_icon="🛡️", layout="centered")

pages = [
    st.Page("views/ask.py", title="Ask", icon=":material/chat:", default=True),
    st.Page("views/flows.py", title="Guided flows", icon=":material/alt_route:"),
    st.Page("views/glossary.py", title="Glossary", icon=":material/menu_book:"),
    st.Page("views/contacts.py", title="Contacts", icon=":material/call:"),
    st.Page("views/whats_new.py", title="What's new", icon=":material/update:"),
    st.Page("views/editor.py", title="Editor", icon=":material/edit_document:"),
]
# Streamlit's own navigation folds into an unlabelled "»" side menu on a phone that stays open
# after a choice; the pages' names, always shown, are easier to find.
current = st.navigation(pages, position="hidden")
page_style()
danger_line()
navigation_bar(pages)
current.run()
