"""Accounts and campaigns from the command line, on the configured database."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from faxcast.bootstrap import line_drivers
from faxcast.cli.context import CliState, parse_when, pass_state
from faxcast.domain.campaign import Campaign, CampaignState, SendType
from faxcast.domain.models import CampaignDetail
from faxcast.domain.numbers import RecipientList
from faxcast.domain.quality import Quality
from faxcast.domain.retry import RetriesWaiting
from faxcast.errors import InputError, raise_all
from faxcast.i18n import LANGUAGES, Translator, codes, environment_language, translator
from faxcast.services import accounts, campaigns, documents
from faxcast.services.context import Services
from faxcast.services.new_campaign import NewCampaign, PdfUpload, validate_campaign

_QUALITY = click.Choice([q.value for q in Quality])
_FINAL = (CampaignState.FINISHED, CampaignState.ERROR)


@click.group()
def account() -> None:
    """Accounts (the seed's groups of lines)."""


@account.command("create")
@click.argument("name")
@click.option("--timezone", help="IANA time zone, e.g. Europe/Paris.")
@click.option(
    "--language",
    help=f"Language of the header line on its faxes: {', '.join(LANGUAGES)} (default: the "
    "server's).",
)
@pass_state
def account_create(state: CliState, name: str, timezone: str | None, language: str | None) -> None:
    """Create an account; it comes with a sandbox line."""
    created = accounts.create_account(
        state.services, name=name, timezone=timezone, language=language
    )
    click.echo(f"{created.id}\t{created.name}\t{created.timezone}\t{created.language}")


@account.command("edit")
@click.option("--name")
@click.option("--timezone", help="IANA time zone, e.g. Europe/Paris.")
@click.option(
    "--language", help=f"Language of the header line on its faxes: {', '.join(LANGUAGES)}."
)
@pass_state
def account_edit(
    state: CliState, name: str | None, timezone: str | None, language: str | None
) -> None:
    """Change the account's name, time zone or language (--account, else the only one);
    what is not given stays as it is."""
    current = state.account()
    changed = accounts.update_account(
        state.services,
        current.id,
        name=name if name is not None else current.name,
        timezone=timezone if timezone is not None else current.timezone,
        language=language if language is not None else current.language,
    )
    click.echo(f"{changed.id}\t{changed.name}\t{changed.timezone}\t{changed.language}")


@account.command("ls")
@pass_state
def account_ls(state: CliState) -> None:
    """List accounts."""
    for item in accounts.list_accounts(state.services):
        click.echo(f"{item.id}\t{item.name}\t{item.timezone}\t{item.language}")


@click.group()
def campaign() -> None:
    """Fax campaigns: one document, many numbers."""


@campaign.command("create")
@click.option("--line", "line_id", type=int, required=True)
@click.option("--name", required=True)
@click.option("--pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--quality", type=_QUALITY, help="Default: the line's default quality.")
@click.option(
    "--recipients",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=".txt file of numbers (comma, semicolon or newline separated).",
)
@click.option("--to", "numbers", help="Numbers, comma or semicolon separated.")
@click.option("--at", "when", help="Send date and time (account's time zone); else manual.")
@click.option("--check", is_flag=True, help="Report every problem and store nothing.")
@pass_state
def campaign_create(
    state: CliState,
    line_id: int,
    name: str,
    pdf: Path,
    quality: str | None,
    recipients: Path | None,
    numbers: str | None,
    when: str | None,
    check: bool,
) -> None:
    """Create a campaign (scheduled with --at, else manual: launch it later)."""
    svc, account = state.services, state.account()
    new, upload = _form(
        state, name, pdf, Quality(quality) if quality else None, recipients, numbers, when
    )
    if check:
        verdict = validate_campaign(svc, account.id, line_id, new, upload=upload)
        raise_all(verdict.errors)
        if verdict.recipients is not None:
            _tell(verdict.recipients)
        click.echo("ok: the campaign can be created", err=True)
        return
    created = campaigns.create_campaign_told(svc, account.id, line_id, new, upload=upload)
    _tell(created.recipients)
    click.echo(_campaign_row(created.campaign))


def _tell(recipients: RecipientList) -> None:
    """The list's warnings and merged entries, on stderr: stdout stays the campaign's row."""
    texts = translator(environment_language(os.environ))
    for message in recipients.told():
        click.echo(f"faxcast: {texts.message(message)}", err=True)


@campaign.command("ls")
@click.option("--line", "line_id", type=int, required=True)
@click.option(
    "--state", "states", multiple=True, type=click.Choice([s.value for s in CampaignState])
)
@pass_state
def campaign_ls(state: CliState, line_id: int, states: tuple[str, ...]) -> None:
    """List the line's campaigns, newest first; one waiting only for retries is followed by an
    indented line saying how many, the next call and the last try."""
    account = state.account()
    page = campaigns.list_campaigns(
        state.services,
        account.id,
        line_id,
        states=tuple(CampaignState(s) for s in states),
        page_size=500,
    )
    retries = campaigns.retries_waiting(state.services, account.id, line_id, page.items)
    texts = translator(environment_language(os.environ))
    zone = ZoneInfo(account.timezone)
    click.echo("id\treference\tstate\toutcome\tdelivered/failed/todo/total\tname")
    for item in page.items:
        click.echo(_campaign_row(item))
        if item.id in retries:
            click.echo(f"  {_retries(texts, retries[item.id], zone)}")


@campaign.command("show")
@click.option("--line", "line_id", type=int, required=True)
@click.argument("campaign_id", type=int)
@pass_state
def campaign_show(state: CliState, line_id: int, campaign_id: int) -> None:
    """A campaign's details and every recipient's result and attempts."""
    account = state.account()
    detail = campaigns.campaign_detail(state.services, account.id, line_id, campaign_id)
    click.echo(_describe(detail, account.timezone))


@campaign.command("launch")
@click.option("--line", "line_id", type=int, required=True)
@click.argument("campaign_id", type=int)
@pass_state
def campaign_launch(state: CliState, line_id: int, campaign_id: int) -> None:
    """Launch a waiting campaign."""
    launched = campaigns.launch_campaign(state.services, state.account().id, line_id, campaign_id)
    click.echo(_campaign_row(launched))


@campaign.command("stop")
@click.option("--line", "line_id", type=int, required=True)
@click.argument("campaign_id", type=int)
@pass_state
def campaign_stop(state: CliState, line_id: int, campaign_id: int) -> None:
    """Stop a scheduled or running campaign; launch resumes it."""
    stopped = campaigns.stop_campaign(state.services, state.account().id, line_id, campaign_id)
    click.echo(_campaign_row(stopped))


@campaign.command("delete")
@click.option("--line", "line_id", type=int, required=True)
@click.argument("campaign_id", type=int)
@pass_state
def campaign_delete(state: CliState, line_id: int, campaign_id: int) -> None:
    """Delete a campaign from the history."""
    campaigns.delete_campaign(state.services, state.account().id, line_id, campaign_id)
    click.echo(f"deleted campaign {campaign_id}")


@campaign.command("remove-flagged")
@click.option("--line", "line_id", type=int, required=True)
@click.argument("campaign_id", type=int)
@pass_state
def campaign_remove_flagged(state: CliState, line_id: int, campaign_id: int) -> None:
    """Remove the numbers flagged as probably invalid from a campaign not started yet."""
    removed = campaigns.remove_flagged(state.services, state.account().id, line_id, campaign_id)
    texts = translator(environment_language(os.environ))
    message = codes.FLAGGED_REMOVED(name=removed.campaign.name, count=removed.count)
    click.echo(f"faxcast: {texts.message(message)}", err=True)
    click.echo(_campaign_row(removed.campaign))


@click.command()
@click.option("--line", "line_id", type=int, help="Default: the account's first line.")
@click.option("--pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--to", "numbers", help="Numbers, comma or semicolon separated.")
@click.option("--recipients", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--quality", type=_QUALITY, help="Default: the line's default quality.")
@click.option("--name", help="Default: the PDF's file name.")
@pass_state
def send(
    state: CliState,
    line_id: int | None,
    pdf: Path,
    numbers: str | None,
    recipients: Path | None,
    quality: str | None,
    name: str | None,
) -> None:
    """Create, launch and follow a campaign until it finishes."""
    svc, account = state.services, state.account()
    if line_id is None:
        line_id = accounts.list_lines(svc, account.id)[0].id
    new, upload = _form(
        state,
        name or pdf.name,
        pdf,
        Quality(quality) if quality else None,
        recipients,
        numbers,
        None,
    )
    told = campaigns.create_campaign_told(svc, account.id, line_id, new, upload=upload)
    _tell(told.recipients)
    created = told.campaign
    campaigns.launch_campaign(svc, account.id, line_id, created.id)
    click.echo(f"campaign {created.id} ({created.reference}) launched", err=True)
    final = asyncio.run(_follow(svc, account.id, line_id, created))
    detail = campaigns.campaign_detail(svc, account.id, line_id, final.id)
    click.echo(_describe(detail, account.timezone))
    if final.count_delivered != final.count_total:
        raise SystemExit(1)


async def _follow(svc: Services, account_id: int, line_id: int, created: Campaign) -> Campaign:
    """Say how the campaign stands whenever that changes, until it ends, placing calls here
    beside any running worker."""
    # Imported here: the worker brings the fax engine and SIP, which only `send` needs.
    from faxcast.dispatch.worker import Worker

    stop = asyncio.Event()
    worker = Worker(svc, line_drivers(svc), cache_dir=svc.settings.data_dir / "cache")
    task = asyncio.create_task(worker.run(stop))
    texts = translator(environment_language(os.environ))
    zone = ZoneInfo(_timezone(svc, account_id))
    try:
        said = ""
        while True:
            current = campaigns.get_campaign(svc, account_id, line_id, created.id)
            retries = campaigns.retries_waiting(svc, account_id, line_id, [current])
            line = "faxing: " + _progress(texts, current, retries.get(current.id), zone)
            if line != said:
                click.echo(line, err=True)
                said = line
            if current.state in _FINAL:
                return current
            await asyncio.sleep(0.5)
    finally:
        stop.set()
        await task


def _timezone(svc: Services, account_id: int) -> str:
    """The account's time zone, in which times are shown."""
    return accounts.get_account(svc, account_id).timezone


def _progress(
    texts: Translator, item: Campaign, retries: RetriesWaiting | None, zone: ZoneInfo
) -> str:
    """The counts, and what a campaign only waiting for retries waits for."""
    counts = texts(
        "progress.text",
        count=item.count_delivered,
        failed=item.count_failed,
        todo=item.count_todo,
        total=item.count_total,
    )
    return counts if retries is None else f"{counts}; {_retries(texts, retries, zone)}"


def _retries(texts: Translator, retries: RetriesWaiting, zone: ZoneInfo) -> str:
    return texts.message(
        codes.RETRIES_WAITING(
            count=retries.count,
            next=_local(retries.next_call_at, zone),
            last=_local(retries.last_try_by, zone),
        )
    )


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "-"


def _form(
    state: CliState,
    name: str,
    pdf: Path,
    quality: Quality | None,
    recipients: Path | None,
    numbers: str | None,
    when: str | None,
) -> tuple[NewCampaign, PdfUpload]:
    """The command's options as the creation form and its PDF."""
    if (recipients is None) == (numbers is None):
        raise InputError(codes.NUMBERS_OPTION())
    svc = state.services
    numbers_text = numbers if numbers is not None else _read(svc, recipients, documents.TEXT).text
    send_at = parse_when(when, state.account().timezone) if when else None
    new = NewCampaign(
        name=name,
        document_id=None,
        quality=quality,
        send_type=SendType.SCHEDULED if send_at else SendType.MANUAL,
        send_at=send_at,
        recipients_list=numbers_text,
    )
    # The create use case judges the PDF (documents.identify_file) with the other fields.
    return new, PdfUpload(pdf.name, _head(svc, pdf), pdf.stat().st_size)


def _read(svc: Services, path: Path | None, expect: str) -> documents.IdentifiedFile:
    """The file checked as the API and the web form check theirs."""
    assert path is not None
    return documents.identify_file(
        _head(svc, path),
        limits=svc.settings.document_limits,
        name=path.name,
        expect=expect,
        size=path.stat().st_size,
    )


def _head(svc: Services, path: Path) -> bytes:
    """The file's bytes, up to one past the limit: enough to refuse it, never all of a big one."""
    with path.open("rb") as file:
        return file.read(svc.settings.max_document_bytes + 1)


def _campaign_row(item: Campaign) -> str:
    counts = f"{item.count_delivered}/{item.count_failed}/{item.count_todo}/{item.count_total}"
    return (
        f"{item.id}\t{item.reference}\t{item.state.value}\t{item.outcome.value}\t{counts}\t"
        f"{item.name}"
    )


def _describe(detail: CampaignDetail, timezone: str) -> str:
    """The campaign and every attempt, times in the account's time zone."""
    zone = ZoneInfo(timezone)
    texts = translator(environment_language(os.environ))

    def local(moment: datetime | None) -> str:
        return _local(moment, zone)

    c = detail.campaign
    lines = [
        f"campaign {c.id} '{c.name}' reference {c.reference}",
        f"  state {c.state.value} ({c.state.provider_status}), outcome {c.outcome.value}",
        f"  quality {c.quality.value}, {c.pages} pages, schedule: {_schedule(c, texts, local)}",
        f"  started {local(c.started_at)}, ended {local(c.finished_at)}",
        f"  delivered {c.count_delivered}, failed {c.count_failed}, to do {c.count_todo}, "
        f"total {c.count_total}",
    ]
    if detail.retries is not None:
        lines.append(f"  {_retries(texts, detail.retries, zone)}")
    for r in detail.recipients:
        number = f"{r.typed} ({r.number})" if r.typed else r.number
        line = f"  {number}: {r.state.value} after {r.calls} call(s): {r.reason or '-'}"
        if r.next_call_at is not None:
            line += "; " + texts.message(codes.NEXT_CALL(when=local(r.next_call_at)))
            if r.tries_left is not None:
                line += ", " + texts.message(codes.TRIES_LEFT(count=r.tries_left))
        lines.append(line)
        for a in r.attempts:
            verdict = "delivered" if a.delivered else a.failure.value if a.failure else "?"
            lines.append(
                f"    {local(a.started_at)} {verdict}, "
                f"pages {a.pages_confirmed}/{a.pages_total}, {a.bit_rate or '-'} bit/s, "
                f"{a.duration_s:.0f} s: {a.reason}"
            )
    return "\n".join(lines)


def _schedule(c: Campaign, texts: Translator, local: Callable[[datetime | None], str]) -> str:
    """When it runs: a stopped schedule says it no longer holds, a manual one when launched."""
    if c.send_at is not None and c.state is CampaignState.WAITING:
        return texts("schedule.was_planned", when=local(c.send_at))
    if c.send_at is not None:
        return local(c.send_at)
    if c.started_at is not None:
        return texts("schedule.launched", when=local(c.started_at))
    return texts("schedule.manual")
