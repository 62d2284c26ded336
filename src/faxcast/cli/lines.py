"""Fax lines from the command line: list, create, edit and show, sandbox or SIP trunk.

A trunk's password is never an option's value (it would stay in the shell's history and be
seen by `ps`): `--password` asks for it without echo, `--password-stdin` reads it from stdin.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final, TypeVar

import click

from faxcast.cli.context import CliState, pass_state
from faxcast.config import DEFAULT_CHANNEL_LIMIT, DEFAULT_COUNTRY
from faxcast.domain.codec import Codec
from faxcast.domain.dialling import Dialling
from faxcast.domain.models import Line, LineKind, LineSettings
from faxcast.domain.quality import Quality
from faxcast.domain.sip_line import Password, SipLineSettings, SipTransport, T38Mode
from faxcast.errors import InputError
from faxcast.i18n import codes, environment_language, translator
from faxcast.services import accounts, line_check

F = TypeVar("F", bound=Callable[..., Any])


def _choice(kind: type[Any]) -> click.Choice[str]:
    return click.Choice([member.value for member in kind])


def _codecs(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    """--codecs pcma,pcmu as codecs in that order."""
    if value is None:
        return None
    try:
        return tuple(Codec(part.strip().lower()) for part in value.split(","))
    except ValueError as error:
        choices = ", ".join(c.value for c in Codec)
        raise click.BadParameter(f"a comma-separated list of {choices}") from error


# SIP options, shared by create and edit; None means "not given" (the default, or unchanged).
_SIP_OPTIONS = (
    click.option("--proxy-host", help="SIP proxy (registrar): host name or IP address."),
    click.option("--proxy-port", type=int, help="Proxy port [default: 5060]."),
    click.option("--transport", type=_choice(SipTransport), help="[default: udp]"),
    click.option("--username", help="Digest user name; empty: no authentication."),
    click.option(
        "--password", "ask_password", is_flag=True, help="Ask for the password (not echoed)."
    ),
    click.option("--password-stdin", is_flag=True, help="Read the password from stdin."),
    click.option("--register/--no-register", default=None, help="REGISTER with the proxy."),
    click.option("--register-interval", "register_interval_s", type=int, help="Seconds."),
    click.option("--from-number", help="Caller id (From); empty: the user name."),
    click.option("--display-name"),
    click.option("--dialling", type=_choice(Dialling), help="How numbers are dialled."),
    click.option("--international-prefix", help="Such as 00 [default: 00]."),
    click.option("--codecs", callback=_codecs, help="Preference order, e.g. pcma,pcmu."),
    click.option("--t38", type=_choice(T38Mode), help="[default: accept]"),
    click.option("--t38-offer-after", "t38_offer_after_s", type=int, help="Seconds."),
    click.option("--ring-timeout", "ring_timeout_s", type=int, help="Seconds [default: 60]."),
    click.option("--local-address", help="Address to use [default: 0.0.0.0, every one]."),
    click.option("--rtp-port-min", type=int, help="First media port, even [default: 10000]."),
    click.option("--rtp-port-max", type=int, help="Last media port [default: 20000]."),
)
_ENUMS: dict[str, Any] = {"transport": SipTransport, "dialling": Dialling, "t38": T38Mode}


# The retry setting's word for "no limit of the line's own: the server's retry policy".
_POLICY: Final = "policy"


def _tries(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    """--tries N (the service checks the range) or --tries policy; None when not given."""
    if value is None or value == _POLICY:
        return value
    try:
        return int(value)
    except ValueError as error:
        raise click.BadParameter(f"a whole number or '{_POLICY}'") from error


_LINE_OPTIONS = (
    click.option("--quality", type=_choice(Quality), help="A new campaign's default quality."),
    click.option(
        "--tries",
        callback=_tries,
        help=f"Tries per number, 1 to {accounts.MAX_CALLS}, or '{_POLICY}' (the server's).",
    ),
)


def _line_options(command: F) -> F:
    for option in reversed(_LINE_OPTIONS):
        command = option(command)
    return command


def _max_calls(tries: int | str | None, current: int | None) -> int | None:
    """The line's limit from --tries: unchanged when not given, None for the policy's."""
    if tries is None:
        return current
    return None if tries == _POLICY else int(tries)


def _sip_options(command: F) -> F:
    for option in reversed(_SIP_OPTIONS):
        command = option(command)
    return command


@click.group()
def line() -> None:
    """Fax lines of the account."""


@line.command("ls")
@pass_state
def line_ls(state: CliState) -> None:
    """List the account's lines."""
    for item in accounts.list_lines(state.services, state.account().id):
        click.echo(_line_row(item))


@line.command("create")
@click.option("--name", required=True)
@click.option("--kind", type=_choice(LineKind), default=LineKind.SANDBOX.value, show_default=True)
@click.option("--country", default=DEFAULT_COUNTRY, show_default=True, help="For national numbers.")
@click.option("--ident", default="", help="Our fax ident (TSI), e.g. +33 1 23 45 67 89.")
@click.option("--header", default="", help="Header line printed on each page.")
@click.option("--channels", default=DEFAULT_CHANNEL_LIMIT, show_default=True, help="Calls at once.")
@_line_options
@_sip_options
@pass_state
def line_create(
    state: CliState,
    /,
    name: str,
    kind: str,
    country: str,
    ident: str,
    header: str,
    channels: int,
    quality: str | None,
    tries: int | str | None,
    **sip_options: Any,
) -> None:
    """Create a line: a sandbox line, or a SIP trunk (--kind sip --proxy-host ...)."""
    line_kind = LineKind(kind)
    given = _given(sip_options)
    sip = None
    if line_kind is LineKind.SIP or given:
        sip = SipLineSettings(**{"proxy_host": ""} | given)
    settings = LineSettings(
        name,
        line_kind,
        country,
        ident,
        header,
        channels,
        sip=sip,
        quality=Quality(quality) if quality else Quality.NORMAL,
        max_calls=_max_calls(tries, None),
    )
    click.echo(_line_row(accounts.create_line(state.services, state.account().id, settings)))


