"""Scoring a question set: retrieval recall@5 (hybrid and both baselines), must-fact coverage,
refusals of out-of-scope questions, verbatim quotes, and answer latency."""

from __future__ import annotations

import json
import re
import statistics
import time
from pathlib import Path

import yaml

from kb.errors import KBError
from kb.text import split_sentences

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


def _shown_sections(answer) -> list[str]:
    """Sections in the order the asker sees them: quoted, then offered as choices, then "See also"."""
    out: list[str] = []
    for sid in [c.section_id for c in answer.citations] + [x.section_id for x in answer.choices] + [x.section_id for x in answer.see_also]:
        if sid not in out:
            out.append(sid)
    return out


def _read_by_user(answer) -> str:
    """What the user reads: the emergency box, the first step, the answer and the cited passages."""
    safety = answer.safety.message if answer.safety else ""
    return "\n".join([safety, answer.advice, answer.answer, *(c.passage for c in answer.citations)])


def evaluate_file(service, path: Path, baselines: bool = True, answers_out: Path | None = None) -> dict:
    """Score a question set. `answers_out`: write every answer as the user sees it (JSON lines), for a judge."""
    items = load_items(path)
    modes = ("hybrid", "lexical", "dense") if baselines else ("hybrid",)
    recall_hits = {m: 0 for m in modes}
    gold_total = top1 = top3 = 0
    must_ok = in_scope = refused_ok = out_scope = answered = wrong_refusals = 0
    quotes_total = quotes_verbatim = sentences_total = sentences_gold = duplicate_citations = uncited = 0
    latencies: list[float] = []
    failures: list[dict] = []
    written: list[dict] = []
    service.ask("warm up the model")
    for item in items:
        started = time.perf_counter()
        answer = service.ask(item["question"], persona=item.get("persona_role", "volunteer"))
        latencies.append((time.perf_counter() - started) * 1000)
        cited = [c.section_id for c in answer.citations]
        duplicate_citations += len(cited) != len(set(cited))
        uncited += answer.status == "answered" and not answer.citations
        for c in answer.citations:
            for quote in c.quotes or [c.quote]:
                quotes_total += 1
                quotes_verbatim += quote in c.passage
        if answers_out is not None:
            written.append({"id": item["id"], **answer.as_dict()})
        if item.get("expect") == "refuse_or_no_answer":
            out_scope += 1
            if answer.status in REFUSED:
                refused_ok += 1
            else:
                failures.append({"id": item["id"], "problem": f"not refused ({answer.status})", "answer": answer.answer[:160]})
            continue
        in_scope += 1
        answered += answer.status == "answered"
        missing = [m for m in item.get("must") or [] if not re.search(m, _read_by_user(answer))]
        if not missing:
            must_ok += 1
        else:
            failures.append({"id": item["id"], "problem": f"missing {missing} ({answer.status})", "answer": answer.answer[:160]})
        sections = set(item.get("sections") or [])
        if not sections:
            continue
        gold_total += 1
        wrong_refusals += answer.status in REFUSED
        shown = _shown_sections(answer)
        top1 += bool(shown[:1]) and shown[0] in sections
        top3 += any(sid in sections for sid in shown[:3])
        if shown[:1] and shown[0] not in sections:
            failures.append({"id": item["id"], "problem": f"top section {shown[0]} is not gold ({', '.join(sorted(sections))})", "answer": answer.answering})
        for c in answer.citations:
            n = sum(len(split_sentences(q)) for q in c.quotes or [c.quote])
            sentences_total += n
            sentences_gold += n if c.section_id in sections else 0
        for mode in modes:
            hits = service.search(item["question"], top_k=5, mode=mode)
            recall_hits[mode] += any(h.section_id in sections for h in hits)
    if answers_out is not None:
        Path(answers_out).write_text("".join(json.dumps(w, ensure_ascii=False) + "\n" for w in written), encoding="utf-8")

    def share(a: int, b: int) -> float | None:
        return round(a / b, 3) if b else None

    summary = {
        "items": len(items),
        "in_scope": in_scope,
        "out_of_scope": out_scope,
        "with_gold_sections": gold_total,
        "top1_section": share(top1, gold_total),
        "top3_section": share(top3, gold_total),
        "recall_at_5": {m: share(recall_hits[m], gold_total) for m in modes},
        "must_coverage": share(must_ok, in_scope),
        "answered_share": share(answered, in_scope),
        "quoted_sentences_from_gold": share(sentences_gold, sentences_total),
        "out_of_scope_refused": share(refused_ok, out_scope),
        "in_scope_wrongly_refused": share(wrong_refusals, gold_total),
        "quotes_verbatim": share(quotes_verbatim, quotes_total),
        "answers_with_duplicate_citations": duplicate_citations,
        "answers_without_citation": uncited,
        "latency_ms": {"median": round(statistics.median(latencies), 1), "p95": round(percentile(latencies, 95), 1)},
    }
    return {"summary": summary, "failures": failures}


def format_report(report: dict) -> str:
    s = report["summary"]
    lines = [
        f"Items: {s['items']} ({s['in_scope']} in scope, {s['out_of_scope']} out of scope)",
        f"Top section is a gold section: {s['top1_section']:.1%}; a gold section among the first 3 shown: {s['top3_section']:.1%}" if s["top1_section"] is not None else "",
        "Recall@5 of the right section (chunk search): " + ", ".join(f"{m} {v:.1%}" for m, v in s["recall_at_5"].items() if v is not None),
        f"Quoted sentences from a gold section: {s['quoted_sentences_from_gold']:.1%}" if s["quoted_sentences_from_gold"] is not None else "",
        f"In-scope questions (with a gold section) refused: {s['in_scope_wrongly_refused']:.1%}" if s["in_scope_wrongly_refused"] is not None else "",
        f"Answers with a duplicate citation: {s['answers_with_duplicate_citations']}; answered without a citation: {s['answers_without_citation']}",
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
