"""Contacts: who to call, what for, the number to tap, the hours and when each was last checked.

How each entry was checked (`verification`) is the editors' record and is not shown here.
"""

from __future__ import annotations

import re

import streamlit as st

from ui.common import date_in_words, footer, get_kb, is_web_address, md_text, md_with_phones, tel_href

# where a search word is found, from most to least telling
FIELD_WEIGHTS = (("who", 4), ("when_to_use", 2), ("note", 1), ("hours", 1))


def words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def relevance(contact, query: str) -> int:
    """0 when a search word is missing; higher when the words, or the whole phrase, are in the
    contact's name or purpose ("out of hours" finds the out-of-hours service first)."""
    query = words(query)
    if not query:
        return 1
    fields = {name: words(getattr(contact, name)) for name, _weight in FIELD_WEIGHTS}
    everything = " ".join([*fields.values(), words(contact.phone), words(contact.email), words(contact.address)])
    if not all(word in everything for word in query.split()):
        return 0
    score = 1
    for name, weight in FIELD_WEIGHTS:
        if query in fields[name]:
            score += 3 * weight
        score += weight * sum(word in fields[name] for word in query.split())
    return score


def show_contact(c) -> None:
    with st.container(border=True):
        st.markdown(f"**{md_with_phones(c.who)}**  \n{md_with_phones(c.when_to_use)}")
        lines = []
        if c.phone:
            lines.append(f"Call: [{md_text(c.phone)}]({tel_href(c.phone)})")
        if c.email:
            lines.append(f"Email: [{md_text(c.email)}](mailto:{c.email})" if re.fullmatch(r"[^@\s()<>\[\]]+@[^@\s()<>\[\]]+", c.email) else f"Email: {md_text(c.email)}")
        if c.address:
            lines.append(f"Where: {md_text(c.address)}")
        if c.hours:
            lines.append(f"Hours: {md_with_phones(c.hours)}")
        if c.note:
            lines.append(md_with_phones(c.note))
        lines.append(f"Last checked {date_in_words(c.last_verified)}" if c.last_verified else "Not checked yet: confirm the number before relying on it")
        st.markdown("  \n".join(lines))
        if is_web_address(c.source_url):
            st.link_button("Where these details come from", c.source_url, icon=":material/open_in_new:")


st.title("Contacts")
st.error("If a child is in immediate danger, call [999](tel:999) now.", icon=":material/warning:")
query = st.text_input("Search the contacts", key="contacts_query", placeholder="For example: out of hours, LADO, police")

kb = get_kb()
if kb is not None:
    contacts = list(kb.contacts.values())
    scored = [(relevance(c, query), n, c) for n, c in enumerate(contacts)]
    shown = [c for score, _n, c in sorted(scored, key=lambda t: (-t[0], t[1])) if score > 0]
    if not contacts:
        st.info("No contacts file (contacts.yaml) is in the corpus folder.")
    elif not shown:
        st.info(f"No contact matches “{md_text(query.strip())}”. Try fewer words, or call your safeguarding lead.")
    else:
        st.markdown(f"{len(shown)} of {len(contacts)} contacts{', best match first' if query.strip() else ''}.")
    for c in shown:
        show_contact(c)

footer()
