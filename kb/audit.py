"""The editors' audit log: who unlocked the Editor, changed a document, re-indexed, published or
rolled back, and when.

One JSON line per action in `<data>/audit/audit.jsonl`: the time (UTC, ISO 8601), the editor's
name, the action, the document or index version it concerned, and the one-line reason the editor
gave. Never a question, a flow answer, a note or a document's text: an `Entry` has no field that
could hold them.

Many writers may append at once (the Editor page's sessions, the `kb` command): each line is one
`os.write` on a file opened with O_APPEND, under an exclusive `flock`, then synced, so lines never
interleave. A line torn by a crash is skipped by the reader, and the next line is written on a
line of its own. Recording never undoes or blocks the action it records: when a line cannot be
written (a full disk, a read-only folder), the failure is logged and the action stands.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path

from kb.files import sync_folder

log = logging.getLogger(__name__)

AUDIT_DIR = "audit"
AUDIT_FILE = "audit.jsonl"
MAX_EDITOR_CHARS = 80
MAX_REASON_CHARS = 300
_BLOCK = 64 * 1024
REQUIRED = ("at", "editor", "action")
NO_NAME = "not given"  # the editor's name when none was given, as in the documents' histories


class Action(Enum):
    UNLOCKED = "unlocked"
    UNLOCK_FAILED = "unlock failed"  # a wrong password, checked (not the tries refused unchecked during a wait)
    SAVED = "saved"
    UPLOADED = "uploaded"
    DELETED = "deleted"
    RESTORED = "restored"  # an earlier version of one document
    CORPUS_RESTORED = "corpus restored"  # after a rollback: the documents put back as they were in that version
    REINDEXED = "re-indexed"
    PUBLISHED = "published"
    PUBLISHED_DESPITE = "published despite the flow check"  # a flow served now would be dropped; the reason says why
    ROLLED_BACK = "rolled back"


@dataclass(frozen=True)
class Entry:
    """One editor action. Every field is a name, a time or the editor's one-line reason."""

    at: str  # ISO 8601, UTC
    editor: str
    action: Action
    document: str = ""  # the corpus file, for document actions
    generation: str = ""  # the index version built, published, rolled back to or restored from
    previous: str = ""  # the index version served before (publish, rollback, re-index)
    reason: str = ""

    def as_dict(self) -> dict[str, str]:
        """The entry as its log line holds it: the fields that are not empty."""
        return {key: value for key, value in {**asdict(self), "action": self.action.value}.items() if value or key in REQUIRED}

    @classmethod
    def from_dict(cls, data: object) -> Entry:
        """The entry a log line holds; ValueError when it is not one."""
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ValueError("not an audit entry")
        return cls(**{**data, "action": Action(data.get("action"))})

    def describe(self, version: Callable[[str], str] = str) -> str:
        """The entry in plain words, without its time: 'Sam saved head-lice.md: fixed the dates.'
        `version` names an index version (the Editor page: 'the version built 2 December 2026 at
        15:40 by Sam'); by default it is named as the log keeps it (gen-000004)."""
        who = "Someone who gave no name" if self.editor == NO_NAME else self.editor
        doc = self.document
        gen, was = (version(name) if name else "" for name in (self.generation, self.previous))
        what = {
            Action.UNLOCKED: f"{who} unlocked the Editor",
            Action.UNLOCK_FAILED: f"A wrong Editor password was given, under the name {who}",
            Action.SAVED: f"{who} saved {doc}",
            Action.UPLOADED: f"{who} uploaded {doc}",
            Action.DELETED: f"{who} deleted {doc} (its text is kept in its history)",
            Action.RESTORED: f"{who} restored an earlier version of {doc}",
            Action.CORPUS_RESTORED: f"{who} put the documents back as they were in {gen}",
            Action.REINDEXED: f"{who} re-indexed; nothing had changed, so {gen} kept serving" if gen and gen == was else f"{who} re-indexed the documents into {gen}",
            Action.PUBLISHED: f"{who} published {gen}" + (f" instead of {was}" if was else ""),
            Action.PUBLISHED_DESPITE: f"{who} published {gen}" + (f" instead of {was}" if was else "") + " although a guided flow would no longer be offered",
            Action.ROLLED_BACK: f"{who} rolled back from {was} to {gen}",
        }[self.action]
        if self.reason:
            what += f", because: {self.reason}" if self.action is Action.PUBLISHED_DESPITE else f": {self.reason}"
        return what if what.endswith((".", "!", "?")) else what + "."


class AuditLog:
    """The append-only log of editor actions in the data folder."""

    def __init__(self, data_dir: Path | str):
        self.path = Path(data_dir) / AUDIT_DIR / AUDIT_FILE

    def record(self, action: Action, editor: str, *, document: str = "", generation: str = "", previous: str = "", reason: str = "") -> Entry | None:
        """Append one entry; returns it, or None when it could not be written (logged, never raised)."""
        entry = Entry(
            at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            editor=one_line(editor, MAX_EDITOR_CHARS) or NO_NAME,
            action=Action(action),
            document=one_line(document, 255),
            generation=one_line(generation, 80),
            previous=one_line(previous, 80),
            reason=one_line(reason, MAX_REASON_CHARS),
        )
        line = (json.dumps(entry.as_dict(), ensure_ascii=False) + "\n").encode("utf-8")
        try:
            self._append(line)
        except OSError as exc:
            log.error("the audit log %s could not be written (%s), so this was not recorded: %s", self.path, exc.strerror or exc, entry.describe())
            return None
        return entry

    def read(self, limit: int | None = None) -> list[Entry]:
        """Newest first, at most `limit` entries. Lines that are not whole entries (one torn by a
        crash while it was written) are skipped. Reads from the end, so a long log stays quick."""
        if limit is not None and limit < 1:
            return []
        entries: list[Entry] = []
        for line in self._lines_newest_first():
            try:
                entries.append(Entry.from_dict(json.loads(line)))
            except (ValueError, TypeError):
                continue
            if limit is not None and len(entries) >= limit:
                break
        return entries

    def _append(self, line: bytes) -> None:
        folder = self.path.parent
        created = not self.path.exists()
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released by close
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # after a torn line: start on a line of our own
            if os.write(fd, line) != len(line):
                raise OSError(errno.ENOSPC, "only part of the line could be written")
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            sync_folder(folder)

    def _lines_newest_first(self) -> Iterator[bytes]:
        try:
            fh = open(self.path, "rb")
        except FileNotFoundError:
            return
        except OSError as exc:
            log.error("the audit log %s could not be read: %s", self.path, exc.strerror or exc)
            return
        with fh:
            position = fh.seek(0, os.SEEK_END)
            rest = b""
            while position > 0:
                step = min(_BLOCK, position)
                position -= step
                fh.seek(position)
                lines = (fh.read(step) + rest).split(b"\n")
                rest = lines.pop(0)  # perhaps the end of a line that starts in the block before
                yield from (line for line in reversed(lines) if line.strip())
            if rest.strip():
                yield rest


def one_line(text: object, limit: int) -> str:
    """Text as one line of at most `limit` characters (line breaks and runs of spaces become one space)."""
    return " ".join(str(text or "").split())[:limit]
