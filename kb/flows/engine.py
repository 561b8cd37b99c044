"""A pure engine: a state is where a walk started and the path of (flow, node, choice) taken.

`step`, `back` and `restart` return new states; nothing here does I/O or knows about Streamlit.
Who the user is (a node that `asks: role`) is asked once in a walk: a later node that asks it
again, in this flow or one the walk moves into, is answered from the earlier answer (a step marked
`carried`), unless the earlier answer does not settle it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kb.errors import FlowError
from kb.flows.model import Flow, Node


@dataclass(frozen=True)
class Step:
    flow_id: str
    node_id: str
    choice: str
    carried: bool = False  # answered from an earlier answer (who the user is), not asked


@dataclass(frozen=True)
class State:
    flow_id: str  # the flow the walk started in
    path: tuple[Step, ...] = ()
    at_flow: str = ""  # where the walk is now
    at_node: str = ""


def start(flows: Mapping[str, Flow], flow_id: str) -> State:
    flow = _flow(flows, flow_id)
    return State(flow_id=flow_id, at_flow=flow_id, at_node=flow.start)


def current(flows: Mapping[str, Flow], state: State) -> Node:
    return _flow(flows, state.at_flow).node(state.at_node)


def is_finished(flows: Mapping[str, Flow], state: State) -> bool:
    return current(flows, state).is_outcome


def step(flows: Mapping[str, Flow], state: State, choice: str) -> State:
    node = current(flows, state)
    if node.is_outcome:
        raise FlowError(f"the walk has reached the outcome {node.outcome!r}; go back or restart to change an answer")
    option = node.option(choice)
    if option.goto:
        target_flow, _, target_node = option.goto.partition("#")
        next_flow, next_node = target_flow, target_node or _flow(flows, target_flow).start
    else:
        next_flow, next_node = state.at_flow, option.next
    _flow(flows, next_flow).node(next_node)
    return _carry_role(flows, State(state.flow_id, state.path + (Step(state.at_flow, state.at_node, choice),), next_flow, next_node))


def known_roles(flows: Mapping[str, Flow], state: State) -> tuple[str, ...]:
    """Who the user said they are, as narrowly as their answers so far settle it (or ())."""
    roles: tuple[str, ...] = ()
    for s in state.path:
        node = _flow(flows, s.flow_id).node(s.node_id)
        if node.asks == "role":
            chosen = node.option(s.choice).roles
            roles = tuple(r for r in roles if r in chosen) or chosen if roles else chosen
    return roles


def _carry_role(flows: Mapping[str, Flow], state: State) -> State:
    node = current(flows, state)
    known = known_roles(flows, state)
    if node.asks != "role" or not known:
        return state
    fitting = [o for o in node.options if set(o.roles) & set(known)]
    if len(fitting) != 1:
        return state  # the earlier answer does not settle this question: ask it
    stepped = step(flows, state, fitting[0].label)
    carried = stepped.path[len(state.path)]
    path = stepped.path[: len(state.path)] + (Step(carried.flow_id, carried.node_id, carried.choice, carried=True),) + stepped.path[len(state.path) + 1 :]
    return State(stepped.flow_id, path, stepped.at_flow, stepped.at_node)


def back(flows: Mapping[str, Flow], state: State) -> State:
    """To the last question the user answered (an answer carried from an earlier one is undone with it)."""
    path = list(state.path)
    while path and path[-1].carried:
        path.pop()
    if not path:
        return start(flows, state.flow_id)
    last = path.pop()
    return State(state.flow_id, tuple(path), last.flow_id, last.node_id)


def restart(flows: Mapping[str, Flow], state: State) -> State:
    return start(flows, state.flow_id)


def walk(flows: Mapping[str, Flow], flow_id: str, choices: list[str]) -> State:
    state = start(flows, flow_id)
    for choice in choices:
        state = step(flows, state, choice)
    return state


def progress(flows: Mapping[str, Flow], state: State) -> tuple[int, int]:
    """(questions answered, answered plus the most still to come on the longest path from here)."""
    flow = _flow(flows, state.at_flow)
    asked = sum(not s.carried for s in state.path)
    return asked, asked + _longest_to_outcome(flow, state.at_node, set())


def _longest_to_outcome(flow: Flow, node_id: str, seen: set[str]) -> int:
    node = flow.nodes.get(node_id)
    if node is None or node.is_outcome or node_id in seen:
        return 0
    seen = seen | {node_id}
    lengths = [1 + _longest_to_outcome(flow, o.next, seen) for o in node.options if o.next] or [1]
    lengths += [2 for o in node.options if o.goto]
    return max(lengths)


def _flow(flows: Mapping[str, Flow], flow_id: str) -> Flow:
    try:
        return flows[flow_id]
    except KeyError:
        raise FlowError(f"unknown flow {flow_id!r}; known flows: {', '.join(sorted(flows))}") from None
