"""The decision record of a walk, as Markdown and as print-friendly HTML, generated for download.

It holds the path taken (each question, the answer chosen and the cited text with its document
version), the outcome, the time, and the worker's own notes under the three Signs of Safety
questions. It names no child unless the worker types a name into the notes. Nothing is stored.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping
from dataclasses import dataclass

from kb.contacts import Contact
from kb.flows.engine import State, current
from kb.flows.model import Cite, Flow

NOTES_HEADINGS = ("What are we worried about?", "What is working well?", "What needs to happen next?")


@dataclass(frozen=True)
class CitedText:
    title: str
    section: str
    version: str
    last_reviewed: str
    source_url: str
    text: str


def cited_text(cite: Cite, sections: Mapping) -> CitedText | None:
    p = sections.get(cite.section)
    if p is None:
        return None
    return CitedText(p.title, p.section, p.version, p.last_reviewed, p.source_url, cite.quote or p.text)


def record_markdown(flows: Mapping[str, Flow], state: State, sections: Mapping, contacts: Mapping[str, Contact], notes: Mapping[str, str] | None = None, when: dt.datetime | None = None) -> str:
    when = when or dt.datetime.now(dt.UTC)
    notes = notes or {}
    start_flow = flows[state.flow_id]
    node = current(flows, state)
    lines = [
        f"# Decision record: {start_flow.title}",
        "",
        f"Generated {when.strftime('%Y-%m-%d %H:%M %Z')}. This record is generated for you to keep; the assistant does not store it.",
        "Procedure texts are quoted from an illustrative edition; check the partnership's official procedures.",
        "",
        "## Path taken",
        "",
    ]
    for i, step in enumerate(state.path, start=1):
        q = flows[step.flow_id].node(step.node_id)
        lines += [f"{i}. **{q.question}**", f"   Answer: {step.choice}"]
        lines += [f"   {line}" for line in _cite_lines(q.cites, sections)]
    lines += ["", f"## Outcome: {node.outcome or node.question}", ""]
    if node.is_outcome:
        lines += [f"Protocol: {node.protocol}", f"Timescale: {node.timescale}", "", "What to do:", ""]
        lines += [f"{i}. {a}" for i, a in enumerate(node.actions, start=1)]
        if node.contacts:
            lines += ["", "Who to contact:", ""]
            for cid in node.contacts:
                c = contacts.get(cid)
                if c:
                    verified = f"verified {c.last_verified}" if c.last_verified else "not verified"
                    lines.append(f"- {c.who}: {c.reach()}. Hours: {c.hours or 'not stated'} ({verified}; source {c.source_url})")
        if node.record:
            lines += ["", "What to record:", ""] + [f"- {r}" for r in node.record]
        lines += ["", "Sources:", ""] + _cite_lines(node.cites, sections)
    lines += ["", "## Your notes (Signs of Safety)", ""]
    for heading in NOTES_HEADINGS:
        lines += [f"### {heading}", "", notes.get(heading, "").strip() or "_(not filled in)_", ""]
    return "\n".join(lines).rstrip() + "\n"


def _cite_lines(cites, sections: Mapping) -> list[str]:
    out = []
    for cite in cites:
        c = cited_text(cite, sections)
        if c is None:
            out.append(f"- Source {cite.section}: not in the current index")
            continue
        quote = " ".join(c.text.split())
        if len(quote) > 400:
            quote = quote[:400].rsplit(" ", 1)[0] + " ..."
        out.append(f'- {c.title}, "{c.section}" (version {c.version}, reviewed {c.last_reviewed or "not stated"}): "{quote}"')
    return out


def record_html(markdown_text: str) -> str:
    """A print-friendly page of the Markdown record; every piece of text is escaped."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).render(markdown_text)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Decision record</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;line-height:1.45;color:#111}"
        "h1{font-size:1.5rem}h2{font-size:1.2rem;border-bottom:1px solid #999}h3{font-size:1rem}"
        "@media print{body{margin:0}a{color:#000}}</style></head><body>" + body + "</body></html>"
    )


def escape(text: str) -> str:
    return html.escape(text)
