"""The `faxcast` command: errors become one line on stderr and exit status 1.

Errors are in the language of the locale (LANGUAGE, LC_ALL, LC_MESSAGES, then LANG, as gettext
reads them): French for fr_FR.UTF-8, English otherwise.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import click

from faxcast.cli.context import CliState
from faxcast.errors import FaxcastError
from faxcast.i18n import Translator, codes, environment_language, translator


@dataclass(frozen=True)
class Lazy:
    """A command loaded when run: where it is defined, and its help's first line for listings."""

    target: str
    """module:attribute"""
    summary: str


COMMANDS: dict[str, Lazy] = {
    "account": Lazy("faxcast.cli.campaigns:account", "Accounts (the seed's groups of lines)."),
    "audit": Lazy(
        "faxcast.cli.users:audit_command",
        "The account's audit log, newest first: who did what, when and from where.",
    ),
    "campaign": Lazy(
        "faxcast.cli.campaigns:campaign", "Fax campaigns: one document, many numbers."
    ),
    "db": Lazy("faxcast.cli.server:db", "The database schema."),
    "demo": Lazy(
        "faxcast.cli.fax:demo",
        "Fax the bundled sample document through the loopback and show the result.",
    ),
    "fax": Lazy(
        "faxcast.cli.fax:fax",
        "The fax engine on its own: render documents, fax them through a loopback.",
    ),
    "line": Lazy("faxcast.cli.lines:line", "Fax lines of the account."),
    "phone-network": Lazy(
        "faxcast.cli.phonenet:phone_network",
        "Answer SIP calls as the sandbox's numbers do; other numbers are fax machines.",
    ),
    "send": Lazy(
        "faxcast.cli.campaigns:send", "Create, launch and follow a campaign until it finishes."
    ),
    "serve": Lazy(
        "faxcast.cli.server:serve",
        "Run the web customer space, the REST API and an embedded worker.",
    ),
    "token": Lazy(
        "faxcast.cli.users:token", "A user's API tokens (Authorization: Bearer fxc_...)."
    ),
    "user": Lazy("faxcast.cli.users:user", "Users and their role in each account."),
    "worker": Lazy(
        "faxcast.cli.server:worker",
        "Place the calls of running campaigns (many may share one PostgreSQL database).",
    ),
}
"""Every subcommand, by name. A command imports only its own module (click's lazily loaded
subcommands), and `faxcast --help` none: the summaries are here (a test holds them to the
commands' own help)."""


class LazyGroup(click.Group):
    """A group whose subcommands (COMMANDS) are imported when one is run or asked for help."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The subcommands' names, sorted as click lists them."""
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The subcommand, its module imported now; None for an unknown name."""
        lazy = COMMANDS.get(cmd_name)
        if lazy is None:
            return None
        module, attribute = lazy.target.split(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command), lazy.target
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The Commands section, from the summaries: no subcommand is imported to list it."""
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        # Cut as click cuts a loaded command's help, by a help-only stand-in.
        rows = [
            (name, click.Command(name, help=COMMANDS[name].summary).get_short_help_str(limit))
            for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.option("--debug", is_flag=True, help="Show SpanDSP's protocol log and tracebacks.")
@click.option(
    "--account",
    "account_id",
    type=int,
    envvar="FAXCAST_ACCOUNT",
    help="Account to act for (FAXCAST_ACCOUNT); default: the only one.",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool, account_id: int | None) -> None:
    """faxcast: fax one document to many numbers, really.

    Settings come from FAXCAST_* variables: FAXCAST_DATA_DIR (default ./faxcast-data),
    FAXCAST_DATABASE_URL (default SQLite in the data folder), FAXCAST_PORT...
    """
    ctx.obj = CliState(debug=debug, account_id=account_id)
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING, format="%(name)s: %(message)s"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the CLI, turning faxcast errors into one line and exit 1."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="faxcast", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo(f"faxcast: {_texts().message(codes.CLI_ABORTED())}", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except FaxcastError as exc:
        if debug:
            raise
        text = _texts().message(codes.CLI_ERROR(message=exc.message))
        click.echo(f"faxcast: {text}", err=True)
        sys.exit(1)


def _texts() -> Translator:
    return translator(environment_language(os.environ))
