"""Generations in the data folder: staged ones, pruning and publishing, on hand-made folders (no model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.config import Settings
from kb.errors import KBError
from kb.index.generations import GenerationStore


def names(store: GenerationStore) -> list[str]:
    return [g.name for g in store.all()]


def test_staged_is_the_newest_complete_generation_newer_than_the_served_one(make_store, tmp_path: Path):
    store = make_store(tmp_path, complete=[1, 2, 3], incomplete=[4], current=2)
    assert store.staged().name == "gen-000003"
    store.publish(store.get("gen-000003"))
    assert store.staged() is None, "an incomplete generation is never staged"


def test_with_nothing_served_every_complete_generation_is_newer(make_store, tmp_path: Path):
    store = make_store(tmp_path, complete=[1, 2])
    assert store.current_name() is None
    assert store.staged().name == "gen-000002"


def test_prune_keeps_the_history_up_to_the_served_one_and_the_newest_staged_one(make_store, tmp_path: Path):
    store = make_store(tmp_path, complete=[1, 2, 3, 4, 5], incomplete=[6], current=3)
    removed = store.prune(keep=2)
    assert removed == ["gen-000001", "gen-000004", "gen-000006"]
    assert names(store) == ["gen-000002", "gen-000003", "gen-000005"]
    assert store.staged().name == "gen-000005"


def test_prune_without_a_staged_generation_keeps_the_newest_ones_as_before(make_store, tmp_path: Path):
    store = make_store(tmp_path, complete=[1, 2, 3, 4], current=4)
    assert store.prune(keep=3) == ["gen-000001"]
    assert names(store) == ["gen-000002", "gen-000003", "gen-000004"]


def test_prune_never_removes_the_newest_staged_generation_however_many_are_kept(make_store, tmp_path: Path):
    store = make_store(tmp_path, complete=[1, 2], current=1)
    store.prune(keep=2)
    assert names(store) == ["gen-000001", "gen-000002"]
    store = make_store(tmp_path / "none-served", complete=[1, 2, 3])
    store.prune(keep=2)
    assert names(store) == ["gen-000003"], "with nothing served, only the newest staged one is worth keeping"


def test_drop_unserved_before_removes_only_what_lies_between_the_served_one_and_the_new_one(make_store, tmp_path: Path):
    store = make_store(tmp_path, complete=[1, 2, 3, 4, 5], current=2)
    assert store.drop_unserved_before(store.get("gen-000005")) == ["gen-000003", "gen-000004"]
    assert names(store) == ["gen-000001", "gen-000002", "gen-000005"]


# publishing through the service (no model is loaded: publishing only rewrites CURRENT)


@pytest.fixture
def service_with(make_store, tmp_path: Path):
    from kb.service import KnowledgeBase

    services = []

    def make(complete: list[int], current: int | None = None, incomplete: list[int] = ()):
        make_store(tmp_path / "data", complete, incomplete, current)
        service = KnowledgeBase(Settings.from_env(environ={}, corpus_dir=tmp_path / "corpus", data_dir=tmp_path / "data"))
        services.append(service)
        return service

    yield make
    for service in services:
        service.close()


def test_publish_serves_the_newest_staged_generation_and_keeps_the_served_one_for_rollback(service_with):
    service = service_with(complete=[1, 2, 3], current=1)
    assert service.staged().name == "gen-000003"
    assert service.publish() == ("gen-000001", "gen-000003")
    assert service.generations.current_name() == "gen-000003"
    assert service.staged() is None
    assert [g.name for g in service.generations.all()] == ["gen-000001", "gen-000003"], "the never-served gen-000002 is dropped"
    assert service.rollback() == ("gen-000003", "gen-000001")
    assert service.status()["staged"] is None and service.staged() is None, "rolled back from: newer than the served one, but not offered again"


def test_publish_a_named_staged_generation(service_with):
    service = service_with(complete=[1, 2, 3], current=1)
    assert service.publish("gen-000002") == ("gen-000001", "gen-000002")
    assert service.staged().name == "gen-000003"


def test_publish_with_nothing_staged_is_a_clear_error(service_with):
    service = service_with(complete=[1, 2], current=2)
    with pytest.raises(KBError, match="no staged index generation to publish \\(serving gen-000002\\); run 'kb index --stage'"):
        service.publish()


@pytest.mark.parametrize(
    ("name", "message"),
    [("gen-000001", "not newer than the served generation gen-000002"), ("gen-000003", "not a complete index generation"), ("gen-000009", "not a complete"), ("latest", "not an index generation name")],
)
def test_publish_refuses_what_is_not_a_staged_generation(service_with, name: str, message: str):
    service = service_with(complete=[1, 2], incomplete=[3], current=2)
    with pytest.raises(KBError, match=message):
        service.publish(name)
    assert service.generations.current_name() == "gen-000002"


def test_publish_takes_the_index_lock(service_with):
    from kb.errors import IndexBusyError

    service = service_with(complete=[1, 2], current=1)
    with service.generations.lock(), pytest.raises(IndexBusyError):
        service.publish()
    assert service.generations.current_name() == "gen-000001"
