"""Sections as the unit of retrieval: every section of a generation, the ways it is asked, and
the ranker that turns retrieved chunks into ranked sections.

A section is matched by the chunks of its text (hybrid dense and BM25 retrieval, fused), and by
its heading question and the phrasings editors wrote for it ("Also asked as") two ways: each
embedded at index time and compared with the question's embedding, and all of them together as
one short text scored against the question's words by BM25 (`PhrasingWords`). The words catch what
the embedding blurs: "chasing" a referral, a "position of trust", "RHI". `SectionRanker` is a Haystack component; `SectionIndex` holds what it needs
for one generation.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
from haystack import component

from kb.glossary import Glossary
from kb.index.passage import Passage
from kb.index.vector import Hits, Vector
from kb.request import Request
from kb.text import STOPWORDS, content_words, words

PHRASING_CANDIDATES = 8  # sections added to the fused candidates by phrasing similarity alone
# Weights of a section's score, tuned with `kb eval` on the blind development set.
CHUNK_WEIGHT = 1.0  # best cosine similarity of one of its chunks
PHRASING_WEIGHT = 1.4  # best cosine similarity of its heading question or an "Also asked as" phrasing
FUSED_WEIGHT = 0.5  # its best chunk's fused (dense + BM25) score, as a share of the top one
PHRASING_WORDS_WEIGHT = 0.35  # BM25 of the question's words over its heading and phrasings, as a share of the best section's (dev sets, top-1: blind 55.0 -> 63.6%, topics 70.0 -> 71.7%, earlier 84.7 -> 91.0%; 0.25 and 0.45 no better)
COVERAGE_WEIGHT = 0.0  # the share of the question's rarer words it holds (0.3 until a grid on both dev sets: 0 with phrasings at 1.4 was best on each)
INTENT_BOOST = 0.05  # a section whose heading asks what the question asks: what to do, or what something is
INTENT_HEADINGS = {
    "act": re.compile(r"^(?:What should|What do|What can|Who do|Who should|How do I|How should|When should I|What if|What happens|Do I|Should I|Can I)\b"),
    "define": re.compile(r"^(?:What is|What are|What does|What counts|Who is|Who are)\b"),
}
ROLE_FIT_BOOST = 0.05  # a section written for the asker's role (roles.yaml `sections`)...
ROLE_MISFIT_PENALTY = 0.2  # ...and one written for another: a parent's steps are not a volunteer's
TOPIC_BOOST = 0.1  # a section of a document the question's danger cues or everyday words point to
GLOSSARY_PENALTY = 0.3  # a glossary entry answering a question that is not "what is X?" (it defines, the procedure says what to do)
GLOSSARY_BOOST = 0.0  # a glossary entry named by a "what is X?" question joins the candidates (the dev sets: a boost took the place of fuller procedure sections)


def stem(word: str) -> str:
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def stems(text: str) -> set[str]:
    return {stem(w) for w in content_words(text)}


class PhrasingWords:
    """BM25 over each section's heading question and "Also asked as" phrasings, joined as one
    text: the ways people ask, matched by their words. Scores are a share of the best section's."""

    K1 = 1.2
    B = 0.75

    def __init__(self, texts: dict[str, list[str]], order: list[str]):
        position = {sid: i for i, sid in enumerate(order)}
        self.size = len(order)
        self.postings: dict[str, list[tuple[int, int]]] = {}
        lengths = np.zeros(len(order), dtype=np.float32)
        for sid, parts in texts.items():
            if sid not in position:
                continue
            counts = Counter(stem(w) for w in content_words(" ".join(parts)))
            lengths[position[sid]] = sum(counts.values())
            for term, tf in counts.items():
                self.postings.setdefault(term, []).append((position[sid], tf))
        average = float(lengths[lengths > 0].mean()) if (lengths > 0).any() else 1.0
        self.norm = self.K1 * (1 - self.B + self.B * lengths / average)
        n = len(texts) or 1
        self.idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in self.postings.items()}

    def scores(self, question_stems: set[str]) -> np.ndarray:
        """Per section (in `order`), its BM25 score over the best one's (all 0 when no word matches)."""
        out = np.zeros(self.size, dtype=np.float32)
        for term in question_stems:
            for i, tf in self.postings.get(term, ()):
                out[i] += self.idf[term] * tf * (self.K1 + 1) / (tf + self.norm[i])
        top = float(out.max()) if self.size else 0.0
        return out / top if top > 0 else out


