"""Index generations in the data folder, switched atomically.

    data/
      CURRENT                 the name of the generation being served (replaced atomically)
      generations/gen-000007/ manifest.json, report.json, chunks.sqlite, qdrant/ (local mode), COMPLETE
      embeddings.sqlite       the embedding cache
      index.lock              held by the one re-index that may run at a time

A re-index builds a new generation beside the served one and only then rewrites CURRENT, so a
crash or kill at any moment leaves the previous generation serving. A re-index may also stop
short of rewriting CURRENT: the complete generation is then *staged*, built but not served, until
it is published (the publish gate). Each generation keeps the report of the re-index that built it
(`report.json`: who built it, the documents skipped and why), so every session, after a reload
too, can show it beside Publish. Incomplete generations are removed by the next re-index; the
last few complete ones up to the served one are kept for rollback, and so is the newest staged one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from kb.config import Settings
from kb.errors import IndexBusyError, IndexDamagedError, IndexNotReadyError, KBError
from kb.files import sync_folder

log = logging.getLogger(__name__)

GENERATION_PATTERN = re.compile(r"^gen-(\d{6})$")
COMPLETE_MARKER = "COMPLETE"
MANIFEST = "manifest.json"
BUILD_REPORT = "report.json"


@dataclass(frozen=True)
class Generation:
    name: str
    path: Path

    @property
    def number(self) -> int:
        return int(self.name.split("-")[1])

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def chunks_db(self) -> Path:
        return self.path / "chunks.sqlite"

    @property
    def qdrant_path(self) -> Path:
        return self.path / "qdrant"

    @property
    def report_path(self) -> Path:
        return self.path / BUILD_REPORT

    def is_complete(self) -> bool:
        return (self.path / COMPLETE_MARKER).exists()

    def build_report(self) -> dict | None:
        """The report of the re-index that built this generation (`IndexReport.as_dict()` plus
        `editor`), or None for a generation built before reports were kept (or unreadable)."""
        try:
            report = json.loads(self.report_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return report if isinstance(report, dict) else None

    def manifest(self) -> dict:
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KBError(f"index generation {self.name} has no readable manifest ({exc}); run 'kb index' to build a new one") from exc


class GenerationStore:
    def __init__(self, data_dir: Path, local_vectors: bool = True):
        self.root = Path(data_dir)
        self.local_vectors = local_vectors  # False with a Qdrant server: vectors are not in the folders
        self.generations_dir = self.root / "generations"
        self.current_file = self.root / "CURRENT"

    # reading

    def current_name(self) -> str | None:
        try:
            name = self.current_file.read_bytes().decode("utf-8", errors="replace").strip()
        except FileNotFoundError:
            return None
        return name or None

    def current(self) -> Generation:
        name = self.current_name()
        if name is None:
            raise IndexNotReadyError(f"no index in {self.root}: run 'kb index' to build one from the corpus")
        if not GENERATION_PATTERN.match(name):
            raise IndexDamagedError(f"{self.current_file} holds {name[:40]!r}, not an index generation name (gen-NNNNNN); run 'kb index' to rebuild the index")
        gen = self.get(name)
        if not gen.is_complete():
            raise IndexDamagedError(f"the served index generation {name} is missing or incomplete; run 'kb index --rollback' or 'kb index'")
        return gen

    def whole_current_or_none(self) -> Generation | None:
        """The served generation, or None when there is none or it is damaged."""
        try:
            return self.current()
        except KBError:
            return None

    def current_or_none(self) -> Generation | None:
        try:
            return self.current()
        except IndexNotReadyError:
            return None

    def get(self, name: str) -> Generation:
        if not GENERATION_PATTERN.match(name):
            raise KBError(f"{name!r} is not an index generation name (expected gen-NNNNNN)")
        return Generation(name, self.generations_dir / name)

    def all(self) -> list[Generation]:
        if not self.generations_dir.is_dir():
            return []
        gens = [Generation(p.name, p) for p in self.generations_dir.iterdir() if GENERATION_PATTERN.match(p.name)]
        return sorted(gens, key=lambda g: g.number)

    def complete(self) -> list[Generation]:
        return [g for g in self.all() if g.is_complete()]

    @classmethod
    def of(cls, settings: Settings) -> GenerationStore:
        return cls(settings.data_dir, local_vectors=not settings.qdrant_url)

    def verify(self, gen: Generation) -> list[str]:
        """What is wrong with a generation's files, or [] when it looks whole.

        Cheap enough to run whenever a generation is opened: the manifest parses and names it,
        the chunk table passes SQLite's quick check and holds the manifest's chunk count, and (in
        local mode) the Qdrant folder is there. The vector count is checked when the store opens.
        """
        if not gen.is_complete():
            return [f"{gen.name} is incomplete (no {COMPLETE_MARKER} marker)"]
        try:
            manifest = gen.manifest()
        except KBError as exc:
            return [str(exc)]
        problems = []
        if not isinstance(manifest, dict) or manifest.get("generation") != gen.name or not isinstance(manifest.get("documents"), dict):
            return [f"{gen.manifest_path} is not the manifest of {gen.name}"]
        problems += _check_chunk_table(gen.chunks_db, manifest.get("chunk_count"))
        if self.local_vectors:
            problems += _check_local_vectors(gen.qdrant_path, manifest.get("chunk_count"))
        return problems

    def check(self, gen: Generation, label: str = "index generation") -> Generation:
        """`gen` when its files are whole; otherwise IndexDamagedError saying what is wrong."""
        problems = self.verify(gen)
        if problems:
            raise IndexDamagedError(f"{label} {gen.name} is damaged: {'; '.join(problems)}")
        return gen

    # writing (call under `lock()`)

    @contextlib.contextmanager
    def lock(self):
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "index.lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise IndexBusyError(f"another re-index is running on {self.root}; wait for it to finish") from exc
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def new_generation(self) -> Generation:
        existing = self.all()
        # Never reuse a name, even one whose folder was lost: a reader may remember it as damaged.
        number = max([g.number for g in existing] + [self._served_number()]) + 1
        gen = Generation(f"gen-{number:06d}", self.generations_dir / f"gen-{number:06d}")
        gen.path.mkdir(parents=True)
        return gen

    def mark_complete(self, gen: Generation) -> None:
        _fsync_tree(gen.path)
        _atomic_write(gen.path / COMPLETE_MARKER, gen.name)

    def publish(self, gen: Generation) -> None:
        if not gen.is_complete():
            raise KBError(f"refusing to serve incomplete generation {gen.name}")
        _atomic_write(self.current_file, gen.name)
        log.info("now serving index generation %s", gen.name)

    def previous_of(self, name: str) -> Generation | None:
        older = [g for g in self.complete() if g.number < int(name.split("-")[1])]
        return older[-1] if older else None

    def staged(self) -> Generation | None:
        """The newest complete generation newer than the served one (built, not yet published), or None."""
        served = self._served_number()
        newer = [g for g in self.complete() if g.number > served]
        return newer[-1] if newer else None

    def drop_staged(self) -> list[str]:
        """Remove every generation newer than the served one (staged, or rolled back from): after a
        re-index found the corpus the same as the served one, none of them matches the corpus."""
        if self.current_name() is None or not GENERATION_PATTERN.match(self.current_name()):
            return []  # nothing served, or CURRENT damaged: keep them all
        served = self._served_number()
        return self._remove([g for g in self.all() if g.number > served])

    def drop_unserved_before(self, gen: Generation) -> list[str]:
        """Before `gen` is published: remove the generations between the served one and `gen`.

        They were staged and never published, or rolled back from; either way, rolling back from
        `gen` must return to the generation served before it, not to one of them.
        """
        if self.current_name() and not GENERATION_PATTERN.match(self.current_name()):
            return []  # CURRENT is damaged: which generations were served is unknown, so keep them all
        served = self._served_number()
        return self._remove([g for g in self.all() if served < g.number < gen.number])

    def prune(self, keep: int) -> list[str]:
        """Remove incomplete generations and all complete ones except: the served one and the `keep`
        newest up to it (for rollback), and the newest staged one (waiting to be published)."""
        served = self._served_number()
        complete = self.complete()
        history = [g for g in complete if g.number <= served]
        staged = [g for g in complete if g.number > served]
        keep_names = {g.name for g in history[-keep:]} | {g.name for g in staged[-1:]}
        current = self.current_name()
        if current:
            keep_names.add(current)
        return self._remove([g for g in self.all() if g.name not in keep_names])

    def _served_number(self) -> int:
        """The served generation's number; 0 when nothing is served (so every generation is newer)."""
        name = self.current_name()
        match = GENERATION_PATTERN.match(name) if name else None
        return int(match.group(1)) if match else 0

    def _remove(self, gens: list[Generation]) -> list[str]:
        for gen in gens:
            shutil.rmtree(gen.path, ignore_errors=True)
            log.info("removed index generation %s", gen.name)
        return [g.name for g in gens]


def _check_chunk_table(path: Path, expected: object) -> list[str]:
    return _check_sqlite_table(path, "chunks", expected, "chunks")


def _check_local_vectors(qdrant_path: Path, expected: object) -> list[str]:
    """Qdrant's local mode keeps a collection's points in `collection/<name>/storage.sqlite`."""
    stores = sorted((qdrant_path / "collection").glob("*/storage.sqlite"))
    if not stores:
        return [f"{qdrant_path} holds no Qdrant collection"]
    return [problem for store in stores for problem in _check_sqlite_table(store, "points", expected, "vectors")]


def _check_sqlite_table(path: Path, table: str, expected: object, what: str) -> list[str]:
    if not path.is_file():
        return [f"{path} is missing"]
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            verdict = db.execute("PRAGMA quick_check").fetchone()[0]
            count = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if verdict == "ok" else None
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return [f"{path} is not readable ({exc})"]
    if verdict != "ok":
        return [f"{path} is damaged (SQLite quick check: {verdict})"]
    if count != expected:
        return [f"{path} holds {count} {what} where the manifest says {expected}"]
    return []


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    sync_folder(path.parent)


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            try:
                fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            except OSError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        sync_folder(Path(dirpath))
