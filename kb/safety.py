"""Danger cues in a question: immediate danger, injury, a disclosure, a child alone, self-harm, a threat.

Detection works on a normalised question: lower case, common misspellings corrected against the
cue vocabulary by edit distance, then phrase patterns per cue. A question about the words
themselves ("what does 'immediate danger' mean in our policy?") does not trigger, unless it
also describes a real child.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

CUE_LABELS = {
    "immediate_danger": "immediate danger",
    "injury": "an injury",
    "disclosure": "a disclosure",
    "child_alone": "a child left alone",
    "self_harm": "self-harm or suicide",
    "threat": "a threat",
}

# Suggested flow for each cue.
CUE_FLOWS = {
    "immediate_danger": "worried-about-a-child",
    "injury": "worried-about-a-child",
    "disclosure": "disclosure",
    "child_alone": "worried-about-a-child",
    "self_harm": "worried-about-a-child",
    "threat": "worried-about-a-child",
}

_PERSON = r"(?:child|kid|boy|girl|baby|toddler|son|daughter|pupil|student|teen|teenager|young person|lad|he|she|they|him|her|them|brother|sister|niece|nephew|grandchild|member|player|camper)"
_ADULT = r"(?:dad|father|mum|mom|mother|step ?dad|step ?mum|stepfather|stepmother|parent|parents|uncle|aunt|grandad|grandma|granddad|brother|sister|boyfriend|girlfriend|partner|carer|foster carer|teacher|coach|leader|man|woman|someone|somebody|adult|neighbour)"
_HARM_VERB = r"(?:hit|hits|hitting|hurt|hurts|hurting|beat|beats|beating|beaten|punch|punches|punched|kick|kicks|kicked|slap|slaps|slapped|smack|smacks|smacked|touch|touches|touched|touching|abuse|abuses|abused|abusing|rape|raped|strangle|strangled|choke|choked|burn|burns|burned|burnt|shake|shakes|shook|starve|starves|lock|locks|locked)"

PATTERNS: dict[str, list[str]] = {
    "immediate_danger": [
        r"\b(?:in|at) (?:immediate |serious |real )?danger\b",
        r"\b(?:not|isn't|isnt|feel|feels|doesn't feel|doesnt feel|don't feel|dont feel) (?:safe|unsafe)\b",
        r"\bunsafe\b",
        r"\b(?:scared|afraid|frightened|terrified) (?:to go|of going) home\b",
        r"\b(?:won't|wont|doesn't want to|doesnt want to|refuses to) go home\b",
        r"\bright now\b.*\b" + _HARM_VERB + r"\b",
        r"\b" + _HARM_VERB + r"\b.*\bright now\b",
        r"\bmissing (?:child|boy|girl|kid)\b|\b(?:child|boy|girl|kid|son|daughter) (?:is |has gone |went )?missing\b",
        r"\bran away\b|\brun away\b|\brunaway\b",
        r"\bunconscious\b|\bnot breathing\b|\bcollapsed\b",
    ],
    "injury": [
        r"\bbruis(?:e|es|ed|ing)\b",
        r"\binjur(?:y|ies|ed)\b",
        r"\b(?:burn|burns|burnt|burned) (?:mark|marks|on)\b|\bcigarette burn",
        r"\bbroken (?:arm|leg|bone|bones|wrist|rib|ribs|nose)\b|\bfracture",
        r"\bblack eye\b|\bbleeding\b|\bmarks? on (?:his|her|their) (?:body|arm|arms|leg|legs|face|neck|back)\b",
        r"\b" + _ADULT + r"\b.{0,30}\b" + _HARM_VERB + r"\b.{0,20}\b" + _PERSON + r"\b",
        r"\b" + _ADULT + r" (?:has |had |have )?" + _HARM_VERB + r"\b",
    ],
    "disclosure": [
        r"\b(?:told|tells|telling|said|says|disclosed|discloses|confided|confides|admitted|wrote|messaged) (?:me|us|a teacher|a volunteer|their teacher|the coach|staff)\b",
        r"\b" + _PERSON + r" (?:has |just )?(?:told|said|says|disclosed|confided)\b",
        r"\bdisclos(?:ed|ure|ing)\b",
        r"\b(?:asked|begged|made) me (?:to )?(?:keep|promise).{0,20}secret",
        r"\b(?:keep|kept) (?:it )?(?:a )?secret\b",
    ],
    "child_alone": [
        r"\b(?:left|leaves|leaving|alone|abandoned) (?:at home |home )?(?:alone|on (?:his|her|their) own|by (?:him|her|them)sel(?:f|ves)|unattended|unsupervised)\b",
        r"\bhome alone\b.*\b(?:now|tonight|today|again|all|every|while|since)\b|\b(?:is|are|was|been|being|keeps being) (?:left )?home alone\b",
        r"\b(?:no one|nobody|no adult|no-one) (?:has |came to |to )?(?:collect|collected|pick|picked|look after|looking after|at home|home|came)\b",
        r"\bnot (?:been )?(?:collected|picked up)\b|\bhasn't been (?:collected|picked up)\b|\bhasnt been (?:collected|picked up)\b",
    ],
    "self_harm": [
        r"\bself[- ]?harm(?:ing|s|ed)?\b",
        r"\bsuicid(?:e|al)\b",
        r"\bkill (?:myself|himself|herself|themselves|themself)\b",
        r"\bend (?:my|his|her|their) (?:own )?life\b|\b(?:wants|want|wanting) to die\b",
        r"\bcutting (?:himself|herself|themselves|themself|their arms|her arms|his arms)\b|\bcuts on (?:his|her|their) arms\b",
        r"\boverdos(?:e|ed|ing)\b|\btook (?:an |a lot of )?(?:overdose|pills|tablets)\b",
    ],
    "threat": [
        r"\bthreat(?:en|ened|ening|ens)?\b",
        r"\b(?:going to|gonna|will|said he'd|said she'd|said they'd|said he would|said she would) (?:kill|hurt|stab|shoot|beat|get)\b(?! (?:himself|herself|themselves|themself|myself))",
        r"\b(?:knife|knives|gun|weapon|weapons|machete|blade)\b",
        r"\bblackmail(?:ed|ing)?\b|\bsextort",
    ],
}

_COMPILED = {cue: [re.compile(p) for p in pats] for cue, pats in PATTERNS.items()}

# Words the patterns rely on, for spelling correction of what people type in a hurry.
_VOCABULARY = sorted(
    set(re.findall(r"[a-z]{5,}", re.sub(r"\\[a-zA-Z]", " ", " ".join(" ".join(p) for p in PATTERNS.values()))))
    | {"bruise", "bruises", "bruised", "danger", "injury", "injured", "suicide", "suicidal", "threatened", "disclosed", "collected", "touched", "touching", "bleeding", "unconscious", "frightened", "terrified", "scared", "afraid"}
)
_COMMON = {"there", "their", "where", "these", "those", "other", "about", "would", "could", "should", "which", "while", "things", "thing", "school", "house", "today", "after", "first", "never", "still", "think", "thought", "every", "right", "night", "light", "might", "mother", "father", "brother", "sister", "teacher", "parents", "children", "police", "social", "worker", "policy", "procedure", "training", "meaning", "means", "define", "word", "words", "phrase", "danger", "dangers"}
_META = re.compile(
    r"\b(?:what (?:does|do|is meant by|counts as)|define|definition of|meaning of|the (?:word|term|phrase)|in (?:our|the|my) (?:policy|procedure|procedures|training|handbook|guidance)|how (?:do|does|should) (?:the |our )?(?:policy|procedures?|training)|at what age|how old (?:does|do|should|must|can)|(?:legal|minimum) age|is it (?:legal|illegal|an offence))\b"
)
_CONCRETE = re.compile(
    r"\b(?:the|this|my|our|one of (?:my|our)) (?:child|boy|girl|baby|toddler|kid|son|daughter|pupil|student|player|member|young person)\b(?! protection)|\b(?:he|she|they) (?:is|was|has|said|told|says|seems|looks|came|turned)\b|\btold me\b|\btoday\b|\btonight\b|\bright now\b"
)

EMERGENCY_CONTACT_IDS = ("emergency-999", "somerset-direct-childrens-social-care", "emergency-duty-team")


@dataclass(frozen=True)
class SafetyCues:
    cues: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.cues)

    @property
    def labels(self) -> list[str]:
        return [CUE_LABELS[c] for c in self.cues]

    @property
    def flows(self) -> list[str]:
        out: list[str] = []
        for cue in self.cues:
            if CUE_FLOWS[cue] not in out:
                out.append(CUE_FLOWS[cue])
        return out


def normalise(question: str) -> str:
    text = question.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"[^\w\s'-]", " ", text)
    tokens = text.split()
    fixed = [_correct(t) for t in tokens]
    return " ".join(fixed)


def _correct(token: str) -> str:
    if len(token) < 5 or token in _VOCABULARY or token in _COMMON or not token.isalpha():
        return token
    match = difflib.get_close_matches(token, _VOCABULARY, n=1, cutoff=0.84)
    return match[0] if match else token


def detect(question: str) -> SafetyCues:
    text = normalise(question)
    found = tuple(cue for cue, patterns in _COMPILED.items() if any(p.search(text) for p in patterns))
    if found and _META.search(text) and not _CONCRETE.search(text):
        return SafetyCues(())
    return SafetyCues(found)
