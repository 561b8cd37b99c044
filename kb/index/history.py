"""What's new: the documents and sections each published index changed, newest first.

Nothing here is typed by hand. When a generation starts serving (a publish after `kb index`, or a
rollback), the change from the generation served before it is worked out from the two manifests
(document and section hashes) and appended as one JSON line to `history.jsonl` in the data
folder. A data folder without history (a fresh clone, or one indexed before history was kept)
shows the changes between the generations still kept, so the page is never empty after an index.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from kb.index.chunk_db import read_chunks
from kb.index.generations import Generation, GenerationStore

log = logging.getLogger(__name__)

HISTORY_FILE = "history.jsonl"


@dataclass(frozen=True)
class DocumentChange:
    doc_id: str
    title: str
    change: str  # "added", "changed" or "removed"
    sections_added: tuple[str, ...] = ()  # section headings
    sections_changed: tuple[str, ...] = ()
    sections_removed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Release:
    generation: str
    date: str  # ISO 8601, UTC: when it started serving (or, rebuilt from kept generations, when it was built)
    event: str  # "published" or "rolled back"
    previous: str | None
    documents: tuple[DocumentChange, ...] = field(default=())

    @property
    def day(self) -> str:
        return self.date[:10]


def changes_between(old: Generation | None, new: Generation) -> tuple[DocumentChange, ...]:
    """Documents added, changed and removed from `old` to `new`, with the sections that changed."""
    before = old.manifest() if old is not None else {"documents": {}, "sections": {}}
    after = new.manifest()
    old_docs, new_docs = before.get("documents", {}), after.get("documents", {})
    old_secs, new_secs = before.get("sections", {}), after.get("sections", {})
    out = []
    headings: dict[str, str] | None = None  # section headings, read from the chunks only when a document changed
    for doc_id in sorted(set(old_docs) | set(new_docs)):
        if doc_id in new_docs and doc_id in old_docs and new_docs[doc_id].get("hash") == old_docs[doc_id].get("hash"):
            continue
        change = "added" if doc_id not in old_docs else "removed" if doc_id not in new_docs else "changed"
        title = (new_docs.get(doc_id) or old_docs.get(doc_id) or {}).get("title", doc_id)
        if change != "changed":
            out.append(DocumentChange(doc_id, title, change))
            continue
        if headings is None:
            headings = {**_headings(old), **_headings(new)}
        was, now = _of_document(old_secs, doc_id), _of_document(new_secs, doc_id)
        out.append(
            DocumentChange(
                doc_id,
                title,
                change,
                _named(headings, set(now) - set(was)),
                _named(headings, {s for s in set(now) & set(was) if now[s] != was[s]}),
                _named(headings, set(was) - set(now)),
            )
        )
    return tuple(out)


def record(data_dir: Path, old: Generation | None, new: Generation, event: str = "published") -> Release | None:
    """Append what changed when `new` started serving. A failure is logged, never raised: the
    index is already serving, and the history is a record of it, not a part of it."""
    try:
        release = Release(new.name, _now(), event, old.name if old else None, changes_between(old, new))
        line = json.dumps(asdict(release), ensure_ascii=False)
        path = Path(data_dir) / HISTORY_FILE
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        return release
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.warning("could not record what changed in %s: %s", new.name, exc)
        return None


def read(data_dir: Path, store: GenerationStore | None = None) -> list[Release]:
    """Every recorded release, newest first; without a history file, the kept generations'."""
    path = Path(data_dir) / HISTORY_FILE
    releases: list[Release] = []
    if path.is_file():
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                releases.append(_release(json.loads(line)))
            except (ValueError, TypeError, KeyError) as exc:
                log.warning("%s line %d is not a release record (%s); skipped", path, n, exc)
    if not releases and store is not None:
        releases = _from_kept(store)
    return releases[::-1]  # recorded in the order they happened


def last_changed(releases: list[Release]) -> dict[str, str]:
    """doc id -> the day its text last changed in a published index (from the newest release)."""
    out: dict[str, str] = {}
    for release in releases:  # newest first
        if release.event != "published":
            continue
        for doc in release.documents:
            if doc.change != "removed":
                out.setdefault(doc.doc_id, release.day)
    return out


def _from_kept(store: GenerationStore) -> list[Release]:
    kept = [g for g in store.complete() if g.number <= (store.current_or_none() or g).number]
    out, previous = [], None
    for gen in kept:
        try:
            out.append(Release(gen.name, gen.manifest().get("created", ""), "published", previous.name if previous else None, changes_between(previous, gen)))
        except Exception as exc:  # noqa: BLE001 - a damaged kept generation is left out of the record
            log.warning("could not read what changed in %s: %s", gen.name, exc)
        previous = gen
    return out


def _named(headings: dict[str, str], section_ids: set[str]) -> tuple[str, ...]:
    return tuple(headings.get(s, s.split("#", 1)[-1]) for s in sorted(section_ids))


def _of_document(sections: dict[str, str], doc_id: str) -> dict[str, str]:
    return {sid: h for sid, h in sections.items() if sid.split("#", 1)[0] == doc_id}


def _headings(gen: Generation | None) -> dict[str, str]:
    if gen is None:
        return {}
    try:
        return {r["section_id"]: r.get("section") or r["section_id"] for r in read_chunks(gen.chunks_db)}
    except Exception:  # noqa: BLE001 - headings are a nicety; the section id stands in
        return {}


def _release(data: dict) -> Release:
    docs = tuple(
        DocumentChange(
            d["doc_id"],
            d["title"],
            d["change"],
            tuple(d.get("sections_added", ())),
            tuple(d.get("sections_changed", ())),
            tuple(d.get("sections_removed", ())),
        )
        for d in data.get("documents", ())
    )
    return Release(data["generation"], data["date"], data["event"], data.get("previous"), docs)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
