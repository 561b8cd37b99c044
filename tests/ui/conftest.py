"""Shared set-up for the app's tests: the shipped corpus copied from corpus/ (the guided flows are
served only when every section they cite is in the index), settings pointed at it.

`ui_env` only sets the environment (cheap); `app_index` also builds the index once with the real
model, for the tests that ask questions or walk flows. st.cache_resource is process-wide, so the
page tests of one module share one cached Settings and KnowledgeBase; the cache is cleared and the
environment restored when the module ends.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections import deque
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the pages import ui.common

PAGES = ROOT / "ui" / "views"
ENV_KEYS = ("KB_CORPUS_DIR", "KB_DATA_DIR", "KB_EDITOR_PASSWORD", "KB_EDITOR_PASSWORD_SHA256", "KB_EDITOR_PASSWORD_HASH")


def copy_small_corpus(dest: Path) -> Path:
    """The shipped documents, contacts and flows, copied so that an edit to the shipped ones during
    a run does not change what the tests serve (its language rules are the shipped ones)."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "corpus").iterdir()):
        if path.is_file() and path.suffix in (".md", ".yaml") and path.name != "README.md":
            shutil.copy(path, dest / path.name)
    shutil.copytree(ROOT / "corpus" / "flows", dest / "flows", ignore=shutil.ignore_patterns("README.md"), dirs_exist_ok=True)
    return dest


def build_index(corpus: Path, data: Path) -> None:
    from kb.config import Settings
    from kb.service import KnowledgeBase

    kb = KnowledgeBase(Settings.from_env(environ={}, corpus_dir=corpus, data_dir=data))
    try:
        report = kb.index()
    finally:
        kb.close()
    assert not report.errors, report.errors


@contextlib.contextmanager
def app_pointed_at(corpus: Path, data: Path):
    """The app's settings pointed at `corpus` and `data`, no editor password set, and a fresh
    st.cache_resource (Settings and KnowledgeBase) inside; the environment restored after."""
    import streamlit as st

    patch = pytest.MonkeyPatch()
    for key in ENV_KEYS:
        patch.delenv(key, raising=False)
    patch.setenv("KB_CORPUS_DIR", str(corpus))
    patch.setenv("KB_DATA_DIR", str(data))
    st.cache_resource.clear()
    try:
        yield
    finally:
        st.cache_resource.clear()
        patch.undo()


@pytest.fixture(scope="session")
def point_app():
    """`app_pointed_at`, for test modules that build their own corpus."""
    return app_pointed_at


@pytest.fixture(scope="module")
def ui_env(tmp_path_factory):
    """KB_CORPUS_DIR and KB_DATA_DIR pointed at a temporary small corpus; no editor password set."""
    base = tmp_path_factory.mktemp("ui")
    corpus = copy_small_corpus(base / "corpus")
    data = base / "data"
    with app_pointed_at(corpus, data):
        yield corpus, data


@pytest.fixture(scope="module")
def app_index(ui_env):
    """The small corpus indexed once with the real embedding model."""
    corpus, data = ui_env
    if not (data / "CURRENT").exists():
        build_index(corpus, data)
    yield corpus, data
    from ui.common import knowledge_base

    knowledge_base().close()  # the cached one the page tests used: release its Qdrant clients


@pytest.fixture(scope="session")
def small_index():
    """A function that copies the small corpus into a folder and indexes it there: (corpus, data)."""

    def make(base: Path) -> tuple[Path, Path]:
        corpus = copy_small_corpus(base / "corpus")
        build_index(corpus, base / "data")
        return corpus, base / "data"

    return make


@pytest.fixture(scope="session")
def flow_walk():
    """The flow the tests walk ('disclosure' when it exists) and a path of (node id, option index,
    label) to the outcome furthest from its start, following only options inside the flow."""
    from kb.flows.library import FlowLibrary

    flows = FlowLibrary.load_default()
    if not flows:
        pytest.skip("no guided flows are installed in corpus/flows")
    flow = flows["disclosure"] if "disclosure" in flows else next(iter(flows.values()))
    paths: dict[str, list[tuple[str, int, str]]] = {flow.start: []}
    queue = deque([flow.start])
    best: list[tuple[str, int, str]] | None = None
    while queue:
        node_id = queue.popleft()
        node = flow.nodes[node_id]
        if node.is_outcome:
            if best is None or len(paths[node_id]) > len(best):
                best = paths[node_id]
            continue
        for i, option in enumerate(node.options):
            if option.next and option.next not in paths and option.next in flow.nodes:
                paths[option.next] = paths[node_id] + [(node_id, i, option.label)]
                queue.append(option.next)
    assert best is not None, f"flow {flow.id} has no outcome reachable inside it"
    return flow, best
