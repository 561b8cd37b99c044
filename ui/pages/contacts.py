"""Contacts: who to call, when, and how recently each number was checked."""

from __future__ import annotations

import re

import streamlit as st

from ui.common import footer, get_kb, is_web_address, md_text


def matches(contact, query: str) -> bool:
    haystack = " ".join([contact.who, contact.phone, contact.email, contact.address, contact.hours, contact.when_to_use, contact.note]).lower()
    return all(word in haystack for word in query.lower().split())


def phone_markdown(phone: str) -> str:
    digits = re.sub(r"[^0-9+]", "", phone)
    return f"[{md_text(phone)}](tel:{digits})" if digits else md_text(phone)


st.title("Contacts")
st.error("If a child is in immediate danger, call 999 now.", icon=":material/warning:")
query = st.text_input("Search the contacts", key="contacts_query", placeholder="For example: out of hours, LADO, police")

kb = get_kb()
if kb is not None:
    contacts = list(kb.contacts.values())
    shown = [c for c in contacts if not query.strip() or matches(c, query)]
    if not contacts:
        st.info("No contacts file (contacts.yaml) is in the corpus folder.")
    elif not shown:
        st.info(f"No contact matches “{md_text(query.strip())}”.")
    else:
        st.caption(f"{len(shown)} of {len(contacts)} contacts. Check the date each was last verified.")
    for c in shown:
        with st.container(border=True):
            st.markdown(f"**{md_text(c.who)}**")
            lines = []
            if c.phone:
                lines.append(f"Telephone: {phone_markdown(c.phone)}")
            if c.email:
                lines.append(f"Email: {md_text(c.email)}")
            if c.address:
                lines.append(f"Address: {md_text(c.address)}")
            if c.hours:
                lines.append(f"Hours: {md_text(c.hours)}")
            st.markdown("  \n".join(lines))
            st.markdown(f"When to use: {md_text(c.when_to_use)}")
            if c.note:
                st.caption(f"Note: {md_text(c.note)}")
            verified = f"Last verified {c.last_verified}" if c.last_verified else "Not yet verified: check before relying on it"
            st.caption(md_text(verified))  # `verification` is the editors' record of how, not shown
            if is_web_address(c.source_url):
                st.link_button("Source page", c.source_url, icon=":material/open_in_new:")

footer()
