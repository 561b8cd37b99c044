"""Ask: a plain question in, the procedures' own words out, each sentence numbered to its source.

The emergency guidance comes first whenever the question suggests danger or a disclosure, and
stays with every later answer in the conversation. The question box is at the top and the newest
answer right under it, so its first line (the emergency guidance when there is any) is in view
when it arrives, on a phone too; earlier turns follow, newest first. Nothing asked here is stored
beyond this browser session.
"""

from __future__ import annotations

import streamlit as st

from kb.errors import KBError, QuestionError
from ui.common import footer, get_kb, md_text, md_with_phones, open_flow, persona, persona_switch, show_citation, source_anchor, with_marker_links

HISTORY = "ask_history"
PENDING = "ask_pending"
MAX_TURNS = 20
EXAMPLES = (
    "A child told me their dad hits them. What do I do?",
    "What is the LADO?",
    "How quickly should a strategy discussion happen?",
)


def queue_question(question: str) -> None:
    st.session_state[PENDING] = question


def queue_typed_question() -> None:
    queue_question(st.session_state.get("ask_input") or "")


def answer_pending(kb) -> None:
    question = st.session_state.pop(PENDING, None)
    if question is None:
        return
    turn: dict = {"question": question}
    history = st.session_state.setdefault(HISTORY, [])
    try:
        with st.spinner("Looking in the procedures..."):
            turn["answer"] = kb.ask(question, persona=persona(), previous=earlier_safety(history))
            turn["question"] = turn["answer"].question
    except QuestionError as exc:
        turn["problem"] = f"Please try again: {exc}."
    except KBError as exc:
        turn["problem"] = f"The assistant could not answer just now: {exc}"
    history.append(turn)
    del history[:-MAX_TURNS]


def earlier_safety(history: list[dict]):
    """The emergency guidance of the latest earlier answer that had one: a follow-up keeps it."""
    for turn in reversed(history):
        answer = turn.get("answer")
        if answer is not None and answer.safety:
            return answer.safety
    return None


def show_part(part, i: int) -> None:
    st.markdown(f"**Answering:** _{md_text(part.answering)}_")
    st.markdown(with_marker_links(md_with_phones(part.text), f"turn{i}"))


def show_safety(safety) -> None:
    lines = [safety.intro, *safety.steps, *safety.lines]
    if safety.carried:
        lines.append("(Shown again because of what you asked earlier in this conversation.)")
    st.error("  \n".join(md_with_phones(line) for line in lines), icon=":material/warning:")


def show_turn(i: int, turn: dict, kb) -> None:
    with st.chat_message("user", avatar=":material/person:"):
        st.markdown(md_text(turn["question"]) or "_(empty question)_")
    if "problem" not in turn and turn["answer"].safety:
        show_safety(turn["answer"].safety)  # full width, first, before the answer's own bubble
    with st.chat_message("assistant", avatar=":material/menu_book:"):
        if "problem" in turn:
            st.warning(md_text(turn["problem"]))
            return
        answer = turn["answer"]
        if answer.advice:
            st.markdown(f"**What to do first:** {md_with_phones(answer.advice)}")
        if answer.status == "answered":
            for part in answer.parts:
                show_part(part, i)
        elif answer.status == "not_found":
            st.info(md_with_phones(answer.answer), icon=":material/search_off:")
        else:
            st.warning(md_with_phones(answer.answer), icon=":material/block:")
        if answer.choices:
            st.markdown("**Your question could be about either of these. Which did you mean?**")
            for n, link in enumerate(answer.choices):
                st.button(link.section, key=f"ask_choice_{i}_{n}", on_click=queue_question, args=(link.section,), icon=":material/help:")
        if answer.citations:
            st.markdown("**Sources**")
            changed = kb.last_changed()
            for c in answer.citations:
                show_citation(c.n, c.title, c.section, c.last_reviewed, c.source_url, c.passage, c.quote, last_changed=changed.get(c.doc_id), anchor=source_anchor(f"turn{i}", c.n))
        if answer.see_also:
            st.markdown("**See also**")
            for link in answer.see_also:
                passage = kb.section(link.section_id)
                with st.expander(f"{link.section} ({link.title})", icon=":material/menu_book:"):
                    st.markdown(md_with_phones(passage.text if passage else "This section is no longer in the procedures."))
        flows = [f for f in answer.flows if f in kb.flows]
        if flows:
            st.markdown("**Step-by-step help**")
            for flow_id in flows:
                if st.button(f"Guided flow: {md_text(kb.flows[flow_id].title)}", key=f"ask_flow_{i}_{flow_id}", icon=":material/alt_route:"):
                    open_flow(flow_id)


def clear_history() -> None:
    st.session_state[HISTORY] = []


st.title("Ask about the procedures")
if not st.session_state.get(HISTORY) and PENDING not in st.session_state:  # once asked, the answer comes first
    st.markdown(
        "Type a question in your own words. The answer quotes the safeguarding procedures, and each part is numbered "
        "to the procedure it comes from. Each question is answered on its own, so say who is involved and what happened; "
        "once a question needs the emergency guidance, it stays with every later answer. Your questions are not stored."
    )
persona_switch("ask")

kb = get_kb()
if kb is not None:
    with st.container(key="ask_box"):  # inside a container, the box stays here instead of at the page's foot
        st.chat_input("Type your question here", key="ask_input", on_submit=queue_typed_question)
    answer_pending(kb)
    history = st.session_state.get(HISTORY, [])
    if not history:
        st.markdown("For example:")
        for n, example in enumerate(EXAMPLES):
            st.button(example, key=f"ask_example_{n}", on_click=queue_question, args=(example,), icon=":material/chat_bubble_outline:")
    for i in reversed(range(len(history))):
        if i == len(history) - 2:
            st.header("Earlier in this conversation")
        show_turn(i, history[i], kb)
    if history:
        st.button("Clear this conversation", key="ask_clear", on_click=clear_history, icon=":material/delete_sweep:")

footer()
