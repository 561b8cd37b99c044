"""The chunk table of a generation, with its SQLite FTS5 full-text index (BM25).

Every generation has one `chunks.sqlite`: the chunks' text and metadata (what citations,
flows and the editor read) and an FTS5 table over heading and text for lexical search.
"""

from __future__ import annotations

import json
import re
import sqlite3
from array import array
from pathlib import Path

SCHEMA = """
CREATE TABLE chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT UNIQUE NOT NULL,
    doc_id TEXT NOT NULL,
    section_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    audience TEXT NOT NULL,
    text TEXT NOT NULL,
    meta TEXT NOT NULL
);
CREATE INDEX chunks_doc ON chunks(doc_id);
CREATE INDEX chunks_section ON chunks(section_id);
CREATE VIRTUAL TABLE chunks_fts USING fts5(heading, text, content='', tokenize='porter unicode61');
CREATE TABLE phrasings (
    rowid INTEGER PRIMARY KEY,
    section_id TEXT NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL
);
"""

WORD = re.compile(r"[^\W_]+", re.UNICODE)


def section_phrasings(records: list[dict]) -> list[tuple[str, str]]:
    """(section id, question) pairs for every section: its heading question and the ways people
    ask it ('Also asked as'), matched against questions by the section ranker."""
    out: list[tuple[str, str]] = []
    for record in records:
        if record.get("part", 1) != 1:
            continue
        if record.get("slug") != "overview" and record.get("section"):
            out.append((record["section_id"], record["section"]))
        out.extend((record["section_id"], phrasing) for phrasing in record.get("asked_as") or ())
    return out


def write_chunk_db(path: Path, records: list[dict], phrasing_vectors: list[tuple[str, str, list[float]]] = ()) -> None:
    """Write a generation's chunk table and its full-text index from chunk records (`Chunk.record()`),
    and the sections' phrasings with their embeddings: (section id, text, vector)."""
    db = sqlite3.connect(path)
    try:
        with db:
            db.executescript(SCHEMA)
            for rowid, record in enumerate(records, start=1):
                meta = {k: v for k, v in record.items() if k != "text"}
                db.execute(
                    "INSERT INTO chunks (rowid, id, doc_id, section_id, kind, audience, text, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (rowid, meta["chunk_id"], meta["doc_id"], meta["section_id"], meta["kind"], " ".join(meta["audience"]), record["text"], json.dumps(meta)),
                )
                heading = " ".join([meta["title"], *meta["heading_path"][1:], *(meta.get("asked_as") or ())])
                db.execute("INSERT INTO chunks_fts (rowid, heading, text) VALUES (?, ?, ?)", (rowid, heading, record["text"]))
            db.executemany(
                "INSERT INTO phrasings (section_id, text, vector) VALUES (?, ?, ?)",
                [(sid, text, array("f", vector).tobytes()) for sid, text, vector in phrasing_vectors],
            )
    finally:
        db.close()


def open_read_only(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    db.row_factory = sqlite3.Row
    return db


def row_to_record(row: sqlite3.Row) -> dict:
    meta = json.loads(row["meta"])
    return {**meta, "text": row["text"]}


def read_chunks(path: Path, doc_id: str | None = None) -> list[dict]:
    """All chunk records of a generation (or of one document), in index order."""
    db = open_read_only(path)
    try:
        if doc_id is None:
            rows = db.execute("SELECT * FROM chunks ORDER BY rowid")
        else:
            rows = db.execute("SELECT * FROM chunks WHERE doc_id = ? ORDER BY rowid", (doc_id,))
        return [row_to_record(r) for r in rows]
    finally:
        db.close()


def fts_query(text: str, stopwords: frozenset[str]) -> str:
    """An FTS5 MATCH expression: every meaningful word of the question, quoted, OR-ed."""
    words = []
    for word in WORD.findall(text.lower()):
        if word in stopwords or len(word) < 2 and not word.isdigit():
            continue
        if word not in words:
            words.append(word)
    return " OR ".join(f'"{w}"' for w in words[:64])


def read_phrasings(db: sqlite3.Connection) -> list[tuple[str, str, bytes]]:
    """(section id, text, float32 vector bytes) of every phrasing; none in a generation built before phrasings."""
    try:
        return [(r["section_id"], r["text"], r["vector"]) for r in db.execute("SELECT section_id, text, vector FROM phrasings ORDER BY rowid")]
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
