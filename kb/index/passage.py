"""A retrieved section (or part of one), with everything a citation needs."""

from __future__ import annotations

from dataclasses import dataclass

from haystack import Document


@dataclass(frozen=True)
class Passage:
    """One retrieved section (or part of one), with everything a citation needs."""

    def __deepcopy__(self, memo: dict) -> Passage:
        return self  # immutable: Haystack copies what passes between components, and need not copy this


    chunk_id: str
    section_id: str
    doc_id: str
    title: str
    section: str
    heading_path: tuple[str, ...]
    text: str
    score: float
    kind: str
    source_url: str
    version: str
    last_reviewed: str
    line_start: int
    line_end: int
    audience: tuple[str, ...] = ()
    dense_score: float | None = None  # cosine similarity to the question, when the dense side found it
    scope: tuple[str, ...] = ()  # the document applies when a question uses one of these words

    @classmethod
    def from_record(cls, meta: dict, text: str, score: float = 0.0) -> Passage:
        return cls(
            chunk_id=meta["chunk_id"],
            section_id=meta["section_id"],
            doc_id=meta["doc_id"],
            title=meta["title"],
            section=meta["section"],
            heading_path=tuple(meta["heading_path"]),
            text=text,
            score=score,
            kind=meta["kind"],
            source_url=meta["source_url"],
            version=meta["version"],
            last_reviewed=meta.get("last_reviewed", ""),
            line_start=meta["line_start"],
            line_end=meta["line_end"],
            audience=tuple(meta.get("audience", ())),
            dense_score=meta.get("dense_score"),
            scope=tuple(meta.get("scope") or ()),
        )

    @classmethod
    def from_document(cls, doc: Document) -> Passage:
        return cls.from_record(doc.meta, doc.content or "", float(doc.score or 0.0))
