"""Extractive answers: sentences quoted verbatim from retrieved passages, each with a citation.

No language model. The composer retrieves passages (hybrid search with glossary expansion),
picks the few sentences that best cover the question, keeps them in reading order and cites
each. Questions the corpus does not answer get `not_found`; questions outside safeguarding get
`out_of_scope`; danger cues put the emergency guidance in `safety` whatever the status.
"""

from __future__ import annotations

import math
import re
import threading
import time
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field

from kb.contacts import Contact
from kb.errors import QuestionError
from kb.glossary import Glossary, GlossaryEntry
from kb.index.searcher import Passage, Searcher
from kb.safety import EMERGENCY_CONTACT_IDS, SafetyCues, detect, normalise
from kb.text import STOPWORDS, content_words, split_sentences, words

MAX_QUESTION_CHARS = 2000
PASSAGES = 6
MAX_SENTENCES = 4
PERSONAS = ("volunteer", "professional")

# Calibrated on tests/eval/dev_questions.yaml (see `kb eval`): the best dense cosine similarity
# below which the corpus is taken not to answer the question.
NOT_FOUND_BELOW = 0.34
NOT_FOUND_WITH_CUES_BELOW = 0.25  # with a danger cue, related procedure text beats "not covered"
COVERAGE_ANSWERS = 0.6  # ...and so does a passage holding most of the question's rarer words
OUT_OF_SCOPE_BELOW = 0.22

OFF_TOPIC = re.compile(
    r"\b(?:recipes?|cook|cooking|bake|baking|cake|dinner|lasagne|football|premier league|match|scores?|fixtures?|cricket|rugby|poem|poetry|song|lyrics|limerick|story about|joke|"
    r"wi-?fi|router|laptop|computer|antivirus|virus|viruses|malware|password|passwords|phishing|firewall|bitcoin|crypto|cryptocurrency|stocks?|shares|invest|tax|taxes|tax return|mortgage|loan|pension|"
    r"translate|translation|in french|in spanish|in german|holiday|flights?|hotel|weather|car seat|pushchair|pram|homework|essay|capital of|recipe)\b"
)
DOMAIN = re.compile(
    r"\b(?:abuse|abused|abusive|neglect|neglected|harm|harmed|harming|safeguarding lead|child protection|protection plan|referral|refer|disclos\w*|social care|social worker|lado|dsl|"
    r"concern|concerned|worried|worry|bruis\w*|injur\w*|exploit\w*|fgm|mutilation|prevent|channel|radicali\w*|extremis\w*|foster\w*|conference|core group|strategy|section \d+|s\d+|"
    r"allegation\w*|consent|parents?|carer|welfare|significant|threshold|early help|thresholds?|grooming|county lines|domestic|encompass|missing|home alone|head lice|"
    r"cdop|death|died|review|csp?r|scr|lscp|partnership|somerset|escalat\w*|disagree\w*|assessment|signs of safety|safety planning|gillick|fraser|sexual|underage|toolkit|nspcc|childline)\b"
)
NUMERIC_QUESTION = re.compile(r"\b(?:how (?:long|quickly|soon|many|often|old)|when|within|timescale|deadline|what age|number|phone|call|contact)\b")
GLOSSARY_QUESTION = re.compile(
    r"^\s*(?:what|who)(?:'s|\s+is|\s+are|\s+does|\s+do)?\s+(?:an?\s+|the\s+)?(?P<term>.+?)(?:\s+(?:stand for|mean|means|do|refer to))?\s*\??\s*$|^\s*(?:define|meaning of|definition of)\s+(?:an?\s+|the\s+)?(?P<term2>.+?)\s*\??\s*$",
    re.IGNORECASE,
)


@dataclass
class Citation:
    n: int
    doc_id: str
    title: str
    section: str
    source_url: str
    version: str
    quote: str
    passage: str
    section_id: str = ""
    chunk_id: str = ""
    last_reviewed: str = ""


@dataclass
class Answer:
    question: str
    status: str
    answer: str
    citations: list[Citation] = field(default_factory=list)
    safety: dict | None = None
    flows: list[str] = field(default_factory=list)
    persona: str = "volunteer"
    advice: str = ""
    seconds: float = 0.0
    generation: str = ""  # the index generation every citation comes from

    def as_dict(self) -> dict:
        return asdict(self)


FUSION_SHARE = 1.0  # cosine and normalised fused score weigh equally (dev set: 0.15 -> 89.6%, 1.0 -> 90.3% must-fact coverage)


def applies(passage: Passage, question_words: str) -> bool:
    """False when the passage's document has a `scope` and the question uses none of its words."""
    return not passage.scope or any(f" {' '.join(words(term))} " in question_words for term in passage.scope)


