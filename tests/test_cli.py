"""The `kb index` publish gate's arguments and errors, and the `kb editor` commands, without loading the model."""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.access import PasswordForm, StoredPassword, configured_password
from kb.cli import main
from kb.config import Settings

PASSWORD = "correct horse battery staple"


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


# kb editor set-password


def test_set_password_from_standard_input_prints_a_line_that_verifies():
    result = CliRunner().invoke(main, ["editor", "set-password", "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    name, _, value = result.stdout.strip().partition("=")
    assert name == "KB_EDITOR_PASSWORD_HASH"
    stored = configured_password(None, Settings.from_env(environ={name: value}))
    assert stored.form is PasswordForm.SCRYPT and stored.matches(PASSWORD) and not stored.matches(PASSWORD + "\n")
    assert PASSWORD not in result.output


def test_set_password_asks_twice_without_echoing_and_makes_a_secrets_line():
    result = CliRunner().invoke(main, ["editor", "set-password", "--secrets"], input=f"{PASSWORD}\nnot the same\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Type it again" in result.stderr and "do not match" in result.stderr, "a second, different typing is caught"
    assert PASSWORD not in result.output, "neither the password nor its typing is shown"
    secret = tomllib.loads(result.stdout)["editor_password_hash"]
    assert configured_password({"editor_password_hash": secret}, Settings.from_env(environ={})).matches(PASSWORD)


def test_set_password_writes_a_new_file_readable_by_its_owner_only_and_never_replaces_one(tmp_path):
    target = tmp_path / "editor.env"
    result = CliRunner().invoke(main, ["editor", "set-password", "--password-stdin", "--output", str(target)], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and f"Wrote the line to {target}" in result.stderr
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    line = target.read_text()
    assert line.startswith("KB_EDITOR_PASSWORD_HASH=scrypt:") and line.endswith("\n")
    assert StoredPassword.from_hash(line.strip().partition("=")[2]).matches(PASSWORD)

    again = CliRunner().invoke(main, ["editor", "set-password", "--password-stdin", "--output", str(target)], input="another password\n")
    assert again.exit_code == 1
    assert again.output.strip() == f"Error: {target} already exists, so nothing was written: give the name of a new file, then copy its line where it belongs"
    assert target.read_text() == line


def test_set_password_refuses_an_empty_password():
    result = CliRunner().invoke(main, ["editor", "set-password", "--password-stdin"], input="\n")
    assert result.exit_code == 1
    assert result.output.startswith("Error: the Editor password is empty") and "scrypt" not in result.output
