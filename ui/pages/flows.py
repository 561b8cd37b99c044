"""Guided flows: one question per screen, the procedure text behind it, back and restart, and an
outcome that names the protocol, what to do now, the timescale and who to contact, with a
decision record to download. The record is generated for download; nothing is stored.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from kb.errors import KBError
from kb.flows import engine
from kb.flows.record import NOTES_HEADINGS, record_html, record_markdown
from kb.flows.walkthrough import describe_node
from ui.common import FLOWS_PENDING_KEY, footer, get_kb, is_web_address, knowledge_base, md_text, show_citation

STATE = "flows_state"
NOTES = "flows_notes"  # heading -> text, kept while the widgets come and go
PROBLEM = "flows_problem"
RECORD = "flows_record"  # the prepared decision record: {"state", "markdown", "with_notes", "at", "stamp"}


def begin(flow_id: str) -> None:
    flows = knowledge_base().flows
    previous = st.session_state.get(STATE)
    if previous is None or previous.flow_id != flow_id:
        st.session_state[NOTES] = {}
        st.session_state.pop(RECORD, None)
    try:
        st.session_state[STATE] = engine.start(flows, flow_id)
    except KBError as exc:
        st.session_state[PROBLEM] = str(exc)


def choose(label: str) -> None:
    flows = knowledge_base().flows
    try:
        st.session_state[STATE] = engine.step(flows, st.session_state[STATE], label)
    except KBError as exc:
        st.session_state[PROBLEM] = f"That answer cannot be followed yet: {exc}"


def go_back() -> None:
    st.session_state[STATE] = engine.back(knowledge_base().flows, st.session_state[STATE])


def start_again() -> None:
    st.session_state[STATE] = engine.restart(knowledge_base().flows, st.session_state[STATE])


def choose_another() -> None:
    st.session_state.pop(STATE, None)


def show_flow_list(flows) -> None:
    st.title("Guided flows")
    st.write("Answer one question at a time. Each step shows the procedure text behind it, and the last step tells you what to do and who to contact.")
    if not flows:
        st.info("No guided flows are installed yet.")
        return
    first = "worried-about-a-child"  # the general way in: listed first
    for flow in sorted(flows.values(), key=lambda f: (f.id != first, f.title.lower())):
        with st.container(border=True):
            st.button(md_text(flow.title), key=f"flows_start_{flow.id}", on_click=begin, args=(flow.id,), icon=":material/play_arrow:", width="stretch")
            if flow.description:
                st.caption(md_text(flow.description))


def show_progress(flows, state) -> None:
    answered, total = engine.progress(flows, state)
    if engine.is_finished(flows, state):
        st.progress(1.0, text=f"Done: {answered} question{'s' if answered != 1 else ''} answered")
    else:
        total = max(total, answered + 1)
        st.progress(answered / total, text=f"Question {answered + 1} of up to {total}")


def show_controls(state) -> None:
    back_col, restart_col, other_col = st.columns(3)
    back_col.button("Back", key="flows_back", on_click=go_back, disabled=not state.path, type="tertiary", icon=":material/arrow_back:")
    restart_col.button("Start again", key="flows_restart", on_click=start_again, disabled=not state.path, type="tertiary", icon=":material/restart_alt:")
    other_col.button("Choose another flow", key="flows_other", on_click=choose_another, type="tertiary", icon=":material/list:")


def show_path(flows, state) -> None:
    if not state.path:
        return
    with st.expander(f"Your answers so far ({len(state.path)})"):
        for n, step in enumerate(state.path, start=1):
            question = flows[step.flow_id].node(step.node_id).question
            carried = " _(from your earlier answer)_" if step.carried else ""
            st.markdown(f"{n}\\. {md_text(question)}  \n**{md_text(step.choice)}**{carried}")


def show_citations(citations: list[dict], sections, label: str) -> None:
    if not citations:
        return
    st.markdown(f"**{label}**")
    for n, c in enumerate(citations, start=1):
        passage = sections.get(c["section_id"])
        show_citation(n, c["title"], c["section"], c["version"], passage.last_reviewed if passage else None, c["source_url"], c["passage"], c["quote"])


def show_question(node: dict, sections, state) -> None:
    st.subheader(md_text(node["question"]))
    if node["help"]:
        st.markdown(md_text(node["help"]))
    for n, label in enumerate(node["options"]):
        st.button(md_text(label), key=f"flows_option_{state.at_flow}_{node['id']}_{n}", on_click=choose, args=(label,), width="stretch")
    show_citations(node["citations"], sections, "Why this question: the procedure text")


def show_outcome(kb, flows, sections, state, node: dict) -> None:
    with st.container(border=True):
        st.caption("Outcome")
        st.subheader(md_text(node["outcome"]))
        st.markdown(f"**Protocol:** {md_text(node['protocol'])}  \n**Timescale:** {md_text(node['timescale'])}")
    st.markdown("**What to do now**")
    st.markdown("\n".join(f"{n}. {md_text(a)}" for n, a in enumerate(node["actions"], start=1)))
    if node["contacts"]:
        st.markdown("**Who to contact**")
        for c in node["contacts"]:
            with st.container(border=True):
                st.markdown(f"**{md_text(c['who'])}**  \n{md_text(c['reach'])}")
                if c["hours"]:
                    st.caption(f"Hours: {md_text(c['hours'])}")
                verified = f"Details last verified {c['last_verified']}" if c["last_verified"] else "Details not yet verified: check them before relying on them"
                st.caption(md_text(verified))
                if is_web_address(c["source_url"]):
                    st.link_button("Where these details come from", c["source_url"], icon=":material/open_in_new:")
    if node["record"]:
        st.markdown("**What to write down**")
        st.markdown("\n".join(f"- {md_text(r)}" for r in node["record"]))
    show_citations(node["citations"], sections, "Sources")

    st.subheader("Your notes and the decision record")
    st.caption(
        "The notes are optional and go only into the record you download; nothing is stored. "
        "Avoid names unless you need them in your own record. Press Prepare to make the record, then download it."
    )
    notes = st.session_state.setdefault(NOTES, {})
    for n, heading in enumerate(NOTES_HEADINGS):
        st.session_state[f"flows_note_{n}"] = notes.get(heading, "")
    with st.form("flows_notes_form", border=False):
        for n, heading in enumerate(NOTES_HEADINGS):
            st.text_area(heading, key=f"flows_note_{n}", height=100)
        st.form_submit_button("Prepare the decision record", key="flows_prepare", on_click=prepare_record, type="primary", icon=":material/description:", width="stretch")
    prepared = st.session_state.get(RECORD)
    if prepared and prepared["state"] == state:
        with_notes = "with your notes" if prepared["with_notes"] else "without notes"
        st.caption(f"Prepared at {prepared['at']}, {with_notes}. If you change your notes, press Prepare again before downloading.")
        name = f"decision-record-{state.flow_id}-{prepared['stamp']}"
        st.download_button(
            "Download the record (Markdown)",
            prepared["markdown"],
            file_name=f"{name}.md",
            mime="text/markdown",
            key="flows_download_md",
            on_click="ignore",
            icon=":material/download:",
            width="stretch",
        )
        st.download_button(
            "Download the record (web page, to print)",
            record_html(prepared["markdown"]),
            file_name=f"{name}.html",
            mime="text/html",
            key="flows_download_html",
            on_click="ignore",
            icon=":material/print:",
            width="stretch",
        )


def prepare_record() -> None:
    """The record with the notes as submitted, kept for this walk until the notes change."""
    kb = knowledge_base()
    state = st.session_state[STATE]
    notes = {heading: st.session_state.get(f"flows_note_{n}", "") or "" for n, heading in enumerate(NOTES_HEADINGS)}
    st.session_state[NOTES] = notes
    now = dt.datetime.now(dt.UTC)
    st.session_state[RECORD] = {
        "state": state,
        "markdown": record_markdown(kb.flows, state, kb.sections(), kb.contacts, notes=notes, when=now),
        "with_notes": any(text.strip() for text in notes.values()),
        "at": now.strftime("%H:%M UTC"),
        "stamp": now.strftime("%Y-%m-%d-%H%M"),
    }


def show_walk(kb, flows, state) -> None:
    st.title(md_text(flows[state.flow_id].title))
    show_progress(flows, state)
    problem = st.session_state.pop(PROBLEM, None)
    if problem:
        st.warning(md_text(problem))
    sections = kb.sections()
    node = describe_node(engine.current(flows, state), kb.contacts, sections)
    if node["type"] == "question":
        show_question(node, sections, state)
    else:
        show_outcome(kb, flows, sections, state, node)
    show_path(flows, state)
    show_controls(state)


kb = get_kb()
if kb is not None:
    flows = kb.flows
    pending = st.session_state.pop(FLOWS_PENDING_KEY, None)
    if pending:
        begin(pending)
    state = st.session_state.get(STATE)
    if state is not None and state.flow_id not in flows:
        state = None
        st.session_state.pop(STATE, None)
    if state is None:
        problem = st.session_state.pop(PROBLEM, None)
        if problem:
            st.warning(md_text(problem))
        show_flow_list(flows)
    else:
        try:
            show_walk(kb, flows, state)
        except KBError as exc:
            st.warning(f"This flow cannot continue: {md_text(str(exc))}")
            st.button("Choose another flow", key="flows_reset", on_click=choose_another)

footer()
