"""What's new: the documents and sections each published version of the procedures added, changed
or removed, newest first, from the index's own records (nothing typed by hand)."""

from __future__ import annotations

import streamlit as st

from ui.common import footer, get_kb, md_text

EVENTS = {"published": "Published", "rolled back": "Rolled back to an earlier version"}
CHANGES = {"added": "Added", "changed": "Changed", "removed": "Removed"}


def show_document(doc) -> None:
    st.markdown(f"**{CHANGES.get(doc.change, doc.change)}:** {md_text(doc.title)}")
    for label, headings in (("New sections", doc.sections_added), ("Changed sections", doc.sections_changed), ("Removed sections", doc.sections_removed)):
        if headings:
            st.caption(f"{label}: " + "; ".join(f"“{md_text(h)}”" for h in headings))


st.title("What's new")
st.write("What changed in the procedures each time a new version was published, newest first.")

kb = get_kb()
if kb is not None:
    releases = kb.history()
    if not releases:
        st.info("No version of the procedures has been published yet.")
    for release in releases:
        with st.container(border=True):
            st.markdown(f"**{release.day}** · {EVENTS.get(release.event, release.event)} · version {md_text(release.generation)}")
            if not release.documents:
                st.caption("No document changed.")
            elif release.previous is None:
                st.caption(f"The first version: {len(release.documents)} documents.")
                with st.expander("The documents"):
                    st.markdown("\n".join(f"- {md_text(d.title)}" for d in release.documents))
            else:
                for doc in release.documents:
                    show_document(doc)

footer()
