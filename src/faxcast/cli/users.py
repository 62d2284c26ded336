"""Users, their API tokens and the audit log from the command line.

The shell acts as the operator, with every right: whoever has the server's shell has the server
already. A password is never an option's value (it would stay in the shell's history and be seen
by `ps`): without `--password-stdin` a new user gets a one-time set-up link instead. A token's
secret is printed once, on stdout, when it is made.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import click

from faxcast.cli.context import CliState, parse_when, pass_state
from faxcast.domain.access import ApiToken, AuditEvent, Member, Role
from faxcast.errors import InputError
from faxcast.i18n import Translator, codes, environment_language, translator
from faxcast.services import accounts, audit, spreadsheets, tokens, users
from faxcast.services.users import SetupLink

_ROLE = click.Choice([role.value for role in Role])
_ACCOUNT_HELP = "The account; default: --account of faxcast, else the only one."


def _texts() -> Translator:
    return translator(environment_language(os.environ))


def _account_id(state: CliState, given: int | None) -> int:
    return given if given is not None else state.account().id


def _print_link(login: str, link: SetupLink, base: str) -> None:
    message = codes.CLI_SETUP_LINK(login=login, url=link.url(base), count=link.valid_hours)
    click.echo(_texts().message(message))


def _member_row(member: Member) -> str:
    pending = "" if member.user.has_password else "\tsetup-pending"
    return (
        f"{member.account_id}\t{member.user.id}\t{member.user.login}\t{member.role.value}{pending}"
    )


@click.group()
def user() -> None:
    """Users and their role in each account."""


@user.command("create")
@click.argument("login")
@click.option("--admin/--member", default=True, help="Their role [default: admin].")
@click.option(
    "--account",
    "account_ids",
    type=int,
    multiple=True,
    help="An account to put them in (repeatable); default: every account.",
)
@click.option("--password-stdin", is_flag=True, help="Read their password from stdin.")
@pass_state
def user_create(
    state: CliState, login: str, admin: bool, account_ids: tuple[int, ...], password_stdin: bool
) -> None:
    """Create a user; prints the one-time link where they choose their password."""
    svc = state.services
    role = Role.ADMIN if admin else Role.MEMBER
    # Every account; on a new server, the one every command makes (zero configuration).
    ids = account_ids or tuple(a.id for a in accounts.list_accounts(svc)) or (state.account().id,)
    password = None
    if password_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not password:
            raise InputError(codes.SIP_PASSWORD_STDIN_EMPTY())
    created, link = users.create_user(
        svc, login, accounts=dict.fromkeys(ids, role), password=password
    )
    click.echo(f"{created.id}\t{created.login}\t{role.value}\t{','.join(map(str, ids))}")
    if link is not None:
        _print_link(created.login, link, svc.settings.base_url)


@user.command("ls")
@click.option("--account", "account_id", type=int, help="One account; default: every account.")
@pass_state
def user_ls(state: CliState, account_id: int | None) -> None:
    """List users by account: account, user id, login, role (setup-pending: no password yet)."""
    svc = state.services
    ids = [account_id] if account_id is not None else [a.id for a in accounts.list_accounts(svc)]
    for each in ids:
        for member in users.list_members(svc, each):
            click.echo(_member_row(member))


@user.command("add")
@click.argument("login")
@click.option("--account", "account_id", type=int, help=_ACCOUNT_HELP)
@click.option("--role", type=_ROLE, required=True)
@pass_state
def user_add(state: CliState, login: str, account_id: int | None, role: str) -> None:
    """Put a user in an account (a new login becomes a user, with a set-up link)."""
    svc = state.services
    member, link = users.add_member(svc, _account_id(state, account_id), login, Role(role))
    click.echo(_member_row(member))
    if link is not None:
        _print_link(member.user.login, link, svc.settings.base_url)


@user.command("role")
@click.argument("login")
@click.option("--account", "account_id", type=int, help=_ACCOUNT_HELP)
@click.option("--role", type=_ROLE, required=True)
@pass_state
def user_role(state: CliState, login: str, account_id: int | None, role: str) -> None:
    """Give a user another role in an account; an account keeps one admin at least."""
    svc = state.services
    found = users.user_named(svc, login)
    changed = users.change_role(svc, _account_id(state, account_id), found.id, Role(role))
    click.echo(_member_row(changed))


@user.command("remove")
@click.argument("login")
@click.option("--account", "account_id", type=int, help=_ACCOUNT_HELP)
@pass_state
def user_remove(state: CliState, login: str, account_id: int | None) -> None:
    """Take a user out of an account; an account keeps one admin at least."""
    svc = state.services
    users.remove_member(svc, _account_id(state, account_id), users.user_named(svc, login).id)


@user.command("link")
@click.argument("login")
@click.option("--account", "account_id", type=int, help=_ACCOUNT_HELP)
@pass_state
def user_link(state: CliState, login: str, account_id: int | None) -> None:
    """A new one-time set-up link for a user of the account (a lost password)."""
    svc = state.services
    found = users.user_named(svc, login)
    link = users.new_setup_link(svc, _account_id(state, account_id), found.id)
    _print_link(found.login, link, svc.settings.base_url)


@click.group()
def token() -> None:
    """A user's API tokens (Authorization: Bearer fxc_...)."""


