"""Danger cues in a question: immediate danger, injury, a disclosure, a child alone, self-harm, a
threat, possible sexual abuse, exploitation, FGM or radicalisation.

The cues are data (`corpus/language/cues.yaml`, see `kb.language`). Detection works on a
normalised question: lower case, common misspellings corrected against the cue vocabulary by
edit distance, then each cue's patterns. A question about the words themselves ("what does
'immediate danger' mean in our policy?") does not trigger, unless it also describes a real child.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from kb.language import Language, shipped_language

EMERGENCY_CONTACT_IDS = ("emergency-999", "somerset-direct-childrens-social-care", "emergency-duty-team")
SAFETY_INTRO = (
    "If a child is in immediate danger or seriously hurt, call 999 now. "
    "If a child has told you something or you think a child is being harmed, do not wait: tell your designated safeguarding lead today, "
    "or contact children's social care yourself."
)


@dataclass(frozen=True)
class SafetyCues:
    cues: tuple[str, ...]
    language: Language | None = field(default=None, compare=False, repr=False)

    def __bool__(self) -> bool:
        return bool(self.cues)

    @property
    def labels(self) -> list[str]:
        lang = self.language or shipped_language()
        return [lang.cue(c).label for c in self.cues]

    @property
    def flows(self) -> list[str]:
        lang = self.language or shipped_language()
        out: list[str] = []
        for cue in self.cues:
            if lang.cue(cue).flow not in out:
                out.append(lang.cue(cue).flow)
        return out


@dataclass(frozen=True)
class Safety:
    """The emergency guidance shown above an answer: why (the cues), what to do, whom to call."""

    cues: tuple[str, ...]
    labels: tuple[str, ...]
    intro: str
    lines: tuple[str, ...]  # "who: phone" of each emergency contact
    contacts: tuple[str, ...]  # their contact ids
    carried: bool = False  # shown again because an earlier question in the conversation raised it
    steps: tuple[str, ...] = ()  # what these dangers call for besides the general step (cues.yaml `says`)

    @property
    def message(self) -> str:
        return " ".join((self.intro, *self.steps, " · ".join(self.lines)))


def normalise(question: str, language: Language | None = None) -> str:
    lang = language or shipped_language()
    text = question.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"[^\w\s'-]", " ", text)
    return " ".join(_correct(t, lang) for t in text.split())


def _correct(token: str, lang: Language) -> str:
    if len(token) < 5 or token in lang.spelling_words or token in lang.never_corrected or not token.isalpha():
        return token
    match = difflib.get_close_matches(token, lang.spelling_words, n=1, cutoff=0.84)
    return match[0] if match else token


def detect(question: str, language: Language | None = None, normalised: str | None = None) -> SafetyCues:
    lang = language or shipped_language()
    text = normalised if normalised is not None else normalise(question, lang)
    found = tuple(cue.name for cue in lang.cues if any(p.search(text) for p in cue.patterns))
    if found and any(p.search(text) for p in lang.about_words) and not any(p.search(text) for p in lang.concrete):
        return SafetyCues((), lang)
    return SafetyCues(found, lang)