@line.command("edit")
@click.argument("line_id", type=int)
@click.option("--name")
@click.option("--country")
@click.option("--ident")
@click.option("--header")
@click.option("--channels", type=int)
@_line_options
@_sip_options
@pass_state
def line_edit(
    state: CliState,
    /,
    line_id: int,
    name: str | None,
    country: str | None,
    ident: str | None,
    header: str | None,
    channels: int | None,
    quality: str | None,
    tries: int | str | None,
    **sip_options: Any,
) -> None:
    """Change a line's settings; what is not given stays as it is (the password too)."""
    svc, account_id = state.services, state.account().id
    current = accounts.get_line(svc, account_id, line_id)
    given = _given(sip_options)
    sip = current.sip
    if sip is not None:
        # Without a new password the service keeps the stored one.
        sip = replace(sip, **({"password": Password()} | given))
    elif given:
        sip = SipLineSettings(**{"proxy_host": ""} | given)
    settings = LineSettings(
        name if name is not None else current.name,
        current.kind,
        country if country is not None else current.country,
        ident if ident is not None else current.ident,
        header if header is not None else current.header,
        channels if channels is not None else current.channel_limit,
        sip=sip,
        quality=Quality(quality) if quality else current.quality,
        max_calls=_max_calls(tries, current.max_calls),
    )
    click.echo(_line_row(accounts.update_line(svc, account_id, line_id, settings)))


@line.command("show")
@click.argument("line_id", type=int)
@pass_state
def line_show(state: CliState, line_id: int) -> None:
    """Every setting of a line (never its password: only whether one is stored).

    Labels are the web form's, in the reader's language; values as the options take them.
    """
    t = translator(environment_language(os.environ))
    item = accounts.get_line(state.services, state.account().id, line_id)
    shown: list[tuple[str, object]] = [
        ("id", item.id),
        (t("lineform.name"), item.name),
        (t("line.kind"), item.kind.value),
        (t("line.country"), item.country),
        (t("line.ident"), item.ident),
        (t("line.header"), item.header),
        (t("line.channels"), item.channel_limit),
        (t("line.quality"), item.quality.value),
        (
            t("line.max_calls"),
            item.max_calls if item.max_calls is not None else t("line.max_calls.policy"),
        ),
    ]
    sip = item.sip
    if sip is not None:
        registers = f"{t('lineform.yes')} ({sip.register_interval_s} s)"
        shown += [
            (t("lineform.proxy_host"), f"{sip.proxy_host}:{sip.proxy_port}"),
            (t("lineform.transport"), sip.transport.value),
            (t("lineform.username"), sip.username),
            (
                t("lineform.password"),
                t("lineform.password.set" if sip.password else "lineform.password.none"),
            ),
            (t("lineform.register"), registers if sip.register else t("lineform.no")),
            (t("lineform.from_number"), sip.from_number),
            (t("lineform.display_name"), sip.display_name),
            (t("lineform.dialling"), sip.dialling.value),
            (t("lineform.international_prefix"), sip.international_prefix),
            (t("lineform.codecs"), ",".join(codec.value for codec in sip.codecs)),
            (t("lineform.t38"), sip.t38.value),
            (t("lineform.t38_offer_after_s"), sip.t38_offer_after_s),
            (t("lineform.ring_timeout_s"), sip.ring_timeout_s),
            (t("lineform.local_address"), sip.local_address),
            (t("lineform.rtp_ports"), f"{sip.rtp_port_min}-{sip.rtp_port_max}"),
        ]
    for label, value in shown:
        click.echo(f"{label}: {value}")


@line.command("test")
@click.argument("line_id", type=int)
@pass_state
def line_test(state: CliState, line_id: int) -> None:
    """« Tester cette ligne »: OPTIONS, or REGISTER if the line registers, to its proxy.

    Exits 1 when the proxy does not answer or refuses the line's credentials.
    """
    found = asyncio.run(line_check.check_line(state.services, state.account().id, line_id))
    click.echo(translator(environment_language(os.environ)).message(found.message))
    if not found.ok:
        raise SystemExit(1)


def _given(options: dict[str, Any]) -> dict[str, Any]:
    """The SIP options given, as SipLineSettings fields; the password read as asked."""
    ask, from_stdin = options.pop("ask_password"), options.pop("password_stdin")
    given = {key: value for key, value in options.items() if value is not None}
    for key, kind in _ENUMS.items():
        if key in given:
            given[key] = kind(given[key])
    if ask and from_stdin:
        raise click.UsageError("--password and --password-stdin cannot be used together")
    if ask:
        prompt = translator(environment_language(os.environ)).message(codes.SIP_PASSWORD_PROMPT())
        given["password"] = Password(
            click.prompt(prompt, hide_input=True, confirmation_prompt=True, err=True)
        )
    elif from_stdin:
        secret = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not secret:
            raise InputError(codes.SIP_PASSWORD_STDIN_EMPTY())
        given["password"] = Password(secret)
    return given


def _line_row(item: Line) -> str:
    row = (
        f"{item.id}\t{item.name}\t{item.kind.value}\t{item.country}\t"
        f"channels={item.channel_limit}\tident='{item.ident}'\theader='{item.header}'\t"
        f"quality={item.quality.value}\ttries={item.max_calls or _POLICY}"
    )
    return row + (f"\tproxy={item.sip.proxy_host}:{item.sip.proxy_port}" if item.sip else "")
