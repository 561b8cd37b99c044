"""Understanding a question before answering it: is it a safeguarding question at all, does it
suggest danger, who is asking, what words should the search use, and does it ask two things.

`RequestReader` is a Haystack component with no model: it reads the editors' language rules
(`kb.language`) and the glossary of the served index, and hands a typed `Request` to the rest of
the answer pipeline.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from haystack import component

from kb.errors import QuestionError
from kb.glossary import Glossary
from kb.language import Language, RequestType
from kb.safety import SafetyCues, detect, normalise

MAX_QUESTION_CHARS = 2000
MAX_PARTS = 3
CUE_WORDS_UP_TO = 8  # words in a question below which its danger cues' search words are added


class Role(StrEnum):
    """Who is asking; it decides the first thing the answer says (who to tell, and how)."""

    VOLUNTEER = "volunteer"
    PARENT = "parent"
    PROFESSIONAL = "professional"
    CHILD = "child"


ROLE_NAMES = tuple(r.value for r in Role)

GLOSSARY_QUESTION = re.compile(
    r"^\s*(?:what|who)(?:'s|\s+is|\s+are|\s+does|\s+do)?\s+(?:an?\s+|the\s+)?(?P<term>.+?)(?:\s+(?:stand for|mean|means|do|refer to))?\s*\??\s*$"
    r"|^\s*(?:define|meaning of|definition of)\s+(?:an?\s+|the\s+)?(?P<term2>.+?)\s*\??\s*$",
    re.IGNORECASE,
)
QUESTION_START = re.compile(
    r"^(?:what|how|when|who|whom|where|why|which|should|shall|do|does|did|can|could|is|are|will|would|must|have|has|am|if)\b", re.IGNORECASE
)
SECOND_QUESTION = re.compile(
    r"\s(?:and|also|plus)\s+(?=(?:what|how|when|who|where|should|do|does|can|is|are|will|would|must)\s+(?:i|we|they|you|it|the|a|happens|if|to)\b)",
    re.IGNORECASE,
)
ASKS_WHAT_TO_DO = re.compile(
    r"\b(?:what (?:do|should|can|must) (?:i|we)(?: be)? (?:do|doing)?|what now|what next|who do (?:i|we) (?:tell|call|ring|contact|report)|who should (?:i|we) (?:tell|call|contact)|"
    r"how do (?:i|we) (?:report|refer|raise|tell)|where do (?:i|we) go|do (?:i|we) (?:just )?(?:wait|leave it|report|refer|tell)|should (?:i|we) (?:be )?(?:doing|do|report|refer|tell|call|ring|leave)|what (?:steps|action)|is this (?:something|a safeguarding|a concern))\b"
)
DEFINES = re.compile(r"^\s*(?:what(?:'s| is| are| does)|whats|define|meaning of)\b")
WORRY = re.compile(r"\b(?:worried|worry|worrying|concern\w*|what (?:do|should|can) (?:i|we)|what now|help|scared|afraid|not sure what to do)\b")
# A short question asking only what a word or process is ("what is a section 47?", "what does LADO
# stand for", "difference between a CIN plan and a CP plan"), with no situation in it ("if...", "when...").
ONLY_DEFINES = re.compile(r"^\s*(?:what(?:'s| is| are| does)|whats|define|meaning of|(?:what(?:'s| is) the )?diff(?:erence|rence)? between)\b(?!.*\b(?:if|when|my|our|i|we)\b)")
ONLY_DEFINES_WORDS = 14


@dataclass(frozen=True)
class Request:

    def __deepcopy__(self, memo: dict) -> Request:
        return self  # immutable: Haystack copies what passes between components, and need not copy this

    question: str
    normalised: str
    role: Role
    role_in_question: bool  # the question's own words showed the role
    refused_as: RequestType | None  # a request this assistant does not take
    cues: SafetyCues
    carried_cues: tuple[str, ...]  # cues raised earlier in the conversation and kept
    query: str  # what the dense side embeds
    lexical_query: str  # what BM25 searches for: the question, expansions and cue words
    parts: tuple[str, ...]  # the separate questions in a question that asks more than one
    glossary_term: str | None
    flows: tuple[str, ...]  # guided flows the question's words point to
    topic_documents: tuple[str, ...]  # documents the question's cues and words point to
    worried: bool  # the asker says they are worried or asks what to do
    intent: str = ""  # "act": asks what to do; "define": asks what something is; "" otherwise
    only_defines: bool = False  # asks only what a word or process is, with no situation and no worry in it


def only_defines(normalised: str) -> bool:
    """A short question asking only what a word or process is ("what is a section 47?", "what
    does LADO stand for"), with no situation in it ("...if a parent is drunk", "my son")."""
    return len(normalised.split()) <= ONLY_DEFINES_WORDS and bool(ONLY_DEFINES.match(normalised))


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


def split_parts(text: str) -> tuple[str, ...]:
    """The questions asked, when there is more than one ('Do I tell the parents? And how fast must I refer?')."""
    sentences = [s.strip() for s in re.split(r"(?<=[?])\s+|(?<=[.!])\s+(?=[A-Z])", text) if s.strip()]
    asked = [s for s in sentences if s.endswith("?") or QUESTION_START.match(s)]
    if len(asked) < 2:
        pieces = SECOND_QUESTION.split(asked[0] if asked else text)
        asked = [p.strip() for p in pieces if len(p.split()) >= 3] if len(pieces) > 1 else []
    if len(asked) < 2:
        return ()
    context = " ".join(s for s in sentences if s not in asked)  # a scenario before the questions belongs to each
    return tuple(f"{context} {q}".strip() if len(q.split()) < 6 else q for q in asked[:MAX_PARTS])


def _has_phrase(flat_text: str, phrase: str) -> bool:
    """Whole words, apostrophes aside ("hasnt" is "hasn't"): `flat_text` is padded, without apostrophes."""
    return " " + phrase.replace("'", "") + " " in flat_text


@component
class RequestReader:
    """question (and the persona chosen on the page) -> a typed `Request`."""

    def __init__(self, language: Language, glossary: Glossary):
        if not language.cues or not language.roles:
            raise ValueError("RequestReader: the language rules have no cues or no roles; load them with kb.language.load_language")
        self.language = language
        self.glossary = glossary

    @component.output_types(request=Request, query=str, lexical_query=str, parts=list[str])
    def run(self, question: str, persona: str = "volunteer", previous_cues: list[str] | None = None) -> dict:
        if persona not in ROLE_NAMES:
            raise QuestionError(f"persona {persona!r} is not one of {', '.join(ROLE_NAMES)}")
        text = clean_question(question)
        lang = self.language
        normalised = normalise(text, lang)
        padded = f" {normalised} "
        flat = padded.replace("'", "")
        cues = detect(text, lang, normalised)
        role, in_question = self._role(normalised, Role(persona))
        refused = None if cues else self._refused(normalised, padded)
        with_names = self.glossary.expand(text)
        extra: list[str] = []
        flows: list[str] = list(cues.flows)
        documents: list[str] = [d for c in cues.cues for d in lang.cue(c).documents]
        for synonym in lang.synonyms:
            if any(_has_phrase(flat, w) for w in synonym.words) or any(p.search(normalised) for p in synonym.patterns):
                extra.append(synonym.means)
                documents.extend(synonym.documents)
                if synonym.flow and synonym.flow not in flows:
                    flows.append(synonym.flow)
        # A danger cue's words steer the search only when the question says little else ("she told me
        # something, what do I do?"); otherwise they outweighed the topic (blind development set).
        cue_words = [lang.cue(c).query for c in (("disclosure",) if "disclosure" in cues.cues else cues.cues)] if len(normalised.split()) <= CUE_WORDS_UP_TO else []
        lexical = " ".join([with_names, *extra, *cue_words])
        query = with_names if not extra else f"{with_names} ({'; '.join(extra)})"
        carried = tuple(c for c in previous_cues or () if c in lang.cue_names and c not in cues.cues)
        term = None
        m = GLOSSARY_QUESTION.match(text)
        if m:
            term = (m["term"] or m["term2"] or "").strip(" ?.!")
        worried = bool(cues) or bool(WORRY.search(normalised))
        request = Request(
            question=text,
            normalised=normalised,
            role=role,
            role_in_question=in_question,
            refused_as=refused,
            cues=cues,
            carried_cues=carried,
            query=query,
            lexical_query=lexical,
            parts=split_parts(text),
            glossary_term=term or None,
            flows=tuple(flows),
            topic_documents=tuple(dict.fromkeys(documents)),
            worried=worried,
            intent="act" if ASKS_WHAT_TO_DO.search(normalised) else "define" if DEFINES.match(normalised) else "",
            only_defines=only_defines(normalised) and not worried,
        )
        return {"request": request, "query": query, "lexical_query": lexical, "parts": list(request.parts)}

    def _role(self, normalised: str, chosen: Role) -> tuple[Role, bool]:
        for rule in self.language.roles:
            if any(p.search(normalised) for p in rule.patterns):
                return Role(rule.role), True
        return chosen, False

    def _refused(self, normalised: str, padded: str) -> RequestType | None:
        for kind in self.language.requests:
            if any(p.search(normalised) for p in kind.patterns):
                if kind.unless_words and any(w in padded for w in kind.unless_words):
                    continue
                return kind
        return None
