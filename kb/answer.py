"""What an answer is: its status, the sections it quotes (verbatim, cited), the emergency guidance,
the asker's first step, links to nearby sections and suggested guided flows.

The answer path that fills it is built in `kb/index/pipelines.py` (`build_answer_pipeline`):
`RequestReader` -> hybrid retrieval -> `SectionRanker` -> `SectionQuoter`; `kb/composer.py` runs it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum

from kb.safety import Safety


class Status(StrEnum):
    ANSWERED = "answered"
    NOT_FOUND = "not_found"
    OUT_OF_SCOPE = "out_of_scope"

    def __str__(self) -> str:
        return self.value


@dataclass
class Citation:
    n: int
    doc_id: str
    title: str
    section: str
    source_url: str
    version: str
    quote: str  # the first quoted span, verbatim in `passage`
    passage: str  # the whole section
    section_id: str = ""
    chunk_id: str = ""
    last_reviewed: str = ""
    quotes: list[str] = field(default_factory=list)  # every quoted span, in reading order, each verbatim in `passage`


@dataclass(frozen=True)
class SectionLink:
    """A section to open: a nearby one ("See also") or one the question may have meant."""

    section_id: str
    doc_id: str
    title: str
    section: str


@dataclass
class AnswerPart:
    """One section's answer: the question it answers (its heading) and the quoted text with [n]."""

    answering: str
    text: str
    n: int


@dataclass
class Answer:
    question: str
    status: Status
    answer: str
    citations: list[Citation] = field(default_factory=list)
    safety: Safety | None = None
    flows: list[str] = field(default_factory=list)
    persona: str = "volunteer"  # the role the first step was written for (from the question, else the page)
    advice: str = ""  # the asker's first step: who to tell, and how
    seconds: float = 0.0
    generation: str = ""  # the index generation every citation comes from
    parts: list[AnswerPart] = field(default_factory=list)
    see_also: list[SectionLink] = field(default_factory=list)
    choices: list[SectionLink] = field(default_factory=list)  # two topics about equally likely: the asker picks

    @property
    def answering(self) -> str:
        """The question the first quoted section answers ('' when nothing is quoted)."""
        return self.parts[0].answering if self.parts else ""

    def as_dict(self) -> dict:
        out = asdict(self)
        out["status"] = self.status.value
        out["answering"] = self.answering
        if self.safety is not None:
            out["safety"]["message"] = self.safety.message
        return out
