"""The answer itself: the best section quoted in reading order, a second one only for a second
question, nearby sections as links, and the choice between two topics when both are as likely.

`SectionQuoter` is a Haystack component with no model. A short section is quoted whole. A long
one is quoted from its opening and the sentences that answer, and a sentence is never parted
from the condition or exception attached to it (a following "If...", "Unless...", "However...",
a list after a colon). Every quoted span is cut from the section's own text, so it is verbatim
by construction, and each section is cited once.
"""

from __future__ import annotations

import re

from haystack import component

from kb.answer import Answer, AnswerPart, Citation, SectionLink, Status
from kb.contacts import Contact
from kb.index.sections import RankedSection, SectionRanking, stems
from kb.language import CONTACT, Language
from kb.request import Request, Role
from kb.safety import EMERGENCY_CONTACT_IDS, SAFETY_INTRO, Safety
from kb.text import split_sentences

WHOLE_SECTION_CHARS = 600  # a section up to this long is quoted whole
MAX_SPANS_SENTENCES = 3  # sentences quoted from a longer section (its opening among them), beside those kept with them
# Calibrated with `kb eval` on the blind development set.
NOT_FOUND_BELOW = 0.34  # nearest chunk's cosine similarity below which the corpus is taken not to answer...
NOT_FOUND_WITH_CUES_BELOW = 0.25  # ...with a danger cue or words naming its topic, related procedure text beats "not covered"
PHRASING_ANSWERS = 0.55  # ...unless a section's question or phrasing is at least this close
COVERAGE_ANSWERS = 0.6  # ...or the section holds most of the question's rarer words
SECOND_PART_MARGIN = 0.08  # a second section answers a second question when it beats the first section there by this
SCENARIO_WORDS = 25  # a question this long describes a situation, which often asks more than its best section answers...
SCENARIO_SECOND_WITHIN = 0.1  # ...so the next section of the same document this close is quoted too, under its own question
SEE_ALSO = 3
SEE_ALSO_WITHIN = 0.45  # score distance from the best section for a "See also" link
AMBIGUOUS_WITHIN = 0.02  # two sections of different documents this close: the asker chooses

KEEP_WITH_PREVIOUS = re.compile(r"^(?:If|Unless|Except|However|But|Where|When|Only|Even|This does not|That does not|In an emergency|Not )\b")
NEEDS_PREVIOUS = re.compile(r"^(?:However|But|This|These|That|Those|It|They|Such|Otherwise|Instead)\b")
METADATA_LINE = re.compile(r"^(?:Also called|Now called):")  # glossary lines for search, not for reading