def rerank(passages: list[Passage], question: str = "") -> list[Passage]:
    """Order fused passages by their cosine similarity to the question and their normalised fused
    score; passages only the lexical side found count as the least similar. Passages of documents
    whose `scope` the question does not touch (the baby-bruising procedure for a question about a
    nine-year-old) are dropped while others remain."""
    if not passages:
        return passages
    text = f" {' '.join(words(question))} "
    passages = [p for p in passages if applies(p, text)] or passages
    top = max(p.score for p in passages) or 1.0
    known = [p.dense_score for p in passages if p.dense_score is not None]
    floor = (min(known) if known else 0.0) - 0.05
    return sorted(passages, key=lambda p: -((p.dense_score if p.dense_score is not None else floor) + FUSION_SHARE * p.score / top))


def clean_question(question: str) -> str:
    """Control characters out, whitespace collapsed; empty or very long questions refused."""
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    text = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in question)
    text = " ".join(text.split())
    if not text:
        raise QuestionError("the question is empty: type a question, for example 'What should I do if a child tells me they are being hurt?'")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is {len(text):,} characters long; keep it under {MAX_QUESTION_CHARS:,} (a sentence or two works best)")
    return text


# What a worried person needs from the procedures when a danger cue is present.
CUE_QUERIES = {
    "disclosure": "child tells you disclosure listen do not promise secret tell designated safeguarding lead straight away",
    "injury": "injury bruise what should I do refer immediately children's social care designated safeguarding lead",
    "child_alone": "child left home alone at risk",
    "self_harm": "self-harm suicide immediate danger",
    "immediate_danger": "immediate danger call 999",
    "threat": "threat immediate danger call 999 police",
}

# A worry about an adult who works with children points to the allegations procedure and flow.
WORKER_CONCERN = re.compile(
    r"\b(?:coach|coaches|teacher|teachers|teaching assistant|leader|leaders|volunteer|volunteers|colleague|colleagues|staff|member of staff|tutor|childminder|nursery worker|youth worker|scout leader|instructor|carer at (?:the|our) (?:club|nursery|school))\b"
    r".{0,60}\b(?:hurt|hit|hits|touched|touches|abuse|abused|harmed|grabbed|slapped|messag\w*|inappropriate|photos?|groom\w*|kissed|threatened)\b",
)
WORKER_QUERY = "allegation against someone who works with children Local Authority Designated Officer LADO within one working day"

METADATA_LINE = re.compile(r"^(?:Also called|Now called):")


def _only_space_between(text: str, end: int, start: int) -> bool:
    return start >= end and not text[end:start].strip()


def _stem(word: str) -> str:
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


@dataclass(frozen=True)
class GenerationData:
    """What the composer derives from one index generation: its sections, glossary and word rarity."""

    name: str
    sections: dict[str, Passage]
    glossary: Glossary
    idf: dict[str, float]
    default_idf: float

    @classmethod
    def build(cls, name: str, sections: dict[str, Passage]) -> GenerationData:
        df: Counter[str] = Counter()
        raw_df: Counter[str] = Counter()
        for p in sections.values():
            found = set(content_words(p.text + " " + p.section))
            df.update({_stem(w) for w in found})
            raw_df.update(found)
        n = max(len(sections), 1)
        common = frozenset(w for w, c in raw_df.items() if c > 0.05 * n) | STOPWORDS
        return cls(name, sections, Glossary.from_sections(sections, common), {w: math.log(1 + n / c) for w, c in df.items()}, math.log(1 + n))

    def weight(self, stems: set[str]) -> float:
        return sum(self.idf.get(w, self.default_idf) for w in stems)


