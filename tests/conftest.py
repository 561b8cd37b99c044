"""Shared fixtures: a small real corpus and a real index built with the real model."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

import kb  # noqa: F401  (offline defaults first)
from kb.config import PROJECT_ROOT, Settings

SMALL_CORPUS_DOCS = [
    "responding-to-a-disclosure.md",
    "head-lice.md",
    "child-protection-plans-and-core-groups.md",
    "allegations-against-people-who-work-with-children.md",
    "contacts.yaml",
]


def copy_small_corpus(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for name in SMALL_CORPUS_DOCS:
        shutil.copy(PROJECT_ROOT / "corpus" / name, target / name)
    return target


@pytest.fixture(scope="session")
def corpus_copier():
    """`copy_small_corpus`, for tests and fixtures that need more than one copy."""
    return copy_small_corpus


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    return copy_small_corpus(tmp_path / "corpus")


@pytest.fixture
def settings(tmp_path: Path, small_corpus: Path) -> Settings:
    return Settings.from_env(environ={}, corpus_dir=small_corpus, data_dir=tmp_path / "data")


class Call:
    """One recorded call: its arguments and, once it returned, what it returned."""

    def __init__(self, args: tuple, kwargs: dict):
        self.args, self.kwargs, self.result = args, kwargs, None


@pytest.fixture
def spy(monkeypatch):
    """`spy(owner, "name")` wraps `owner.name` (a function of a module or a method of a class) so
    that every call is recorded and still runs; it returns the list of `Call`s. For tests that
    assert how much work was done (nothing parsed, no part unpacked) instead of how long it took."""

    def install(owner, name: str) -> list[Call]:
        original = getattr(owner, name)
        calls: list[Call] = []

        def recorded(*args, **kwargs):
            call = Call(args, kwargs)
            calls.append(call)
            call.result = original(*args, **kwargs)
            return call.result

        monkeypatch.setattr(owner, name, recorded)
        return calls

    return install


@pytest.fixture(scope="session")
def shipped_kb(tmp_path_factory):
    """The whole shipped corpus, indexed once for the session with the real model."""
    from kb.service import KnowledgeBase

    data = tmp_path_factory.mktemp("shipped-data")
    service = KnowledgeBase(Settings.from_env(environ={}, data_dir=data))
    service.index()
    yield service
    service.close()


def _empty_table(path: Path, create: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute(create)
    db.commit()
    db.close()


@pytest.fixture
def make_store():
    """A function that lays out hand-made generation folders (no model, no Qdrant): complete ones,
    incomplete ones and the served one, by number; it returns their GenerationStore."""
    from kb.index.generations import GenerationStore

    def make(data: Path, complete: list[int], incomplete: list[int] = (), current: int | None = None) -> GenerationStore:
        store = GenerationStore(data)
        for n in sorted([*complete, *incomplete]):
            gen = store.get(f"gen-{n:06d}")
            gen.path.mkdir(parents=True)
            gen.manifest_path.write_text(json.dumps({"generation": gen.name, "documents": {}, "chunk_count": 0}))
            _empty_table(gen.chunks_db, "CREATE TABLE chunks (id TEXT PRIMARY KEY, text TEXT)")
            _empty_table(gen.qdrant_path / "collection" / "chunks" / "storage.sqlite", "CREATE TABLE points (id TEXT PRIMARY KEY, point BLOB)")
            if n in complete:
                store.mark_complete(gen)
        if current is not None:
            store.publish(store.get(f"gen-{current:06d}"))
        return store

    return make
