"""The shipped flows, loaded together, with the look-ups the rest of the service needs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from kb.config import PROJECT_ROOT
from kb.errors import FlowError
from kb.flows.model import Flow, load_flow_file
from kb.flows.validate import Problem, check_flows
from kb.index.documents import FLOWS_DIR

SHIPPED_DIR = PROJECT_ROOT / "corpus" / FLOWS_DIR


def flows_dir(corpus_dir: Path) -> Path:
    """The corpus's own flows folder, or the shipped one when the corpus has none."""
    own = Path(corpus_dir) / FLOWS_DIR
    return own if own.is_dir() else SHIPPED_DIR


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
        """The shipped flows (corpus/flows/)."""
        return cls.load_dir(SHIPPED_DIR)

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

    def valid(self, sections: Mapping[str, str] | None, contact_ids: set[str] | None) -> tuple[FlowLibrary, list[Problem]]:
        """The flows that can be served, and every problem of the others. A flow with a problem
        is left out, and so is a flow whose options lead into one that is left out."""
        problems = self.check(sections, contact_ids)
        bad_files = {p.file for p in problems}
        flows = {fid: f for fid, f in self._flows.items() if Path(f.path).name not in bad_files}
        while True:
            leads_out = {
                fid
                for fid, flow in flows.items()
                for node in flow.nodes.values()
                for option in node.options
                if option.goto and option.goto.split("#", 1)[0] not in flows
            }
            if not leads_out:
                break
            for fid in sorted(leads_out):
                problems.append(Problem(Path(flows[fid].path).name, "", "not served: one of its options leads into a flow that is not served"))
                del flows[fid]
        return FlowLibrary(flows), problems

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