@dataclass(frozen=True)
class RankedSection:

    def __deepcopy__(self, memo: dict) -> RankedSection:
        return self  # immutable: Haystack copies what passes between components, and need not copy this

    passage: Passage  # the whole section (all its chunks' text)
    score: float
    chunk: float  # best chunk cosine similarity (or the floor, when no chunk was retrieved)
    phrasing: float  # best phrasing cosine similarity
    coverage: float  # share of the question's rarer words the section holds

    @property
    def section_id(self) -> str:
        return self.passage.section_id


@dataclass(frozen=True)
class SectionRanking:

    def __deepcopy__(self, memo: dict) -> SectionRanking:
        return self  # immutable: Haystack copies what passes between components, and need not copy this

    ranked: tuple[RankedSection, ...]
    best_chunk: float  # how close the nearest chunk came at all
    parts: tuple[tuple[RankedSection, ...], ...] = ()  # per separate question, its best sections


class SectionIndex:
    """One generation's sections, their phrasing vectors, glossary and word rarity."""

    def __init__(self, name: str, sections: dict[str, Passage], phrasings: list[tuple[str, str, bytes]]):
        self.name = name
        self.sections = sections
        self.order = list(sections)
        position = {sid: i for i, sid in enumerate(self.order)}
        kept = [(position[sid], vec) for sid, _text, vec in phrasings if sid in position]
        self.phrasing_owner = np.array([i for i, _ in kept], dtype=np.int64)
        self.phrasing_matrix = np.vstack([np.frombuffer(v, dtype=np.float32) for _, v in kept]) if kept else np.zeros((0, 1), dtype=np.float32)
        texts: dict[str, list[str]] = {}
        for sid, text, _vec in phrasings:
            texts.setdefault(sid, []).append(text)
        self.phrasing_words = PhrasingWords(texts, self.order)
        df: Counter[str] = Counter()
        raw_df: Counter[str] = Counter()
        self.section_stems: dict[str, set[str]] = {}
        for sid, p in sections.items():
            found = set(content_words(p.text + " " + p.section))
            self.section_stems[sid] = {stem(w) for w in found}
            df.update(self.section_stems[sid])
            raw_df.update(found)
        n = max(len(sections), 1)
        common = frozenset(w for w, c in raw_df.items() if c > 0.05 * n) | STOPWORDS
        self.glossary = Glossary.from_sections(sections, common)
        self.idf = {w: math.log(1 + n / c) for w, c in df.items()}
        self.default_idf = math.log(1 + n)

    def weight(self, terms: set[str]) -> float:
        return sum(self.idf.get(w, self.default_idf) for w in terms)

    def coverage(self, query_stems: set[str], section_id: str) -> float:
        """Share of the question's words, weighted by rarity, that the section holds."""
        total = self.weight(query_stems)
        return self.weight(query_stems & self.section_stems.get(section_id, set())) / total if total else 0.0

    def phrasing_scores(self, embedding: np.ndarray | list[float] | None) -> np.ndarray:
        """Per section (in `order`), the best cosine similarity of its phrasings to the question."""
        best = np.full(len(self.order), -1.0, dtype=np.float32)
        if embedding is None or not len(self.phrasing_owner):
            return best
        sims = self.phrasing_matrix @ np.asarray(embedding, dtype=np.float32)
        np.maximum.at(best, self.phrasing_owner, sims)
        return best


def applies(passage: Passage, question_words: str) -> bool:
    """False when the passage's document has a `scope` and the question uses none of its words
    (apostrophes aside: `question_words` is padded and has none, so "hasnt come home" is "hasn't come home")."""
    if not passage.scope:
        return True
    return any(" " + " ".join(words(term)).replace("'", "") + " " in question_words for term in passage.scope)


