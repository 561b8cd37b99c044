"""What every page shares: the one knowledge base per server, the persona, safe text, citations, the footer.

Pages stay thin: they read widgets, call the service layer (`kb.service.KnowledgeBase`) and show
the result. Text from users and from the sources is never rendered as HTML or Markdown: it goes
through `md_text` (Markdown escaped) or `quoted_passage_html` (HTML escaped, the quote in <mark>).
"""

from __future__ import annotations

import datetime as dt
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
FLOWS_PAGE = "views/flows.py"  # relative to ui/app.py, the entry point
FLOWS_PENDING_KEY = "flows_pending"  # a flow another page asked the Guided flows page to start

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$=^])")
# A UK telephone number as the procedures and contacts write it: 0300 123 2224, 01823 355803,
# 0800 1111, 116 123, or the short 999, 101 and 111 standing alone.
_PHONE = re.compile(r"(?<![\w£$.,/:-])(?:0\d{2,4}(?: ?\d{2,4}){1,3}|116 ?\d{3}|999|101|111)(?![\w/:%-]|[.,]\d)")
_MARKER = re.compile(r"\\\[(\d+)\\\]")  # a citation marker [n] once escaped by md_text

# Streamlit draws captions in a grey that fails WCAG contrast (3.9:1 on white); essential small
# text here is darker (7:1). The danger line stays in view while the page scrolls.
PAGE_STYLE = """<style>
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p { color: #4a4d52 !important; opacity: 1 !important; }
[data-testid="stCaptionContainer"] a { color: #1d5f7a !important; }
[data-testid="stLayoutWrapper"]:has(> .st-key-danger_line), .st-key-danger_line { position: sticky; top: 3.75rem; z-index: 100; background: #fff; }
[data-testid="stMainBlockContainer"] { padding-top: 3.75rem; }
@media (max-width: 640px) { h1 { font-size: 2rem !important; } h2 { font-size: 1.4rem !important; } }
.st-key-danger_line p { margin: 0; font-weight: 600; color: #8a1c1c; }
.st-key-danger_line a { color: #8a1c1c; text-decoration: underline; }
</style>"""


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


# what every page shows first


def page_style() -> None:
    st.html(PAGE_STYLE)  # style only: Streamlit adds it to the page without taking space


def danger_line() -> None:
    """One short line that stays in view on every page: what to do when a child is in danger now."""
    with st.container(key="danger_line"):
        st.markdown("In danger now? Call [999](tel:999)")


def navigation_bar(pages: list) -> None:
    """Every page by name, in a row that wraps on a phone (no hidden menu to find or close)."""
    with st.container(horizontal=True, gap="small", key="navigation"):
        for page in pages:
            st.page_link(page, label=page.title, icon=page.icon)


# the persona


def persona() -> str:
    return st.session_state.get(PERSONA_KEY, "volunteer")


def persona_switch(page: str) -> str:
    """A labelled choice of who is asking, kept for the whole session: one line, even on a phone."""
    key = f"{page}_persona"
    st.session_state[key] = persona()

    def remember() -> None:
        st.session_state[PERSONA_KEY] = st.session_state[key]

    st.selectbox(
        "I am asking as a",
        options=list(PERSONAS),
        format_func=PERSONAS.__getitem__,
        key=key,
        on_change=remember,
        help="The answer starts with who you should tell and how: volunteers their safeguarding lead, professionals the referral route, parents and young people the helplines. Your own words in the question count too.",
    )
    return persona()


# safe text


def md_text(text: str) -> str:
    """Text shown literally through st.markdown: every Markdown special character escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text or ""))


def is_phone_number(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    return not digits.startswith("0") or 8 <= len(digits) <= 11


def _phone_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _PHONE.finditer(text) if is_phone_number(m.group())]


def tel_href(phone: str) -> str:
    return "tel:" + re.sub(r"[^0-9+]", "", phone)


def md_with_phones(text: str) -> str:
    """`md_text`, with every telephone number a link that calls it when tapped."""
    text = str(text or "")
    out, at = [], 0
    for start, end in _phone_spans(text):
        number = text[start:end]
        out += [md_text(text[at:start]), f"[{md_text(number)}]({tel_href(number)})"]
        at = end
    return "".join(out) + md_text(text[at:])


def html_with_phones(text: str) -> str:
    """HTML-escaped text, with every telephone number a tap-to-call link."""
    out, at = [], 0
    for start, end in _phone_spans(text):
        number = text[start:end]
        out += [html.escape(text[at:start]), f"<a href='{tel_href(number)}'>{html.escape(number)}</a>"]
        at = end
    return "".join(out) + html.escape(text[at:])


def date_in_words(day: str | None) -> str:
    """'2026-11-21' (or a timestamp starting with it) as '21 November 2026'; other text unchanged."""
    try:
        return dt.date.fromisoformat(str(day or "")[:10]).strftime("%-d %B %Y")
    except ValueError:
        return str(day or "")


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
        body = html_with_phones(passage[:start]) + "<mark style='background:#fdf0b5;padding:0 .1em'>" + html_with_phones(quote) + "</mark>" + html_with_phones(passage[start + len(quote) :])
    else:
        body = html_with_phones(passage)
    return f"<div style='white-space:pre-line;line-height:1.55'>{body}</div>"


def is_web_address(url: str | None) -> bool:
    return bool(url) and re.match(r"^https?://[^\s<>\"']+$", str(url)) is not None


# citations


def anchor_html(anchor: str) -> str:
    """An empty element with an id, for a link to jump to (the id escaped, nothing else added)."""
    return f"<span id='{html.escape(anchor, quote=True)}'></span>"


def source_anchor(prefix: str, n: int) -> str:
    return f"{prefix}-source-{n}"


def with_marker_links(markdown: str, prefix: str) -> str:
    """Escaped text whose [n] citation markers jump to their numbered source below."""
    return _MARKER.sub(lambda m: f"[\\[{m.group(1)}\\]](#{source_anchor(prefix, int(m.group(1)))})", markdown)


def show_citation(
    n: int,
    title: str | None,
    section: str | None,
    last_reviewed: str | None,
    source_url: str | None,
    passage: str | None,
    quote: str | None,
    expanded: bool = False,
    last_changed: str | None = None,
    anchor: str | None = None,
) -> None:
    """One numbered source, in an expander: the quote highlighted inside its passage, then where it
    is from, with its dates in words (versions and hashes stay in the decision record and JSON)."""
    title = title or "Source not in the current index"
    label = f"[{n}] {title}" + (f": {section}" if section else "")
    if anchor:
        st.html(anchor_html(anchor))
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
        details.append(f"last reviewed {date_in_words(last_reviewed) or 'not stated'}")
        if last_changed:
            details.append(f"last changed here {date_in_words(last_changed)}")
        st.caption(md_text(" · ".join(details)))
        if is_web_address(source_url):
            st.link_button("Open the source page", str(source_url), icon=":material/open_in_new:")


def open_flow(flow_id: str) -> None:
    """Go to the Guided flows page with `flow_id` started."""
    st.session_state[FLOWS_PENDING_KEY] = flow_id
    st.switch_page(FLOWS_PAGE)


def footer() -> None:
    st.divider()
    st.caption(md_with_phones(FOOTER))
