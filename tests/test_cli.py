"""The `kb index` publish gate's arguments and errors, without loading the model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.cli import main


@pytest.mark.parametrize("flags", [["--stage", "--publish"], ["--stage", "--rollback"], ["--publish", "--rollback"]])
def test_index_takes_one_of_stage_publish_and_rollback(flags: list[str], tmp_path: Path):
    result = CliRunner().invoke(main, ["index", *flags], env={"KB_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert "at most one of --stage, --publish and --rollback" in result.output


def test_index_publish_with_nothing_staged_exits_1_with_one_line(make_store, tmp_path: Path):
    make_store(tmp_path, complete=[1], current=1)
    result = CliRunner().invoke(main, ["index", "--publish"], env={"KB_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert result.output.strip() == "Error: no staged index generation to publish (serving gen-000001); run 'kb index --stage' to build one"


def test_index_publish_json(make_store, tmp_path: Path):
    make_store(tmp_path, complete=[1, 2], current=1)
    result = CliRunner().invoke(main, ["index", "--publish", "--json"], env={"KB_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"serving": "gen-000002", "previous_generation": "gen-000001"}
    result = CliRunner().invoke(main, ["index", "--rollback"], env={"KB_DATA_DIR": str(tmp_path)})
    assert result.output.splitlines()[0] == "Rolled back: now serving gen-000001 (was gen-000002)."
    assert "keeps no record of its files, so the corpus documents were left as they are" in result.output, "nothing in the corpus is touched on a guess"
