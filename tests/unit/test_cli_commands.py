"""The root command's table of subcommands: each entry loads its command, and the summary
`faxcast --help` lists without loading it is the command's own first line of help."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from faxcast.cli.main import COMMANDS, cli


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_summary_is_the_loaded_commands_own(name: str) -> None:
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    assert command.name == name
    assert command.get_short_help_str(limit=1000) == COMMANDS[name].summary


def test_an_unknown_command_is_refused_by_click() -> None:
    assert cli.get_command(click.Context(cli), "nosuch") is None
    result = CliRunner().invoke(cli, ["nosuch"])
    assert result.exit_code == 2
    assert "No such command 'nosuch'" in result.output
