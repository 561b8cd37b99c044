"""Scoring a question set: retrieval recall@5 (hybrid and both baselines), must-fact coverage,
refusals of out-of-scope questions, verbatim quotes, and answer latency."""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path

import yaml

from kb.errors import KBError

REFUSED = ("out_of_scope", "not_found")


def load_items(path: Path) -> list[dict]:
    try:
        items = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise KBError(f"{path}: malformed YAML: {exc}") from exc
    if not isinstance(items, list):
        raise KBError(f"{path}: expected a list of items with id, question, must (or expect: refuse_or_no_answer)")
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict) or not item.get("id") or not item.get("question"):
            raise KBError(f"{path}: item {i} needs an id and a question")
        for pattern in item.get("must") or []:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise KBError(f"{path}: item {item['id']}: must pattern {pattern!r} is not a valid regex ({exc})") from exc
    return items


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def evaluate_file(service, path: Path, baselines: bool = True) -> dict:
    items = load_items(path)
    modes = ("hybrid", "lexical", "dense") if baselines else ("hybrid",)
    recall_hits = {m: 0 for m in modes}
    recall_total = 0
    must_ok = in_scope = refused_ok = out_scope = answered = 0
    quotes_total = quotes_verbatim = 0
    latencies: list[float] = []
    failures: list[dict] = []
    service.ask("warm up the model")
    for item in items:
        started = time.perf_counter()
        answer = service.ask(item["question"], persona=item.get("persona", "volunteer"))
        latencies.append((time.perf_counter() - started) * 1000)
        for c in answer.citations:
            quotes_total += 1
            quotes_verbatim += c.quote in c.passage
        if item.get("expect") == "refuse_or_no_answer":
            out_scope += 1
            if answer.status in REFUSED:
                refused_ok += 1
            else:
                failures.append({"id": item["id"], "problem": f"not refused ({answer.status})", "answer": answer.answer[:160]})
            continue
        in_scope += 1
        answered += answer.status == "answered"
        # What the user reads: the emergency box (when shown), the answer, and the cited passages.
        safety = answer.safety["message"] if answer.safety else ""
        text = safety + "\n" + answer.answer + "\n" + "\n".join(c.passage for c in answer.citations)
        missing = [m for m in item.get("must") or [] if not re.search(m, text)]
        if not missing:
            must_ok += 1
        else:
            failures.append({"id": item["id"], "problem": f"missing {missing} ({answer.status})", "answer": answer.answer[:160]})
        sections = set(item.get("sections") or [])
        if sections:
            recall_total += 1
            for mode in modes:
                hits = service.search(item["question"], top_k=5, mode=mode)
                if any(h.section_id in sections for h in hits):
                    recall_hits[mode] += 1
                elif mode == "hybrid":
                    failures.append({"id": item["id"], "problem": "right section not in top 5", "answer": ", ".join(h.section_id for h in hits[:3])})
    summary = {
        "items": len(items),
        "in_scope": in_scope,
        "out_of_scope": out_scope,
        "recall_at_5": {m: round(recall_hits[m] / recall_total, 3) if recall_total else None for m in modes},
        "must_coverage": round(must_ok / in_scope, 3) if in_scope else None,
        "answered_share": round(answered / in_scope, 3) if in_scope else None,
        "out_of_scope_refused": round(refused_ok / out_scope, 3) if out_scope else None,
        "quotes_verbatim": round(quotes_verbatim / quotes_total, 3) if quotes_total else None,
        "latency_ms": {"median": round(statistics.median(latencies), 1), "p95": round(percentile(latencies, 95), 1)},
    }
    return {"summary": summary, "failures": failures}


def format_report(report: dict) -> str:
    s = report["summary"]
    lines = [
        f"Items: {s['items']} ({s['in_scope']} in scope, {s['out_of_scope']} out of scope)",
        "Recall@5 of the right section: " + ", ".join(f"{m} {v:.1%}" for m, v in s["recall_at_5"].items() if v is not None),
        f"Answers containing every must fact: {s['must_coverage']:.1%}" if s["must_coverage"] is not None else "",
        f"In-scope questions answered: {s['answered_share']:.1%}" if s["answered_share"] is not None else "",
        f"Out-of-scope questions refused: {s['out_of_scope_refused']:.1%}" if s["out_of_scope_refused"] is not None else "",
        f"Quotes found verbatim in their passage: {s['quotes_verbatim']:.1%}" if s["quotes_verbatim"] is not None else "",
        f"Answer latency: median {s['latency_ms']['median']} ms, p95 {s['latency_ms']['p95']} ms",
    ]
    if report["failures"]:
        lines.append("")
        lines.append("Misses:")
        lines += [f"  {f['id']}: {f['problem']} — {f['answer']}" for f in report["failures"]]
    return "\n".join(line for line in lines if line is not None)
