"""Every version of every corpus document the Editor writes, kept crash-safe, with who, when and why.

A document's history lives in `<data>/document-history/<file name>/`: one file per version
(`v000001.md`, written whole and renamed into place) and `log.jsonl`, one line per version,
appended and synced after its file. A save writes the version's file, then the corpus file, then
the log line, so a crash leaves either no trace, or a version file without its line (ignored, and
never numbered over) beside the old or the new corpus text; a torn last line is ignored too. The
history always reads as a consistent list, and the text of every version it lists is on disk.

Actions: "found" (the text that was in the corpus before the Editor first changed it), "saved",
"uploaded", "restored" (a new version with an earlier one's text) and "deleted" (no text).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from kb.errors import EditorError
from kb.files import write_whole

log = logging.getLogger(__name__)

HISTORY_DIR = "document-history"
LOG_FILE = "log.jsonl"
ACTIONS = ("found", "saved", "uploaded", "restored", "deleted")
_VERSION_FILE = re.compile(r"^v(\d{6})\.md$")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Version:
    number: int
    action: str
    editor: str
    reason: str
    at: str  # ISO 8601, UTC
    digest: str  # of the text; "" for a deletion
    restored_from: int | None = None

    @property
    def has_text(self) -> bool:
        return self.action != "deleted"


class DocumentHistory:
    """The kept versions of the corpus documents, in the data folder (not in the corpus)."""

    def __init__(self, data_dir: Path | str):
        self.root = Path(data_dir) / HISTORY_DIR

    # reading

    def versions(self, name: str) -> list[Version]:
        """Oldest first; only versions whose line and (but for deletions) text are both on disk."""
        folder = self._folder(name)
        path = folder / LOG_FILE
        if not path.is_file():
            return []
        out: list[Version] = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                version = Version(**json.loads(line))
            except (ValueError, TypeError):
                continue  # a line torn by a crash while it was appended
            if version.has_text and not self._text_path(name, version.number).is_file():
                continue
            out.append(version)
        return out

    def version(self, name: str, number: int) -> Version:
        for version in self.versions(name):
            if version.number == number:
                return version
        known = ", ".join(str(v.number) for v in self.versions(name)) or "none"
        raise EditorError(f"{name} has no version {number} in its history (versions: {known})")

    def text(self, name: str, number: int) -> str:
        version = self.version(name, number)
        if not version.has_text:
            raise EditorError(f"version {number} of {name} is its deletion, which has no text: choose an earlier version")
        return self._text_path(name, number).read_text(encoding="utf-8")

    def latest(self, name: str) -> Version | None:
        versions = self.versions(name)
        return versions[-1] if versions else None

    def made(self, name: str, text: str | None) -> Version | None:
        """The version that made `name` what it is now: the newest one with `text` (for None, the
        newest version, when it is a deletion). None when the history does not hold it (written by
        hand, outside the Editor), or the newest such version is only the text the Editor found."""
        versions = self.versions(name)
        if text is None:
            found = versions[-1] if versions and not versions[-1].has_text else None
        else:
            found = next((v for v in reversed(versions) if v.digest == digest(text)), None)
        return None if found is None or found.action == "found" else found

    # writing

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One writer at a time, across threads and processes (the Editor page and the CLI)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def record(self, name: str, action: str, text: str | None, editor: str, reason: str, restored_from: int | None = None) -> Version:
        """Keep `text` as the newest version of `name` (call it inside `locked()`)."""
        number = self.write_text(name, text) if text is not None else self._next_number(name)
        return self.log(name, number, action, text, editor, reason, restored_from)

    def write_text(self, name: str, text: str) -> int:
        """Step one of keeping a version: its text, under the next number, not yet in the log (a
        crash now leaves an orphan file that reads as nothing). Inside `locked()`."""
        self._folder(name).mkdir(parents=True, exist_ok=True)
        number = self._next_number(name)
        write_whole(self._text_path(name, number), text)
        return number

    def log(self, name: str, number: int, action: str, text: str | None, editor: str, reason: str, restored_from: int | None = None) -> Version:
        """Step two: the version's line in the log, appended and synced. Inside `locked()`."""
        if action not in ACTIONS:
            raise ValueError(f"unknown history action {action!r}; one of {', '.join(ACTIONS)}")
        folder = self._folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        version = Version(
            number=number,
            action=action,
            editor=" ".join(str(editor or "").split())[:80] or "not given",
            reason=" ".join(str(reason or "").split())[:200],
            at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            digest=digest(text) if text is not None else "",
            restored_from=restored_from,
        )
        path = folder / LOG_FILE
        torn = path.is_file() and path.stat().st_size and not path.read_bytes().endswith(b"\n")
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(("\n" if torn else "") + json.dumps(asdict(version)) + "\n")  # a torn line stays on its own
            fh.flush()
            os.fsync(fh.fileno())
        log.info("history: %s version %d (%s by %s)", name, number, action, version.editor)
        return version

    def keep_found(self, name: str, current: str | None, editor: str) -> None:
        """Before the Editor changes a document, keep the text it is replacing when the history
        does not hold it yet (a document written by hand, or before histories were kept)."""
        if current is None:
            return
        latest = self.latest(name)
        if latest is None or latest.digest != digest(current):
            self.record(name, "found", current, editor, "the text in the corpus before this change")

    # paths

    def _folder(self, name: str) -> Path:
        if "/" in name or "\\" in name or name.startswith("."):
            raise EditorError(f"{name!r} is not a corpus document name")
        return self.root / name

    def _text_path(self, name: str, number: int) -> Path:
        return self._folder(name) / f"v{number:06d}.md"

    def _next_number(self, name: str) -> int:
        """After every number in the log and every version file, including one a crash orphaned."""
        numbers = [v.number for v in self.versions(name)]
        for path in self._folder(name).iterdir():
            if m := _VERSION_FILE.match(path.name):
                numbers.append(int(m.group(1)))
        return max(numbers, default=0) + 1
