"""Guided flows: one question per screen, the procedure text behind it, back and restart, and an
outcome that names the protocol, what to do now, the timescale and who to contact, with a
decision record to download. The record is generated for download; nothing is stored.
"""

from __future__ import annotations

import datetime as dt
import time

import streamlit as st

from kb.errors import KBError
from kb.flows import engine
from kb.flows.record import NOTES_HEADINGS, record_html, record_markdown
from kb.flows.walkthrough import describe_node
from ui.common import FLOWS_PENDING_KEY, date_in_words, footer, get_kb, knowledge_base, md_text, md_with_phones, show_citation

STATE = "flows_state"
NOTES = "flows_notes"  # heading -> text, kept while the widgets come and go
PROBLEM = "flows_problem"
NOTES_SETTLE_SECONDS = 0.8  # see record_builder


def begin(flow_id: str) -> None:
    flows = knowledge_base().flows
    previous = st.session_state.get(STATE)
    if previous is None or previous.flow_id != flow_id:
        st.session_state[NOTES] = {}
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
    """How far along, in words that never move backwards (flows branch, so no total is promised)."""
    answered, _ = engine.progress(flows, state)
    if engine.is_finished(flows, state):
        st.markdown(f"Done: {answered} question{'s' if answered != 1 else ''} answered.")
    else:
        st.markdown(f"Question {answered + 1}")


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
        show_citation(n, c["title"], c["section"], passage.last_reviewed if passage else None, c["source_url"], c["passage"], c["quote"])


def show_question(node: dict, sections, state) -> None:
    st.header(md_text(node["question"]))
    if node["help"]:
        st.markdown(md_with_phones(node["help"]))
    for n, label in enumerate(node["options"]):
        st.button(md_text(label), key=f"flows_option_{state.at_flow}_{node['id']}_{n}", on_click=choose, args=(label,), width="stretch")
    show_citations(node["citations"], sections, "Why this question: the procedure text")


def show_outcome(kb, flows, sections, state, node: dict) -> None:
    """By when, whom to call and what to do first (within about two phone screens); then the notes
    and the record; the sources last."""
    with st.container(border=True):
        st.header(md_text(node["outcome"]))
        st.markdown(f"**By when:** {md_with_phones(node['timescale'])}  \n**Procedure:** {md_text(node['protocol'])}")
    if node["contacts"]:
        st.markdown("**Who to contact**")
        for c in node["contacts"]:
            checked = f"Details last checked {date_in_words(c['last_verified'])}." if c["last_verified"] else "Check these details before relying on them."
            hours = f"  \nHours: {md_text(c['hours'])}" if c["hours"] else ""
            st.markdown(f"**{md_with_phones(c['who'])}**: {md_with_phones(c['reach'])}{hours}  \n{md_text(checked)}")
    st.markdown("**What to do now**")
    st.markdown("\n".join(f"{n}. {md_with_phones(a)}" for n, a in enumerate(node["actions"], start=1)))
    if node["record"]:
        st.markdown("**What to write down**")
        st.markdown("\n".join(f"- {md_text(r)}" for r in node["record"]))
    show_record(kb, state)
    show_citations(node["citations"], sections, "Sources")


def keep_note(n: int, heading: str) -> None:
    st.session_state.setdefault(NOTES, {})[heading] = st.session_state.get(f"flows_note_{n}", "") or ""


def show_record(kb, state) -> None:
    st.header("Your notes and the decision record")
    st.markdown(
        "The notes are optional and go only into the record you download; nothing is stored. "
        "Avoid names unless you need them in your own record."
    )
    notes = st.session_state.setdefault(NOTES, {})
    for n, heading in enumerate(NOTES_HEADINGS):
        st.session_state[f"flows_note_{n}"] = notes.get(heading, "")
        st.text_area(heading, key=f"flows_note_{n}", height=100, on_change=keep_note, args=(n, heading))
    name = f"decision-record-{state.flow_id}-{dt.datetime.now(dt.UTC):%Y-%m-%d-%H%M}"
    build = record_builder(kb, state, notes)
    st.download_button(
        "Download the decision record",
        build,
        file_name=f"{name}.md",
        mime="text/markdown",
        key="flows_download_md",
        on_click="ignore",
        type="primary",
        icon=":material/download:",
        width="stretch",
    )
    st.download_button(
        "Download it as a web page, to print",
        lambda: record_html(build()),
        file_name=f"{name}.html",
        mime="text/html",
        key="flows_download_html",
        on_click="ignore",
        type="tertiary",
        icon=":material/print:",
    )


def record_builder(kb, state, notes: dict):
    """The record, made when the button is pressed, with the notes as they are then. Runs on
    Streamlit's download thread and reads the notes dict kept for this walk (not widgets). A note
    typed just before the press reaches that dict through the rerun that leaving the box starts,
    which races the download: the record waits NOTES_SETTLE_SECONDS for it first."""

    def build() -> str:
        time.sleep(NOTES_SETTLE_SECONDS)
        return record_markdown(kb.flows, state, kb.sections(), kb.contacts, notes=dict(notes), when=dt.datetime.now(dt.UTC))

    return build


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
