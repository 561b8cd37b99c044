"""Editors' unsaved drafts, kept on disk so that a browser reload, a lost connection or a restart of
the app does not lose them.

One file per editor and document: `<data>/drafts/<editor-name-slug>/<document file name>.json`,
holding the document's text as the editor left it, the version it was based on (`base_of` the text
it started from, so that saving it still refuses to overwrite someone else's change) and when it
was kept. Nothing else: no reason, no notes, no password, no other editor's text. A draft is
written whole to a temporary file and renamed into place, so a crash leaves the old draft or the
new one. The Editor keeps it when the editor types (the text area's change) and removes it when the
document is saved or the draft discarded; after unlocking again under the same name, it offers
each one back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from kb.errors import EditorError
from kb.files import sync_folder, write_whole
from kb.index.documents import CONTACTS_FILE, MAX_DOCUMENT_BYTES
from kb.text import slugify

log = logging.getLogger(__name__)

DRAFTS_DIR = "drafts"
MAX_DRAFT_BYTES = 2 * MAX_DOCUMENT_BYTES  # a draft may be over the document limit while it is being cut down; not without end
_DOCUMENT = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}\.md$")  # as kb.editor names corpus documents


@dataclass(frozen=True)
class Draft:
    document: str  # the corpus file, e.g. "head-lice.md"
    text: str
    base: str  # what it was based on: base_of(the text it started from); "" for a new document
    saved_at: str  # ISO 8601, UTC


def editor_folder_name(editor: str) -> str:
    """The editor's name as a folder name: 'Sam Smith' -> 'sam-smith' (a name with no letters or
    digits in the Latin alphabet gets one made from its digest, so it is still the editor's own)."""
    name = " ".join(str(editor or "").split())
    return slugify(name, limit=60) or f"editor-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:12]}"


class DraftStore:
    """One editor's drafts."""

    def __init__(self, data_dir: Path | str, editor: str):
        self.folder = Path(data_dir) / DRAFTS_DIR / editor_folder_name(editor)

    def keep(self, document: str, text: str, base: str) -> Draft:
        """Write (or replace) the draft of `document`, atomically."""
        path = self._path(document)
        draft = Draft(document, str(text), str(base), _now())
        data = json.dumps(asdict(draft), ensure_ascii=False).encode("utf-8")
        if len(data) > MAX_DRAFT_BYTES:
            raise EditorError(
                f"the draft of {document} is {len(data) / 1024:,.0f} KB, too large to keep (the limit is {MAX_DRAFT_BYTES // 1024:,} KB): cut it down, or save it in parts"
            )
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_whole(path, data)
            sync_folder(self.folder)
        except OSError as exc:
            raise EditorError(f"could not keep the draft of {document} in {self.folder}: {exc.strerror or exc}") from exc
        return draft

    def get(self, document: str) -> Draft | None:
        return self._read(self._path(document))

    def all(self) -> list[Draft]:
        """Every draft of this editor, the most recently kept first."""
        if not self.folder.is_dir():
            return []
        drafts = [d for path in self.folder.glob("*.json") if not path.name.startswith(".") and (d := self._read(path)) is not None]
        return sorted(drafts, key=lambda d: d.saved_at, reverse=True)

    def drop(self, document: str) -> None:
        """Remove the draft of `document` (saved or discarded); no draft is no error."""
        path = self._path(document)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove the draft %s: %s", path, exc.strerror or exc)

    def _path(self, document: str) -> Path:
        document = str(document or "")
        if document != CONTACTS_FILE and not _DOCUMENT.match(document):
            raise EditorError(f"document name {document!r} is not allowed for a draft: use the corpus file's name, e.g. 'making-a-referral.md'")
        return self.folder / f"{document}.json"

    @staticmethod
    def _read(path: Path) -> Draft | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            draft = Draft(**data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            log.warning("skipped the draft %s, which is not readable: %s", path, exc)
            return None
        if f"{draft.document}.json" != path.name or not all(isinstance(v, str) for v in asdict(draft).values()):
            log.warning("skipped the draft %s, which is not the draft its name says", path)
            return None
        return draft


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
