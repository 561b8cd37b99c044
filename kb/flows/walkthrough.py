"""What `kb flows walk` and the app show of a walk: the node reached, the path, and an outcome's details."""

from __future__ import annotations

from kb.flows import engine


def describe_walk(service, flow_id: str, choices: list[str]) -> dict:
    flows = service.flows
    state = engine.walk(flows, flow_id, choices)
    node = engine.current(flows, state)
    sections = _sections_or_empty(service)
    path = [
        {"flow": s.flow_id, "node": s.node_id, "question": flows[s.flow_id].node(s.node_id).question, "choice": s.choice, "carried": s.carried}
        for s in state.path
    ]
    return {"flow": flow_id, "at_flow": state.at_flow, "node": describe_node(node, service.contacts, sections), "path": path}


def describe_node(node, contacts, sections) -> dict:
    cites = []
    for c in node.cites:
        p = sections.get(c.section)
        cites.append({
            "section_id": c.section,
            "quote": c.quote,
            "title": p.title if p else None,
            "section": p.section if p else None,
            "version": p.version if p else None,
            "source_url": p.source_url if p else None,
            "passage": p.text if p else None,
        })
    if node.is_outcome:
        return {
            "type": "outcome",
            "id": node.id,
            "outcome": node.outcome,
            "protocol": node.protocol,
            "timescale": node.timescale,
            "actions": list(node.actions),
            "record": list(node.record),
            "contacts": [
                {"id": cid, "who": contacts[cid].who, "reach": contacts[cid].reach(), "hours": contacts[cid].hours, "last_verified": contacts[cid].last_verified, "source_url": contacts[cid].source_url}
                for cid in node.contacts
                if cid in contacts
            ],
            "citations": cites,
        }
    return {"type": "question", "id": node.id, "question": node.question, "help": node.help, "options": [o.label for o in node.options], "citations": cites}


def _sections_or_empty(service) -> dict:
    if not service.has_index():
        return {}
    return service.sections()
