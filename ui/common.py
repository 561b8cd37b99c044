"""What every page shares: the one knowledge base per server, the persona, safe text, citations, the footer.

Pages stay thin: they read widgets, call the service layer (`kb.service.KnowledgeBase`) and show
the result. Text from users and from the sources is never rendered as HTML or Markdown: it goes
through `md_text` (Markdown escaped) or `quoted_passage_html` (HTML escaped, the quote in <mark>).
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

import streamlit as st

from kb.config import Settings
from kb.errors import KBError

if TYPE_CHECKING:  # the service pulls in torch and Haystack: imported when first needed, under the spinner
    from kb.service import KnowledgeBase

FOOTER = "Answers are quoted from the named procedures (illustrative edition). In an emergency call 999."
PERSONAS = {
    "volunteer": "Volunteer or helper",
    "parent": "Parent, carer or member of the public",
    "professional": "Professional (teacher, DSL, health, police, social care)",
    "child": "Child or young person",
}
PERSONA_KEY = "persona"  # session-wide, shared by every page
FLOWS_PAGE = "pages/flows.py"  # relative to ui/app.py, the entry point
FLOWS_PENDING_KEY = "flows_pending"  # a flow another page asked the Guided flows page to start

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$=^])")


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    """The server's settings, read once from the environment (no model is loaded)."""
    return Settings.from_env()


@st.cache_resource(show_spinner="Loading the procedures and the search model (first visit only)...")
def knowledge_base() -> KnowledgeBase:
    """One KnowledgeBase per server process; it follows new index generations by itself."""
    from kb.service import KnowledgeBase

    kb = KnowledgeBase(settings())
    kb.ensure_index()
    kb.searcher  # noqa: B018 - load the model now, not on the first question
    return kb


def get_kb() -> KnowledgeBase | None:
    """The shared knowledge base, or None after showing why it could not start."""
    try:
        kb = knowledge_base()
        problem = kb.index_problem()
    except KBError as exc:
        st.error(f"The assistant cannot start: {md_text(str(exc))}")
        return None
    if problem:
        st.warning(
            "The newest version of the procedures could not be opened, so answers come from the version before it. "
            "Please tell whoever looks after this assistant.",
            icon=":material/warning:",
        )
        st.caption(f"For them: {md_text(problem)}")
    return kb


# the persona


def persona() -> str:
    return st.session_state.get(PERSONA_KEY, "volunteer")


def persona_switch(page: str) -> str:
    """A labelled switch between volunteer and professional, kept for the whole session."""
    key = f"{page}_persona"
    st.session_state[key] = persona()

    def remember() -> None:
        st.session_state[PERSONA_KEY] = st.session_state[key]

    st.radio(
        "I am asking as a",
        options=list(PERSONAS),
        format_func=PERSONAS.__getitem__,
        key=key,
        horizontal=True,
        on_change=remember,
        help="The answer starts with who you should tell and how: volunteers their safeguarding lead, professionals the referral route, parents and young people the helplines. Your own words in the question count too.",
    )
    return persona()


# safe text


def md_text(text: str) -> str:
    """Text shown literally through st.markdown: every Markdown special character escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text or ""))


def quoted_passage_html(passage: str, quote: str) -> str:
    """The passage with the quoted words highlighted; all text HTML-escaped, only <mark> added."""
    passage = passage or ""
    quote = (quote or "").strip()
    start = passage.find(quote) if quote else -1
    if start < 0 and quote:
        # the quote may differ from the passage only in line breaks
        flat = " ".join(passage.split())
        if quote in flat:
            passage, start = flat, flat.find(quote)
    if start >= 0:
        body = html.escape(passage[:start]) + "<mark style='background:#fdf0b5;padding:0 .1em'>" + html.escape(quote) + "</mark>" + html.escape(passage[start + len(quote) :])
    else:
        body = html.escape(passage)
    return f"<div style='white-space:pre-line;line-height:1.55'>{body}</div>"


def is_web_address(url: str | None) -> bool:
    return bool(url) and re.match(r"^https?://[^\s<>\"']+$", str(url)) is not None


# citations


def show_citation(
    n: int,
    title: str | None,
    section: str | None,
    version: str | None,
    last_reviewed: str | None,
    source_url: str | None,
    passage: str | None,
    quote: str | None,
    expanded: bool = False,
    last_changed: str | None = None,
) -> None:
    """One numbered source, in an expander: the quote highlighted inside its passage, then where it is from."""
    title = title or "Source not in the current index"
    label = f"[{n}] {title}" + (f": {section}" if section else "")
    with st.expander(md_text(label), expanded=expanded):
        if passage:
            st.html(quoted_passage_html(passage, quote or ""))
        elif quote:
            st.html(quoted_passage_html(quote, quote))
        else:
            st.caption("This section is not in the current index, so its text cannot be shown.")
        details = [title]
        if section:
            details.append(f"section “{section}”")
        details.append(f"version {version or 'not stated'}")
        details.append(f"last reviewed {last_reviewed or 'not stated'}")
        if last_changed:
            details.append(f"document last changed {last_changed}")
        st.caption(md_text(" · ".join(details)))
        if is_web_address(source_url):
            st.link_button("Open the source page", str(source_url), icon=":material/open_in_new:")


def open_flow(flow_id: str) -> None:
    """Go to the Guided flows page with `flow_id` started."""
    st.session_state[FLOWS_PENDING_KEY] = flow_id
    st.switch_page(FLOWS_PAGE)


def footer() -> None:
    st.divider()
    st.caption(FOOTER)
