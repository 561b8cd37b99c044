"""Glossary: safeguarding terms and acronyms, with their other and older names, searchable."""

from __future__ import annotations

import re

import streamlit as st

from ui.common import footer, get_kb, md_text

NAME_LINE = re.compile(r"^(?:Also called|Now called):.*$", re.MULTILINE)


def matches(entry, definition: str, query: str) -> bool:
    haystack = " ".join([entry.term, entry.acronym, *entry.also, entry.now_called, definition]).lower()
    return all(word in haystack for word in query.lower().split())


st.title("Glossary")
st.write("What the terms and acronyms in the procedures mean, including older names that are still heard.")
query = st.text_input("Search the glossary", key="glossary_query", placeholder="For example: LADO, section 47, MASH")

kb = get_kb()
if kb is not None:
    sections = kb.sections()
    entries = sorted(kb.glossary().entries, key=lambda e: e.term.lower())
    shown = []
    for entry in entries:
        passage = sections.get(entry.section_id)
        definition = NAME_LINE.sub("", passage.text).strip() if passage else ""
        if not query.strip() or matches(entry, definition, query):
            shown.append((entry, definition, passage))
    if not entries:
        st.info("The glossary is not in the current index.")
    elif not shown:
        st.info(f"No glossary term matches “{md_text(query.strip())}”. Try a shorter word, or ask the question on the Ask page.")
    else:
        st.caption(f"{len(shown)} of {len(entries)} terms")
        for entry, definition, passage in shown:
            label = entry.term + (f" ({entry.acronym})" if entry.acronym else "")
            with st.expander(md_text(label), expanded=bool(query.strip()) and len(shown) <= 3):
                st.markdown(md_text(definition) or "_No definition text._")
                if entry.also:
                    st.caption(f"Also called: {md_text('; '.join(entry.also))}")
                if entry.now_called:
                    st.caption(f"Now called: {md_text(entry.now_called)}")
                if passage is not None:
                    st.caption(md_text(f"{passage.title} · version {passage.version} · last reviewed {passage.last_reviewed or 'not stated'}"))

footer()
