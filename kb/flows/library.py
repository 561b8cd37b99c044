"""The shipped flows, loaded together, with the look-ups the rest of the service needs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from kb.errors import FlowError
from kb.flows.model import Flow, load_flow_file
from kb.flows.validate import Problem, check_flows

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"


class FlowLibrary(Mapping[str, Flow]):
    def __init__(self, flows: dict[str, Flow], load_problems: list[Problem] | None = None):
        self._flows = flows
        self.load_problems = load_problems or []

    @classmethod
    def load_dir(cls, directory: Path) -> FlowLibrary:
        flows: dict[str, Flow] = {}
        problems: list[Problem] = []
        for path in sorted(Path(directory).glob("*.yaml")):
            try:
                flow = load_flow_file(path)
            except FlowError as exc:
                problems.append(Problem(path.name, "", str(exc).split(": ", 1)[-1]))
                continue
            if flow.id in flows:
                problems.append(Problem(path.name, "", f"duplicate flow id {flow.id!r} (also in {flows[flow.id].path})"))
                continue
            if path.stem != flow.id:
                problems.append(Problem(path.name, "", f"file name should match the flow id: {flow.id}.yaml"))
            flows[flow.id] = flow
        return cls(flows, problems)

    @classmethod
    def load_default(cls) -> FlowLibrary:
        return cls.load_dir(DEFINITIONS_DIR)

    def __getitem__(self, key: str) -> Flow:
        return self._flows[key]

    def __iter__(self):
        return iter(self._flows)

    def __len__(self) -> int:
        return len(self._flows)

    def ids(self) -> list[str]:
        return list(self._flows)

    def check(self, sections: Mapping[str, str] | None, contact_ids: set[str] | None) -> list[Problem]:
        return self.load_problems + check_flows(self._flows, sections, contact_ids)

    def flows_for_doc(self) -> dict[str, list[str]]:
        """doc id -> flows citing it, the flow citing it most first (to suggest flows next to answers)."""
        counts: dict[str, dict[str, int]] = {}
        for flow in self._flows.values():
            for node in flow.nodes.values():
                for cite in node.cites:
                    per_doc = counts.setdefault(cite.doc_id, {})
                    per_doc[flow.id] = per_doc.get(flow.id, 0) + 1
        return {doc: sorted(per, key=lambda f: -per[f]) for doc, per in counts.items()}

    def affected_by(self, changed_sections: set[str], removed_sections: set[str]) -> list[dict]:
        """Flow nodes whose cited sections changed or disappeared in a re-index."""
        out = []
        for flow in self._flows.values():
            for node in flow.nodes.values():
                for cite in node.cites:
                    if cite.section in removed_sections or cite.section in changed_sections:
                        out.append({
                            "flow": flow.id,
                            "node": node.id,
                            "section": cite.section,
                            "change": "removed" if cite.section in removed_sections else "changed",
                            "quote": cite.quote,
                        })
        return out
