"""The README stays true: every setting and every command is documented, and the scripts exist."""

from __future__ import annotations

import os

from click.testing import CliRunner

from kb.cli import main
from kb.config import PROJECT_ROOT, SETTINGS_SPECS

README = (PROJECT_ROOT / "README.md").read_text()


def test_every_setting_is_documented():
    for spec in SETTINGS_SPECS:
        assert f"`{spec.env}`" in README, spec.env


def test_every_command_is_documented():
    for name, command in main.commands.items():
        assert f"kb {name}" in README, name
        for sub in getattr(command, "commands", {}):
            assert f"kb {name} {sub}" in README, f"{name} {sub}"


def test_the_two_commands_exist_and_ci_calls_the_test_command():
    assert "scripts/run" in README and "scripts/test" in README
    for script in ("scripts/run", "scripts/test", "scripts/setup", ".ci/run"):
        assert os.access(PROJECT_ROOT / script, os.X_OK), script
    assert "scripts/test" in (PROJECT_ROOT / ".ci" / "run").read_text()


def test_bad_arguments_exit_2():
    result = CliRunner().invoke(main, ["ask"])
    assert result.exit_code == 2
