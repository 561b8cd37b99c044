"""Checking flows as a whole: graph shape, cross-flow jumps, citations and contacts.

Every problem is listed at once, each naming its file and node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kb.flows.model import ID, ROLES, Flow


@dataclass(frozen=True)
class Problem:
    file: str
    node: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: node {self.node!r}" if self.node else self.file
        return f"{where}: {self.message}"


def check_flows(flows: Mapping[str, Flow], sections: Mapping[str, str] | None = None, contact_ids: set[str] | None = None) -> list[Problem]:
    """All problems in `flows`. `sections` maps section id to its text in the current index;
    `contact_ids` are the ids in contacts.yaml. Either may be None to skip those checks."""
    problems: list[Problem] = []
    for flow in flows.values():
        problems += _check_graph(flow, flows)
        if sections is not None:
            problems += _check_cites(flow, sections)
        if contact_ids is not None:
            problems += _check_contacts(flow, contact_ids)
    return problems


def _check_graph(flow: Flow, flows: Mapping[str, Flow]) -> list[Problem]:
    out: list[Problem] = []
    f = flow.path or f"{flow.id}.yaml"

    def add(node: str, msg: str) -> None:
        out.append(Problem(f, node, msg))

    if not ID.match(flow.id):
        add("", f"flow id {flow.id!r} is not valid: use lower-case letters, digits and hyphens")
    if flow.start not in flow.nodes:
        add("", f"start node {flow.start!r} does not exist (nodes: {', '.join(sorted(flow.nodes))})")
    elif not flow.nodes[flow.start].safety_first:
        add(flow.start, "the start node must be the immediate-danger question (mark it safety_first: true)")
    for node in flow.nodes.values():
        if node.asks and node.asks != "role":
            add(node.id, f"asks: {node.asks!r} is not known; the only value is 'role' (who the user is)")
        if node.asks == "role":
            for o in node.options:
                bad = [r for r in o.roles if r not in ROLES]
                if not o.roles or bad:
                    add(node.id, f"option {o.label!r}: a node that asks who the user is needs 'roles' on every option, from {', '.join(ROLES)}")
        elif any(o.roles for o in node.options):
            add(node.id, "options have 'roles' but the node does not say 'asks: role'")
    for node in flow.nodes.values():
        if node.safety_first and node.id != flow.start:
            add(node.id, f"only the start node may be safety_first (start is {flow.start!r})")
        if node.is_outcome and node.question:
            add(node.id, "a node is either a question or an outcome, not both")
        elif node.is_outcome:
            if node.options:
                add(node.id, "an outcome has no options")
            for required in ("protocol", "timescale"):
                if not getattr(node, required):
                    add(node.id, f"outcome has no {required}")
            if not node.actions:
                add(node.id, "outcome has no actions")
        elif node.question:
            if len(node.options) < 2:
                add(node.id, f"dead end: a question needs at least two options, it has {len(node.options)}")
            labels = [o.label for o in node.options]
            for label in {lbl for lbl in labels if labels.count(lbl) > 1}:
                add(node.id, f"option label {label!r} is used twice")
            for opt in node.options:
                if bool(opt.next) == bool(opt.goto):
                    add(node.id, f"option {opt.label!r} needs exactly one of next or goto")
                elif opt.next and opt.next not in flow.nodes:
                    add(node.id, f"option {opt.label!r} leads to unknown node {opt.next!r}")
                elif opt.goto:
                    target_flow, _, target_node = opt.goto.partition("#")
                    target = flows.get(target_flow)
                    if target is None:
                        add(node.id, f"option {opt.label!r} goes to unknown flow {target_flow!r}")
                    elif (target_node or target.start) not in target.nodes:
                        add(node.id, f"option {opt.label!r} goes to unknown node {target_node!r} in flow {target_flow!r}")
        else:
            add(node.id, "dead end: the node has neither a question with options nor an outcome")
        if not node.cites:
            add(node.id, "cites no procedure section (every step shows its source)")
    if flow.start in flow.nodes:
        reachable = _reachable(flow)
        for node_id in flow.nodes:
            if node_id not in reachable:
                add(node_id, f"unreachable from the start node {flow.start!r}")
        exits = _can_exit(flow)
        for node_id in reachable:
            if node_id not in exits:
                add(node_id, "no path from here reaches an outcome (a dead end or a cycle without an exit)")
    return out


def _edges(flow: Flow, node_id: str) -> list[str]:
    node = flow.nodes.get(node_id)
    return [o.next for o in node.options if o.next and o.next in flow.nodes] if node else []


def _reachable(flow: Flow) -> set[str]:
    seen, todo = set(), [flow.start]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(_edges(flow, n))
    return seen


def _can_exit(flow: Flow) -> set[str]:
    """Nodes from which an outcome (or a jump to another flow) can be reached."""
    good = {n.id for n in flow.nodes.values() if n.is_outcome or any(o.goto for o in n.options)}
    changed = True
    while changed:
        changed = False
        for node_id in flow.nodes:
            if node_id not in good and any(t in good for t in _edges(flow, node_id)):
                good.add(node_id)
                changed = True
    return good


def _check_cites(flow: Flow, sections: Mapping[str, str]) -> list[Problem]:
    out = []
    for node in flow.nodes.values():
        for cite in node.cites:
            text = sections.get(cite.section)
            if text is None:
                out.append(Problem(flow.path, node.id, f"cites section {cite.section!r}, which is not in the current index"))
            elif cite.quote and " ".join(cite.quote.split()) not in " ".join(text.split()):
                out.append(Problem(flow.path, node.id, f"quote {cite.quote[:60]!r} is no longer found in section {cite.section!r}"))
    return out


def _check_contacts(flow: Flow, contact_ids: set[str]) -> list[Problem]:
    return [
        Problem(flow.path, node.id, f"unknown contact id {cid!r} (known: {', '.join(sorted(contact_ids))})")
        for node in flow.nodes.values()
        for cid in node.contacts
        if cid not in contact_ids
    ]