_USER_OPTION = click.option("--user", "login", required=True, help="The user's login.")


def _token_row(item: ApiToken) -> str:
    return (
        f"{item.id}\t{item.name}\t{item.hint}…\tcreated={_when(item.created_at)}"
        f"\tlast-used={_when(item.last_used_at)}\texpires={_when(item.expires_at)}"
    )


def _when(moment: datetime | None) -> str:
    return moment.isoformat() if moment else "-"


@token.command("create")
@_USER_OPTION
@click.option("--name", required=True, help="What it is for, to tell tokens apart.")
@click.option("--expires", help="ISO date and time; without an offset, the server's time zone.")
@pass_state
def token_create(state: CliState, login: str, name: str, expires: str | None) -> None:
    """Make an API token for a user; prints its secret, this once only."""
    svc = state.services
    expires_at = parse_when(expires, svc.settings.default_timezone) if expires else None
    them = users.acting_as(svc, users.user_named(svc, login))
    made, secret = tokens.create_token(them, name, expires_at=expires_at)
    click.echo(_token_row(made), err=True)
    click.echo(f"faxcast: {_texts().message(codes.CLI_TOKEN_ONCE())}", err=True)
    click.echo(secret)


@token.command("ls")
@_USER_OPTION
@pass_state
def token_ls(state: CliState, login: str) -> None:
    """List a user's tokens, newest first (their secrets are never shown)."""
    svc = state.services
    for item in tokens.list_tokens(users.acting_as(svc, users.user_named(svc, login))):
        click.echo(_token_row(item))


@token.command("revoke")
@_USER_OPTION
@click.argument("token_id", type=int)
@pass_state
def token_revoke(state: CliState, login: str, token_id: int) -> None:
    """Revoke a user's token at once: its next request is refused."""
    svc = state.services
    tokens.revoke_token(users.acting_as(svc, users.user_named(svc, login)), token_id)


@click.command("audit")
@click.option("--account", "account_id", type=int, help=_ACCOUNT_HELP)
@click.option("--csv", "as_csv", is_flag=True, help="CSV for a spreadsheet, in your language.")
@click.option("--limit", type=click.IntRange(1, audit.PAGE_MAX), default=100, show_default=True)
@click.option("--before", type=int, help="Only events older than this one (an event's id).")
@pass_state
def audit_command(
    state: CliState, account_id: int | None, as_csv: bool, limit: int, before: int | None
) -> None:
    """The account's audit log, newest first: who did what, when and from where."""
    svc = state.services
    account = accounts.get_account(svc, _account_id(state, account_id))
    events = audit.list_events(svc, account.id, limit=limit, before_id=before)
    if as_csv:
        click.echo(spreadsheets.audit_csv(events, _texts(), account.timezone), nl=False)
        return
    for event in events:
        click.echo(_event_row(event, account.timezone))


def _event_row(event: AuditEvent, zone: str) -> str:
    at = event.at.astimezone(ZoneInfo(zone)).isoformat()
    return "\t".join(
        (str(event.id), at, event.actor, event.action.value, event.subject, event.address or "-")
    )