@component
class SectionRanker:
    """Fused chunks, the question's embedding and the request -> sections ranked for answering."""

    def __init__(self, index: SectionIndex, top_k: int = 8, role_sections: dict[str, tuple[re.Pattern, ...]] | None = None):
        if top_k < 1:
            raise ValueError(f"SectionRanker: top_k is {top_k}; it must be at least 1")
        self.index = index
        self.top_k = top_k
        self.role_sections = role_sections or {}  # role -> headings of sections written for that asker

    @component.output_types(ranking=SectionRanking)
    def run(self, hits: Hits, query_embedding: Vector, request: Request, part_embeddings: list[Vector] | None = None) -> dict:
        index = self.index
        documents = hits.documents
        chunk_best: dict[str, float] = {}
        fused_best: dict[str, float] = {}
        top_fused = max((float(d.score or 0.0) for d in documents), default=0.0) or 1.0
        for doc in documents:
            sid = doc.meta["section_id"]
            dense = doc.meta.get("dense_score")
            if dense is not None:
                chunk_best[sid] = max(chunk_best.get(sid, -1.0), float(dense))
            fused_best[sid] = max(fused_best.get(sid, 0.0), float(doc.score or 0.0) / top_fused)
        floor = (min(chunk_best.values()) if chunk_best else 0.0) - 0.05
        phrasing = index.phrasing_scores(query_embedding.array())
        asked = index.phrasing_words.scores(stems(request.question))
        candidates = list(
            dict.fromkeys(
                [
                    *fused_best,
                    *(index.order[i] for i in np.argsort(-phrasing)[:PHRASING_CANDIDATES]),
                    *(index.order[i] for i in np.argsort(-asked)[:PHRASING_CANDIDATES] if asked[i] > 0),
                ]
            )
        )
        question_words = f" {' '.join(words(request.normalised))} ".replace("'", "")
        candidates = [sid for sid in candidates if sid in index.sections and applies(index.sections[sid], question_words)] or [
            sid for sid in candidates if sid in index.sections
        ]
        q_stems = stems(request.lexical_query)
        position = {sid: i for i, sid in enumerate(index.order)}
        ranked = []
        for sid in candidates:
            chunk = chunk_best.get(sid, floor)
            phr = float(phrasing[position[sid]])
            cov = index.coverage(q_stems, sid)
            score = (
                CHUNK_WEIGHT * chunk
                + PHRASING_WEIGHT * phr
                + PHRASING_WORDS_WEIGHT * float(asked[position[sid]])
                + FUSED_WEIGHT * fused_best.get(sid, 0.0)
                + COVERAGE_WEIGHT * cov
            )
            if index.sections[sid].kind == "glossary" and not request.glossary_term:
                score -= GLOSSARY_PENALTY
            if index.sections[sid].doc_id in request.topic_documents:
                score += TOPIC_BOOST
            if request.intent and INTENT_HEADINGS[request.intent].match(index.sections[sid].section):
                score += INTENT_BOOST
            score += self._role_fit(request, index.sections[sid].section)
            ranked.append(RankedSection(index.sections[sid], score, chunk, phr, cov))
        ranked.sort(key=lambda r: -r.score)
        ranked = self._glossary_first(request, ranked)
        parts = tuple(self._rank_part(text, emb, question_words) for text, emb in zip(request.parts, part_embeddings or [], strict=False))
        best_chunk = max(chunk_best.values(), default=0.0)
        return {"ranking": SectionRanking(tuple(ranked[: self.top_k]), best_chunk, parts)}

    def _role_fit(self, request: Request, heading: str) -> float:
        """Raised when the section is written for the asker, lowered when it is written for someone else."""
        heading = heading.lower()
        written_for = [role for role, patterns in self.role_sections.items() if any(p.search(heading) for p in patterns)]
        if not written_for:
            return 0.0
        return ROLE_FIT_BOOST if request.role.value in written_for else -ROLE_MISFIT_PENALTY

    def _glossary_first(self, request: Request, ranked: list[RankedSection]) -> list[RankedSection]:
        """A 'what is X?' question about a glossary term puts its glossary entry among the
        candidates, raised by GLOSSARY_BOOST: a procedure section asking the same question
        ("What is county lines?") still comes first when it matches better."""
        if not request.glossary_term:
            return ranked
        entry = self.index.glossary.lookup(request.glossary_term)
        if entry is None or entry.section_id not in self.index.sections:
            return ranked
        found = next((r for r in ranked if r.section_id == entry.section_id), None)
        base = found.score if found else (ranked[0].score - 0.2 if ranked else 1.0)
        boosted = RankedSection(self.index.sections[entry.section_id], base + GLOSSARY_BOOST, found.chunk if found else 1.0, 1.0, 1.0)
        return sorted([boosted] + [r for r in ranked if r.section_id != entry.section_id], key=lambda r: -r.score)

    def _rank_part(self, text: str, embedding: Vector, question_words: str) -> tuple[RankedSection, ...]:
        """One of several questions asked: sections by phrasing similarity and word coverage."""
        index = self.index
        phrasing = index.phrasing_scores(embedding.array())
        part_stems = stems(text)
        out = []
        for i in np.argsort(-phrasing)[: PHRASING_CANDIDATES * 2]:
            sid = index.order[i]
            if not applies(index.sections[sid], question_words):
                continue
            cov = index.coverage(part_stems, sid)
            out.append(RankedSection(index.sections[sid], float(phrasing[i]) + COVERAGE_WEIGHT * cov, -1.0, float(phrasing[i]), cov))
        out.sort(key=lambda r: -r.score)
        return tuple(out[:3])
