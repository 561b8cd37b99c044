"""A content-addressed cache of embeddings, so unchanged text is never embedded twice.

Keyed by the model's name and the SHA-256 of the exact text embedded; shared by all
generations in the data folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from array import array
from pathlib import Path

log = logging.getLogger(__name__)


def _is_damage(exc: sqlite3.OperationalError) -> bool:
    return "malformed" in str(exc) or "not a database" in str(exc)


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """A damaged cache file is moved aside (`embeddings.sqlite.damaged`) and a new one started:
    it only saves time, so losing it costs one full embedding run, never the index."""

    def __init__(self, path: Path, model: str):
        self.path = Path(path)
        self.model = model
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and not _is_damage(exc):
                raise  # a full disk or a read-only folder: the caller reports it
            aside = self.path.with_name(self.path.name + ".damaged")
            log.warning("the embedding cache %s is damaged (%s); moved it to %s and starting a new one", self.path, exc, aside)
            os.replace(self.path, aside)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        try:
            db.execute("CREATE TABLE IF NOT EXISTS embeddings (model TEXT, key TEXT, vector BLOB, PRIMARY KEY (model, key))")
            verdict = db.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                raise sqlite3.DatabaseError(f"quick check: {verdict}")
        except BaseException:
            db.close()
            raise
        return db

    def get_many(self, keys: list[str]) -> dict[str, list[float]]:
        found: dict[str, list[float]] = {}
        for start in range(0, len(keys), 500):
            batch = keys[start : start + 500]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(f"SELECT key, vector FROM embeddings WHERE model = ? AND key IN ({marks})", [self.model, *batch])
            for key, blob in rows:
                found[key] = array("f", blob).tolist()
        return found

    def known(self, keys: set[str]) -> set[str]:
        """Which of `keys` the cache holds (without reading their vectors)."""
        found: set[str] = set()
        ordered = list(keys)
        for start in range(0, len(ordered), 500):
            batch = ordered[start : start + 500]
            marks = ",".join("?" * len(batch))
            found.update(k for (k,) in self._db.execute(f"SELECT key FROM embeddings WHERE model = ? AND key IN ({marks})", [self.model, *batch]))
        return found

    def put_many(self, items: dict[str, list[float]]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings (model, key, vector) VALUES (?, ?, ?)",
                [(self.model, key, array("f", vector).tobytes()) for key, vector in items.items()],
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