class AnswerComposer:
    """Answers a question from one pinned index generation: a re-index that switches generation
    while an answer is composed never mixes the two (see `Searcher.pinned`)."""

    def __init__(self, searcher: Searcher, contacts: dict[str, Contact], flows_for_doc: dict[str, list[str]] | None = None, flow_ids: set[str] | None = None):
        self.searcher = searcher
        self.contacts = contacts
        self.flows_for_doc = flows_for_doc or {}
        self.flow_ids = flow_ids
        self._data: GenerationData | None = None
        self._data_lock = threading.Lock()

    # per-generation data, rebuilt when the served generation changes

    def _data_for(self, gen) -> GenerationData:
        with self._data_lock:
            if self._data is None or self._data.name != gen.name:
                self._data = GenerationData.build(gen.name, self.searcher.sections(gen))
            return self._data

    @property
    def glossary(self) -> Glossary:
        with self.searcher.pinned() as gen:
            return self._data_for(gen).glossary

    # the answer

    def ask(self, question: str, persona: str = "volunteer", kinds: list[str] | None = None, audience: str | None = None) -> Answer:
        started = time.perf_counter()
        if persona not in PERSONAS:
            raise QuestionError(f"persona {persona!r} is not one of {', '.join(PERSONAS)}")
        text = clean_question(question)
        with self.searcher.pinned() as gen:
            answer = self._ask(text, persona, kinds, audience, gen, self._data_for(gen))
        answer.seconds = round(time.perf_counter() - started, 4)
        return answer

    def _ask(self, text: str, persona: str, kinds: list[str] | None, audience: str | None, gen, data: GenerationData) -> Answer:
        cues = detect(text)
        answer = Answer(question=text, status="answered", answer="", persona=persona, generation=gen.name)
        answer.safety = self._safety(cues)
        answer.flows = self._known_flows(cues.flows)
        answer.advice = self._advice(persona)
        lowered = text.lower()
        if not cues and OFF_TOPIC.search(lowered) and not DOMAIN.search(lowered):
            return self._refuse(answer, "out_of_scope")
        with_names = data.glossary.expand(text)
        # When a child has told someone, what to do with a disclosure matters more than the rest.
        cue_terms = ["disclosure"] if "disclosure" in cues.cues else list(cues.cues)
        expanded = with_names + "".join(f" {CUE_QUERIES[c]}" for c in cue_terms if c in CUE_QUERIES)
        worker_concern = bool(WORKER_CONCERN.search(lowered))
        if worker_concern:
            expanded += f" {WORKER_QUERY}"
            answer.flows = self._known_flows(["allegation"] + answer.flows)
        passages, dense_best = self.searcher.search_scored(with_names, top_k=PASSAGES, lexical_query=expanded, kinds=kinds, audience=audience, gen=gen)
        passages = rerank(passages, normalise(text))
        glossary_passage = self._glossary_passage(text, data) if (not kinds or "glossary" in kinds) and audience != "editor" else None
        if glossary_passage is not None:
            passages = [glossary_passage] + [p for p in passages if p.section_id != glossary_passage.section_id]
        elif dense_best < OUT_OF_SCOPE_BELOW and not DOMAIN.search(lowered) and not cues:
            return self._refuse(answer, "out_of_scope")
        elif not passages or (dense_best < (NOT_FOUND_WITH_CUES_BELOW if cues else NOT_FOUND_BELOW) and self._coverage(with_names, passages[0], data) < COVERAGE_ANSWERS):
            answer.flows = self._known_flows(answer.flows + self._flows_from(passages[:3]))
            return self._refuse(answer, "not_found")
        self._compose(answer, data, expanded, passages, numeric=bool(NUMERIC_QUESTION.search(lowered)), glossary_first=glossary_passage is not None)
        answer.flows = self._known_flows(answer.flows + self._flows_from(passages[:2]))
        return answer

    def _refuse(self, answer: Answer, status: str) -> Answer:
        answer.status = status
        if status == "out_of_scope":
            answer.answer = (
                "This assistant only answers questions about keeping children safe, from the safeguarding procedures it holds. "
                "Your question looks like it is about something else, so no procedure is quoted."
            )
            answer.flows = self._known_flows([f for f in answer.flows])
        else:
            answer.answer = (
                "The procedures held here do not answer this question. Speak to your designated safeguarding lead (DSL); "
                "if you are worried about a child, the guided flow 'I'm worried about a child' takes you to the right protocol."
            )
            answer.flows = self._known_flows(answer.flows + ["worried-about-a-child"])
        return answer

    def _coverage(self, query: str, passage: Passage, data: GenerationData) -> float:
        """Share of the question's words, weighted by rarity, that the passage and its heading contain."""
        q_stems = {_stem(w) for w in content_words(query)}
        if not q_stems:
            return 0.0
        p_stems = {_stem(w) for w in content_words(f"{passage.section} {passage.text}")}
        return data.weight(q_stems & p_stems) / data.weight(q_stems)

    def _glossary_passage(self, text: str, data: GenerationData) -> Passage | None:
        m = GLOSSARY_QUESTION.match(text)
        if not m:
            return None
        term = (m["term"] or m["term2"] or "").strip(" ?.!")
        entry: GlossaryEntry | None = data.glossary.lookup(term)
        if entry is None:
            return None
        return data.sections.get(entry.section_id)

    def _compose(self, answer: Answer, data: GenerationData, query: str, passages: list[Passage], numeric: bool, glossary_first: bool) -> None:
        q_stems = {_stem(w) for w in content_words(query)}
        q_weight = data.weight(q_stems) or 1.0
        candidates = []
        for rank, passage in enumerate(passages[:4]):
            for position, (start, end) in enumerate(split_sentences(passage.text)):
                sentence = passage.text[start:end]
                if len(sentence) < 12 or sentence.endswith(":") or METADATA_LINE.match(sentence):
                    continue
                s_stems = {_stem(w) for w in content_words(sentence)}
                coverage = data.weight(q_stems & s_stems) / q_weight
                score = coverage + 0.25 / (rank + 1) + (0.15 if position == 0 else 0.0)
                if numeric and re.search(r"\d|working day|hours?\b|weeks?\b|months?\b", sentence):
                    score += 0.15
                if glossary_first and rank == 0:
                    score += 1.0
                candidates.append((score, rank, position, (start, end), passage, s_stems))
        if not candidates:
            answer.status = "not_found"
            return
        candidates.sort(key=lambda c: -c[0])
        best = candidates[0][0]
        chosen: list[tuple] = []
        per_passage: Counter[str] = Counter()

        def take(cand: tuple, floor: float) -> None:
            score, _rank, _position, _span, passage, stems = cand
            if len(chosen) >= MAX_SENTENCES or score < floor or per_passage[passage.chunk_id] >= 2:
                return
            if any(len(stems & c[5]) / max(min(len(stems), len(c[5])), 1) > 0.7 for c in chosen):
                return
            chosen.append(cand)
            per_passage[passage.chunk_id] += 1

        # First the best sentence of each of the top passages (different sections hold different
        # parts of an answer), then the best remaining sentences overall.
        for rank in range(3):
            firsts = [c for c in candidates if c[1] == rank]
            if firsts:
                take(firsts[0], 0.4 * best)
        for cand in candidates:
            if cand not in chosen:
                take(cand, 0.6 * best)
        chosen.sort(key=lambda c: (c[1], c[2]))
        # Sentences next to each other in one passage become one quote: still verbatim, one citation.
        quotes: list[tuple[Passage, int, int]] = []
        for _score, _rank, _position, (start, end), passage, _stems in chosen:
            if quotes and quotes[-1][0] is passage and _only_space_between(passage.text, quotes[-1][2], start):
                quotes[-1] = (passage, quotes[-1][1], end)
            else:
                quotes.append((passage, start, end))
        parts = []
        for n, (passage, start, end) in enumerate(quotes, start=1):
            quote = passage.text[start:end]
            answer.citations.append(
                Citation(
                    n=n,
                    doc_id=passage.doc_id,
                    title=passage.title,
                    section=passage.section,
                    source_url=passage.source_url,
                    version=passage.version,
                    quote=quote,
                    passage=passage.text,
                    section_id=passage.section_id,
                    chunk_id=passage.chunk_id,
                    last_reviewed=passage.last_reviewed,
                )
            )
            parts.append(f"{quote} [{n}]")
        answer.answer = " ".join(parts)

    def _safety(self, cues: SafetyCues) -> dict | None:
        if not cues:
            return None
        lines = []
        for cid in EMERGENCY_CONTACT_IDS:
            c = self.contacts.get(cid)
            if c is not None:
                lines.append(c.who if c.phone and c.phone in c.who else f"{c.who}: {c.phone}")
        intro = (
            "If a child is in immediate danger or seriously hurt, call 999 now. "
            "If a child has told you something or you think a child is being harmed, do not wait: tell your designated safeguarding lead today, "
            "or contact children's social care yourself."
        )
        return {
            "cues": list(cues.cues),
            "labels": cues.labels,
            "message": f"{intro} {' · '.join(lines)}",
            "intro": intro,
            "lines": lines,
            "contacts": [cid for cid in EMERGENCY_CONTACT_IDS if cid in self.contacts],
        }

    def _advice(self, persona: str) -> str:
        if persona == "volunteer":
            return "As a volunteer, take any worry about a child to your designated safeguarding lead (DSL) first; if a child is in immediate danger, call 999."
        social_care = self.contacts.get("somerset-direct-childrens-social-care")
        edt = self.contacts.get("emergency-duty-team")
        route = "refer to children's social care"
        if social_care:
            route += f" ({social_care.who}, {social_care.phone})"
        if edt:
            route += f"; out of hours, {edt.who} ({edt.phone})"
        return f"If you suspect a child is suffering or likely to suffer significant harm, {route}; for support below that threshold, use the Early Help Assessment with the family's consent."

    def _flows_from(self, passages: list[Passage]) -> list[str]:
        out: list[str] = []
        for p in passages:
            out.extend(self.flows_for_doc.get(p.doc_id, [])[:1])
        return out

    def _known_flows(self, flows: list[str]) -> list[str]:
        out: list[str] = []
        for f in flows:
            if f not in out and (self.flow_ids is None or f in self.flow_ids):
                out.append(f)
        return out