@component
class SectionQuoter:
    """request + ranked sections -> the `Answer` (without timing and generation)."""

    def __init__(self, language: Language, contacts: dict[str, Contact], flows_for_doc: dict[str, list[str]] | None = None, flow_ids: set[str] | None = None):
        self.language = language
        self.contacts = contacts
        self.flows_for_doc = flows_for_doc or {}
        self.flow_ids = flow_ids

    @component.output_types(answer=Answer)
    def run(self, request: Request, ranking: SectionRanking) -> dict:
        answer = Answer(question=request.question, status=Status.ANSWERED, answer="", persona=request.role.value)
        answer.safety = self.safety(request)
        answer.advice = self.first_step(request)
        answer.flows = self._known(list(request.flows) + list(request.cues.flows))
        if request.refused_as is not None:
            return {"answer": self._refuse(answer, Status.OUT_OF_SCOPE, request)}
        ranked = list(ranking.ranked)
        if not ranked or not self._answers(request, ranking):
            answer.flows = self._known(answer.flows + self._flows_from(ranked[:2]))
            return {"answer": self._refuse(answer, Status.NOT_FOUND, request)}
        shown = [ranked[0]]
        second = self._second_part(ranking, ranked[0]) or self._scenario_second(request, ranked)
        if second is not None:
            shown.append(second)
        for n, section in enumerate(shown, start=1):
            self._quote(answer, section, n, stems(request.lexical_query))
        answer.answer = "\n\n".join(p.text if i == 0 else f"{p.answering}\n{p.text}" for i, p in enumerate(answer.parts))
        rest = [r for r in ranked[1:] if r.section_id not in {s.section_id for s in shown}]
        if second is None and rest and rest[0].passage.doc_id != ranked[0].passage.doc_id and ranked[0].score - rest[0].score < AMBIGUOUS_WITHIN and not request.glossary_term:
            answer.choices = [_link(ranked[0]), _link(rest[0])]
            rest = rest[1:]
        answer.see_also = [_link(r) for r in rest if ranked[0].score - r.score <= SEE_ALSO_WITHIN][:SEE_ALSO]
        answer.flows = self._known(answer.flows + self._flows_from([s for s in shown]))
        return {"answer": answer}

    # deciding

    def _answers(self, request: Request, ranking: SectionRanking) -> bool:
        best = ranking.ranked[0]
        # a danger cue, or everyday words naming the best section's topic, make related text worth quoting
        named = request.cues or best.passage.doc_id in request.topic_documents
        floor = NOT_FOUND_WITH_CUES_BELOW if named else NOT_FOUND_BELOW
        return ranking.best_chunk >= floor or best.phrasing >= PHRASING_ANSWERS or best.coverage >= COVERAGE_ANSWERS

    def _second_part(self, ranking: SectionRanking, first: RankedSection) -> RankedSection | None:
        """The section answering a second question that the first section does not answer."""
        for part in ranking.parts:
            if not part or any(r.section_id == first.section_id for r in part[:1]):
                continue
            best = part[0]
            first_there = next((r.score for r in part if r.section_id == first.section_id), None)
            if best.phrasing >= PHRASING_ANSWERS and (first_there is None or best.score - first_there >= SECOND_PART_MARGIN):
                return best
        return None

    def _scenario_second(self, request: Request, ranked: list[RankedSection]) -> RankedSection | None:
        """A situation described at length: the next section of the first one's document, when it matches nearly as well."""
        if not SCENARIO_WORDS or len(request.question.split()) < SCENARIO_WORDS or len(ranked) < 2:
            return None
        first, nxt = ranked[0], ranked[1]
        if nxt.passage.doc_id == first.passage.doc_id and first.score - nxt.score <= SCENARIO_SECOND_WITHIN:
            return nxt
        return None

    # quoting

    def _quote(self, answer: Answer, ranked: RankedSection, n: int, query_stems: set[str]) -> None:
        passage = ranked.passage
        spans = quote_spans(passage.text, query_stems)
        quotes = [passage.text[a:b] for a, b in spans]
        answer.citations.append(
            Citation(
                n=n,
                doc_id=passage.doc_id,
                title=passage.title,
                section=passage.section,
                source_url=passage.source_url,
                version=passage.version,
                quote=quotes[0],
                passage=passage.text,
                section_id=passage.section_id,
                chunk_id=passage.chunk_id,
                last_reviewed=passage.last_reviewed,
                quotes=quotes,
            )
        )
        answer.parts.append(AnswerPart(answering=passage.section, text=" … ".join(quotes) + f" [{n}]", n=n))

    # what comes first

    def safety(self, request: Request) -> Safety | None:
        cues = tuple(request.cues.cues) or request.carried_cues
        if not cues:
            return None
        lines, ids = [], []
        for cid in EMERGENCY_CONTACT_IDS:
            c = self.contacts.get(cid)
            if c is not None:
                lines.append(c.who if c.phone and c.phone in c.who else f"{c.who}: {c.phone}")
                ids.append(cid)
        labels = tuple(self.language.cue(c).label for c in cues)
        # each step once, though two dangers call for it ("do not confront the person named")
        steps = tuple(dict.fromkeys(s for c in cues for s in split_sentence_texts(self.language.cue(c).says)))
        return Safety(cues=cues, labels=labels, intro=SAFETY_INTRO, lines=tuple(lines), contacts=tuple(ids), carried=not request.cues, steps=steps)

    def first_step(self, request: Request) -> str:
        """Who to tell and how, in the asker's role. A parent asking about the process gets none, and
        nor does an adult asking only what a word means ("what does LADO stand for?")."""
        if request.role is not Role.CHILD and (request.only_defines or (request.role is Role.PARENT and not request.worried)):
            return ""
        return CONTACT.sub(lambda m: self._contact_text(m.group(1)), self.language.role(request.role.value).first)

    def _contact_text(self, cid: str) -> str:
        c = self.contacts.get(cid)
        if c is None:  # a corpus without the shipped contacts: the name, readable
            return cid.replace("-", " ")
        return c.who if not c.phone or c.phone in c.who else f"{c.who} on {c.phone}"

    def _refuse(self, answer: Answer, status: Status, request: Request) -> Answer:
        answer.status = status
        if status is Status.OUT_OF_SCOPE:
            kind = request.refused_as
            answer.answer = (
                f"This assistant only answers questions about keeping children safe, from the safeguarding procedures it holds; it does not {kind.does_not}. "
                "If you have a worry about a child, ask about that and the answer will quote the procedures."
            )
            answer.advice = ""
        else:
            rule = self.language.role(request.role.value)
            answer.answer = CONTACT.sub(lambda m: self._contact_text(m.group(1)), rule.not_covered)
            answer.advice = "" if request.role.value in ("child", "parent") else answer.advice  # their reply already says whom to call
            answer.flows = self._known(answer.flows + ["worried-about-a-child"])
        return answer

    def _flows_from(self, ranked: list[RankedSection]) -> list[str]:
        return [f for r in ranked for f in self.flows_for_doc.get(r.passage.doc_id, [])[:1]]

    def _known(self, flows: list[str]) -> list[str]:
        return [f for i, f in enumerate(flows) if f not in flows[:i] and (self.flow_ids is None or f in self.flow_ids)]


