"""The typed model of a flow, read from YAML. `yes` and `no` stay text; nothing is evaluated."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kb.errors import FlowError

ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class _FlowYamlLoader(yaml.SafeLoader):
    """SafeLoader in which only `true`/`false` are booleans: an option labelled Yes stays 'Yes'."""


_FlowYamlLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_FlowYamlLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|false|False)$"), list("tTfF"))


@dataclass(frozen=True)
class Cite:
    section: str  # doc-id#section-slug
    quote: str = ""

    @property
    def doc_id(self) -> str:
        return self.section.split("#", 1)[0]


ROLES = ("volunteer", "professional", "public", "child")  # who is walking a flow (a node that `asks: role`)


@dataclass(frozen=True)
class Option:
    label: str
    next: str = ""  # a node in the same flow
    goto: str = ""  # flow-id#node-id in another flow
    roles: tuple[str, ...] = ()  # on a node that asks who the user is: the roles this answer means


@dataclass(frozen=True)
class Node:
    id: str
    cites: tuple[Cite, ...] = ()
    # a question
    question: str = ""
    help: str = ""
    options: tuple[Option, ...] = ()
    safety_first: bool = False
    asks: str = ""  # "role": who the user is; asked once in a walk, then answered from the earlier answer
    # an outcome
    outcome: str = ""
    protocol: str = ""
    actions: tuple[str, ...] = ()
    timescale: str = ""
    contacts: tuple[str, ...] = ()
    record: tuple[str, ...] = ()

    @property
    def is_outcome(self) -> bool:
        return bool(self.outcome)

    def option(self, label: str) -> Option:
        for opt in self.options:
            if opt.label == label:
                return opt
        valid = "; ".join(repr(o.label) for o in self.options)
        raise FlowError(f"{label!r} is not an answer to {self.question!r}; choose one of: {valid}")


@dataclass(frozen=True)
class Flow:
    id: str
    title: str
    description: str
    start: str
    nodes: dict[str, Node] = field(default_factory=dict)
    path: str = ""

    def node(self, node_id: str) -> Node:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise FlowError(f"flow {self.id!r} has no node {node_id!r}") from None

    def cited_sections(self) -> set[str]:
        return {c.section for n in self.nodes.values() for c in n.cites}


def load_flow_file(path: Path) -> Flow:
    """Read one YAML file into a `Flow`; structural problems raise `FlowError` naming the file."""
    name = Path(path).name
    try:
        data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_FlowYamlLoader)
    except (OSError, UnicodeDecodeError) as exc:
        raise FlowError(f"{name}: cannot read the file ({exc})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        raise FlowError(f"{where}: malformed YAML: {getattr(exc, 'problem', None) or exc}") from exc
    return flow_from_data(data, name)


def flow_from_data(data: object, name: str) -> Flow:
    if not isinstance(data, dict):
        raise FlowError(f"{name}: a flow file must be a mapping with id, title, start and nodes")
    for key in ("id", "title", "start", "nodes"):
        if key not in data:
            raise FlowError(f"{name}: missing {key!r} (a flow needs id, title, start and nodes)")
    if not isinstance(data["nodes"], dict) or not data["nodes"]:
        raise FlowError(f"{name}: 'nodes' must map node ids to nodes")
    nodes = {str(node_id): _node(str(node_id), raw, name) for node_id, raw in data["nodes"].items()}
    return Flow(
        id=str(data["id"]),
        title=str(data["title"]),
        description=str(data.get("description") or ""),
        start=str(data["start"]),
        nodes=nodes,
        path=name,
    )


def _node(node_id: str, raw: object, name: str) -> Node:
    where = f"{name}: node {node_id!r}"
    if not isinstance(raw, dict):
        raise FlowError(f"{where} must be a mapping (question with options, or outcome)")
    cites = []
    for c in raw.get("cites") or []:
        if isinstance(c, str):
            cites.append(Cite(c))
        elif isinstance(c, dict) and isinstance(c.get("section"), str):
            cites.append(Cite(c["section"], str(c.get("quote") or "")))
        else:
            raise FlowError(f"{where}: each citation needs a 'section' (doc-id#section-slug)")
    options = []
    for o in raw.get("options") or []:
        if not isinstance(o, dict) or "label" not in o:
            raise FlowError(f"{where}: each option needs a 'label' and 'next' or 'goto'")
        if not isinstance(o["label"], str):
            raise FlowError(f"{where}: option label {o['label']!r} must be quoted text")
        roles = o.get("roles") or []
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise FlowError(f"{where}: option {o['label']!r}: 'roles' must be a list of roles ({', '.join(ROLES)})")
        options.append(Option(label=o["label"], next=str(o.get("next") or ""), goto=str(o.get("goto") or ""), roles=tuple(roles)))
    return Node(
        id=node_id,
        cites=tuple(cites),
        question=str(raw.get("question") or ""),
        help=str(raw.get("help") or ""),
        options=tuple(options),
        safety_first=raw.get("safety_first") is True,
        asks=str(raw.get("asks") or ""),
        outcome=str(raw.get("outcome") or ""),
        protocol=str(raw.get("protocol") or ""),
        actions=tuple(str(a) for a in raw.get("actions") or ()),
        timescale=str(raw.get("timescale") or ""),
        contacts=tuple(str(c) for c in raw.get("contacts") or ()),
        record=tuple(str(r) for r in raw.get("record") or ()),
    )
