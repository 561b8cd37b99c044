"""Small text helpers shared by retrieval and answer composition: words, stop words, sentences."""

from __future__ import annotations

import re
import unicodedata

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between both but by
    can could did do does doing down during each few for from further had has have having he her here hers herself him himself
    his how i if in into is it its itself just me more most my myself no nor not of off on once only or other our ours ourselves
    out over own same she should so some such than that the their theirs them themselves then there these they this those through
    to too under until up very was we were what when where which while who whom why will with would you your yours yourself
    yourselves i'm im ive i've id i'd dont don't can't cant should shall may might must also get got tell told know want need
    please thanks thank hi hello ok okay really think something someone anyone one""".split()
)

WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "Dr.", "Mr.", "Mrs.", "Ms.", "St.", "No.", "s.", "vs.", "approx.")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences in `text`: one per line, lines split at sentence ends.

    Spans index into `text` itself, so a quote cut from a span is verbatim by construction.
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        start = pos
        pos += len(line) + 1
        if not line.strip():
            continue
        offset = start
        if line.startswith("- "):
            offset += 2
        cut = offset
        segment = text[offset : start + len(line)]
        for m in _SENTENCE_END.finditer(segment):
            before = segment[: m.start() + 1]
            if before.endswith(_ABBREVIATIONS):
                continue
            end = offset + m.end()
            spans.append(_trim(text, cut, end))
            cut = end
        spans.append(_trim(text, cut, start + len(line)))
    return [s for s in spans if s[1] > s[0]]


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def slugify(text: str, limit: int = 60) -> str:
    """Lower-case ASCII letters and digits joined by hyphens, at most `limit` characters ('' if none)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].rstrip("-")