def split_sentence_texts(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)] if text else []


def _link(ranked: RankedSection) -> SectionLink:
    p = ranked.passage
    return SectionLink(p.section_id, p.doc_id, p.title, p.section)


def quote_spans(text: str, query_stems: set[str]) -> list[tuple[int, int]]:
    """Character spans of `text` to quote: all of it when short; else the opening sentence, the
    sentences that answer best, and what must stay with them, merged where they touch."""
    sentences = [s for s in split_sentences(text) if not METADATA_LINE.match(text[s[0] : s[1]])]
    if not sentences:
        return [(0, len(text))]
    if len(text) <= WHOLE_SECTION_CHARS:
        return [(sentences[0][0], sentences[-1][1])]
    scored = sorted(range(len(sentences)), key=lambda i: -len(query_stems & stems(text[sentences[i][0] : sentences[i][1]])))
    chosen = {0, *scored[:MAX_SPANS_SENTENCES - 1]}
    for i in sorted(chosen):
        chosen |= _kept_with(text, sentences, i)
    spans: list[tuple[int, int]] = []
    for i in sorted(chosen):
        start, end = sentences[i]
        if spans and i - 1 in chosen:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def _kept_with(text: str, sentences: list[tuple[int, int]], i: int) -> set[int]:
    """Sentences that must be quoted with sentence i: the exception or condition after it, the
    list its colon introduces, the sentence its opening word refers back to."""
    keep: set[int] = set()
    j = i
    while j + 1 < len(sentences):
        current = text[sentences[j][0] : sentences[j][1]]
        following = text[sentences[j + 1][0] : sentences[j + 1][1]]
        if current.endswith(":") or following.startswith("- ") or text[sentences[j + 1][0] - 2 : sentences[j + 1][0]] == "- " or KEEP_WITH_PREVIOUS.match(following):
            keep.add(j + 1)
            j += 1
        else:
            break
    if i > 0 and NEEDS_PREVIOUS.match(text[sentences[i][0] : sentences[i][1]]):
        keep.add(i - 1)
    return keep
