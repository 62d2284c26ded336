"""Campaign use cases: create, list, show, launch, stop, delete, and what recipients received."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import groupby
from operator import itemgetter

from sqlalchemy import Connection

from faxcast.domain import retry
from faxcast.domain.access import AuditAction
from faxcast.domain.campaign import Campaign, CampaignOutcome, CampaignState, initial_state
from faxcast.domain.models import CampaignDetail, CampaignSort, Line, Page, Recipient
from faxcast.domain.numbers import RecipientList, warned
from faxcast.domain.recipient import RecipientState
from faxcast.domain.retry import RetriesWaiting, RetryPolicy
from faxcast.errors import ConflictError, InputError, NotFoundError, raise_all
from faxcast.fields import Field
from faxcast.i18n import codes
from faxcast.services import audit
from faxcast.services import documents as document_service
from faxcast.services.context import Services
from faxcast.services.guard import require_member
from faxcast.services.new_campaign import (
    CheckedCampaign,
    NewCampaign,
    PdfUpload,
    check_campaign,
)
from faxcast.store import queue, repository

_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U


@dataclass(frozen=True)
class Created:
    """A new campaign and its parsed list, whose warnings and merges the user is told."""

    campaign: Campaign
    recipients: RecipientList


def create_campaign(
    svc: Services,
    account_id: int,
    line_id: int,
    new: NewCampaign,
    *,
    upload: PdfUpload | None = None,
) -> Campaign:
    """Check everything, then store the campaign and its recipients at once, or nothing."""
    return create_campaign_told(svc, account_id, line_id, new, upload=upload).campaign


def create_campaign_told(
    svc: Services,
    account_id: int,
    line_id: int,
    new: NewCampaign,
    *,
    upload: PdfUpload | None = None,
) -> Created:
    """`create_campaign`, with what the user is to be told about the numbers.

    With `upload`, the PDF is stored as a document in that same transaction, only if all is valid.
    """
    require_member(svc, account_id)
    checked, errors = check_campaign(svc, account_id, line_id, new, upload=upload)
    raise_all(errors)
    assert checked is not None
    return Created(_store(svc, account_id, checked, upload), checked.recipients)


def _store(
    svc: Services, account_id: int, checked: CheckedCampaign, upload: PdfUpload | None
) -> Campaign:
    new, line, now, rendered = checked.new, checked.line, checked.now, checked.rendered
    resolution = checked.quality.profile.resolution
    document = checked.document
    with svc.transaction() as conn:
        rendition = repository.rendition_id(
            conn, pdf_sha256=checked.pdf_sha256, resolution=resolution.value
        )
        if document is None:
            assert upload is not None
            document = repository.insert_document(
                conn,
                account_id=account_id,
                name=upload.name.strip()[-255:] or "document.pdf",
                media_type=document_service.PDF,
                size=len(upload.data),
                sha256=svc.blobs.put(conn, upload.data, now=now),
                pages=rendered.pages if rendered else repository.rendition_pages(conn, rendition),
                now=now,
            )
        if rendition is None:
            assert rendered is not None
            rendition = repository.insert_rendition(
                conn,
                {
                    "pdf_sha256": checked.pdf_sha256,
                    "resolution": resolution.value,
                    "tiff_sha256": svc.blobs.put(conn, rendered.tiff, now=now),
                    "pages": rendered.pages,
                    "page_bits": rendered.page_bits,
                    "created_at": now,
                },
            )
        campaign_id = repository.insert_campaign(
            conn,
            values={
                "account_id": account_id,
                "line_id": line.id,
                "reference": _new_reference(conn),
                "name": checked.name,
                "document_id": document.id,
                "rendition_id": rendition,
                "quality": checked.quality.value,
                "send_type": new.send_type.value,
                "send_at": checked.send_at,
                "state": initial_state(new.send_type).value,
                "outcome": CampaignOutcome.NA.value,
                "count_delivered": 0,
                "count_failed": 0,
                "created_at": now,
            },
            numbers=checked.recipients.numbers,
            typed=checked.recipients.typed,
            line_id=line.id,
        )
        campaign = repository.get_campaign(conn, account_id, line.id, campaign_id)
        audit.record(conn, svc, account_id, AuditAction.CAMPAIGN_CREATED, _named(campaign))
        return campaign


def list_campaigns(
    svc: Services,
    account_id: int,
    line_id: int,
    *,
    states: tuple[CampaignState, ...] = (),
    sort: CampaignSort = CampaignSort.CREATED_AT,
    descending: bool = True,
    page: int = 1,
    page_size: int = 50,
) -> Page[Campaign]:
    """The line's campaigns, newest first by default."""
    require_member(svc, account_id)
    if page < 1 or not 1 <= page_size <= 500:
        raise InputError(codes.PAGE_OUT_OF_RANGE(), field=Field.PAGE)
    with svc.transaction() as conn:
        repository.get_line(conn, account_id, line_id)
        return repository.list_campaigns(
            conn,
            account_id,
            line_id,
            states=states,
            sort=sort,
            descending=descending,
            page=page,
            page_size=page_size,
        )


def get_campaign(svc: Services, account_id: int, line_id: int, campaign_id: int) -> Campaign:
    """One campaign of the line, or NotFoundError."""
    require_member(svc, account_id)
    with svc.transaction() as conn:
        return repository.get_campaign(conn, account_id, line_id, campaign_id)


def campaign_detail(
    svc: Services,
    account_id: int,
    line_id: int,
    campaign_id: int,
    *,
    page: int = 1,
    page_size: int | None = None,
) -> CampaignDetail:
    """The campaign with its recipients and their attempts: all, or page `page` of them.

    A page past the last is the last: what it costs is what it shows, whatever the list's size.
    """
    require_member(svc, account_id)
    with svc.transaction() as conn:
        line = repository.get_line(conn, account_id, line_id)
        campaign = repository.get_campaign(conn, account_id, line_id, campaign_id)
        first = 1
        if page_size is not None:
            last_page = max(1, -(-campaign.count_total // page_size))
            first = (min(max(page, 1), last_page) - 1) * page_size + 1
        shown = repository.campaign_recipients(conn, campaign.id, first=first, count=page_size)
        retries = _retries_waiting(svc, conn, line, [campaign]).get(campaign.id)
    policy = svc.settings.retry_policy.for_call(campaign.quality, line.max_calls)
    return CampaignDetail(
        campaign, tuple(_waiting(campaign, policy, r) for r in shown), first, retries
    )


def retries_waiting(
    svc: Services, account_id: int, line_id: int, shown: Sequence[Campaign]
) -> dict[int, RetriesWaiting]:
    """The retries that the running campaigns among `shown` (the line's) only wait for, by id."""
    require_member(svc, account_id)
    with svc.transaction() as conn:
        line = repository.get_line(conn, account_id, line_id)
        mine = [c for c in shown if c.account_id == account_id and c.line_id == line_id]
        return _retries_waiting(svc, conn, line, mine)


def _retries_waiting(
    svc: Services, conn: Connection, line: Line, shown: Sequence[Campaign]
) -> dict[int, RetriesWaiting]:
    running = {c.id: c for c in shown if c.state is CampaignState.RUNNING}
    found: dict[int, RetriesWaiting] = {}
    rows = repository.waiting_retries(conn, sorted(running))
    for campaign_id, group in groupby(rows, key=itemgetter(0)):
        campaign = running[campaign_id]
        policy = svc.settings.retry_policy.for_call(campaign.quality, line.max_calls)
        summary = retry.retries_waiting(policy, ((due, history) for _, due, history in group))
        # Only when nothing else is left: no first call to make and no call in progress.
        if summary is not None and summary.count == campaign.count_todo:
            found[campaign_id] = summary
    return found


def _waiting(campaign: Campaign, policy: RetryPolicy, recipient: Recipient) -> Recipient:
    """The recipient with its next call and the calls it has left, if it waits for a retry of
    a running campaign (a stopped one calls nobody)."""
    waits = recipient.state is RecipientState.PENDING and recipient.due_at is not None
    if campaign.state is not CampaignState.RUNNING or not waits:
        return recipient
    failures = [a.failure for a in recipient.attempts if a.failure is not None]
    left = policy.tries_left(recipient.history, failures[-1]) if failures else None
    return replace(recipient, next_call_at=recipient.due_at, tries_left=left)


def launch_campaign(svc: Services, account_id: int, line_id: int, campaign_id: int) -> Campaign:
    """Start a waiting campaign now (the seed's "Lancer la campagne")."""
    require_member(svc, account_id)
    with svc.transaction() as conn:
        campaign = repository.get_campaign(conn, account_id, line_id, campaign_id, lock=True)
        repository.save_campaign(conn, campaign, campaign.launched(now=svc.clock.now()))
        audit.record(conn, svc, account_id, AuditAction.CAMPAIGN_LAUNCHED, _named(campaign))
        return repository.get_campaign(conn, account_id, line_id, campaign_id)


def stop_campaign(svc: Services, account_id: int, line_id: int, campaign_id: int) -> Campaign:
    """Stop a scheduled or running campaign: no new call; it then waits for a launch."""
    return stop_campaign_told(svc, account_id, line_id, campaign_id).campaign


@dataclass(frozen=True)
class Stopped:
    """A campaign just stopped, and the calls in progress its stop waits for (0: waiting)."""

    campaign: Campaign
    calls: int


def stop_campaign_told(svc: Services, account_id: int, line_id: int, campaign_id: int) -> Stopped:
    """`stop_campaign`, with how many calls in progress the stop waits for."""
    require_member(svc, account_id)
    with svc.transaction() as conn:
        # The line first, as a claim locks it: a claim under way ends before the calls are
        # counted, and none starts after, so the count is the calls the stop waits for.
        queue.lock_line(conn, account_id, line_id)
        campaign = repository.get_campaign(conn, account_id, line_id, campaign_id, lock=True)
        calls = queue.calls_of_campaign(conn, campaign.id, now=svc.clock.now())
        repository.save_campaign(conn, campaign, campaign.stopped(calls_in_progress=calls))
        audit.record(conn, svc, account_id, AuditAction.CAMPAIGN_STOPPED, _named(campaign))
        return Stopped(repository.get_campaign(conn, account_id, line_id, campaign_id), calls)


def delete_campaign(svc: Services, account_id: int, line_id: int, campaign_id: int) -> None:
    """Remove a campaign from the history; refused while it runs or stops."""
    require_member(svc, account_id)
    with svc.transaction() as conn:
        # The line first, as a removal of flagged numbers takes it before the campaign and then
        # the recipients: this deletes the recipients before the campaign, so without it the
        # two could each wait for what the other holds.
        queue.lock_line(conn, account_id, line_id)
        campaign = repository.get_campaign(conn, account_id, line_id, campaign_id)
        campaign.check_deletable()
        # A campaign that could not run lets the calls it had in progress end, and a recovered
        # call is held while a paused worker may still be placing it: their results need the
        # recipients' rows, which also keep those calls' channels and numbers busy.
        calls = queue.calls_of_campaign(conn, campaign.id, now=svc.clock.now())
        if calls:
            raise ConflictError(codes.CALLS_MAY_BE_IN_PROGRESS(name=campaign.name, count=calls))
        if not repository.delete_campaign(conn, campaign):
            raise ConflictError(codes.CHANGED_MEANWHILE(name=campaign.name))
        audit.record(conn, svc, account_id, AuditAction.CAMPAIGN_DELETED, _named(campaign))


@dataclass(frozen=True)
class Removed:
    """A campaign after its flagged numbers left it, and how many did."""

    campaign: Campaign
    count: int


def remove_flagged(svc: Services, account_id: int, line_id: int, campaign_id: int) -> Removed:
    """Take the numbers flagged as probably invalid out of a campaign that has not started, all
    at once. Refused, changing nothing, once it has started or if none or all are flagged."""
    require_member(svc, account_id)
    with svc.transaction() as conn:
        # The locks and their order are a stop's: the line, which every claim (and a deletion)
        # locks first, so no call starts on it until this ends; then the campaign, which a
        # scheduled start locks, so it starts before (and this is refused) or after (with the
        # numbers left). Recipients are touched only once the campaign is found not started:
        # no call has locked them then.
        line = queue.lock_line(conn, account_id, line_id)
        campaign = repository.get_campaign(conn, account_id, line_id, campaign_id, lock=True)
        ids = _flagged(repository.campaign_numbers(conn, campaign.id), country=line.country)
        after = campaign.without_flagged(
            flagged=len(ids), called=repository.called_recipients(conn, campaign.id)
        )
        repository.remove_recipients(conn, campaign, after, ids)
        audit.record(
            conn, svc, account_id, AuditAction.FLAGGED_REMOVED, f"{_named(campaign)} ({len(ids)})"
        )
        return Removed(repository.get_campaign(conn, account_id, line_id, campaign_id), len(ids))


def flagged_count(svc: Services, account_id: int, line_id: int, campaign_id: int) -> int:
    """How many numbers `remove_flagged` would take out now (0 once the campaign has started)."""
    require_member(svc, account_id)
    with svc.transaction() as conn:
        line = repository.get_line(conn, account_id, line_id)
        campaign = repository.get_campaign(conn, account_id, line_id, campaign_id)
        if not campaign.before_start:
            return 0
        numbers = repository.campaign_numbers(conn, campaign.id)
    # Read outside the transaction: on SQLite it holds the database's write lock.
    return len(_flagged(numbers, country=line.country))


def _flagged(numbers: list[tuple[int, str]], *, country: str) -> list[int]:
    """The ids among (id, number) pairs whose numbers are flagged as probably invalid."""
    flagged = warned((number for _, number in numbers), country=country)
    return [recipient for recipient, number in numbers if number in flagged]


def start_due_campaigns(svc: Services) -> int:
    """Scheduled campaigns whose time has come start running, each exactly once."""
    now = svc.clock.now()
    with svc.transaction() as conn:
        due = queue.due_campaigns(conn, now=now)
        for account_id, line_id, campaign_id in due:
            campaign = repository.get_campaign(conn, account_id, line_id, campaign_id)
            repository.save_campaign(conn, campaign, campaign.started(now=now))
    return len(due)


def progress(conn: Connection, campaign: Campaign, *, now: datetime) -> None:
    """After calls of the campaign ended: save what its lifecycle decides (finished, waiting)."""
    after = campaign.progressed(
        now=now, calls_in_progress=lambda: queue.calls_of_campaign(conn, campaign.id, now=now)
    )
    if after != campaign:
        repository.save_campaign(conn, campaign, after)


def end_expired_holds(svc: Services) -> int:
    """End the holds whose time has come; the stops they kept going may end with them.

    How many stopping campaigns that concerned."""
    now = svc.clock.now()
    with svc.transaction() as conn:
        stopping = queue.expire_holds(conn, now=now)
        for account_id, line_id, campaign_id in stopping:
            campaign = repository.get_campaign(conn, account_id, line_id, campaign_id, lock=True)
            progress(conn, campaign, now=now)
    return len(stopping)


def fail_campaign(
    conn: Connection,
    account_id: int,
    line_id: int,
    campaign_id: int,
    *,
    reason: str,
    now: datetime,
) -> None:
    """The campaign cannot run: it ends in error and every recipient not in a call fails."""
    campaign = repository.get_campaign(conn, account_id, line_id, campaign_id, lock=True)
    repository.save_campaign(conn, campaign, campaign.failed(reason, now=now))
    failed = queue.fail_pending(
        conn, campaign.id, reason=f"the campaign cannot run: {reason}", now=now
    )
    queue.count_settled(conn, campaign.id, delivered=0, failed=failed, pages=campaign.pages)


def received_fax(svc: Services, account_id: int, line_id: int, attempt_id: int) -> bytes:
    """The TIFF-F a sandbox fax machine received in one attempt."""
    require_member(svc, account_id)
    with svc.transaction() as conn:
        attempt = repository.get_attempt(conn, account_id, line_id, attempt_id)
        if attempt.received_sha256 is None:
            raise NotFoundError(codes.NOTHING_RECEIVED(attempt=attempt_id))
        return svc.blobs.get(conn, attempt.received_sha256)


def received_page_png(
    svc: Services, account_id: int, line_id: int, attempt_id: int, page: int
) -> bytes:
    """One received page as PNG, as the recipient's machine printed it."""
    require_member(svc, account_id)
    # Loaded on use: NumPy and PDFium would add a third of a second to every CLI command.
    from faxcast.documents import preview_png, read_tiff_f

    pages = read_tiff_f(received_fax(svc, account_id, line_id, attempt_id)).pages
    if not 1 <= page <= len(pages):
        raise NotFoundError(codes.NO_RECEIVED_PAGE(attempt=attempt_id, count=len(pages), page=page))
    return preview_png(pages[page - 1])


def campaign_preview_png(
    svc: Services, account_id: int, line_id: int, campaign_id: int, page: int
) -> bytes:
    """One page of what the campaign sends, as PNG."""
    from faxcast.documents import preview_png, read_tiff_f

    require_member(svc, account_id)
    with svc.transaction() as conn:
        campaign = repository.get_campaign(conn, account_id, line_id, campaign_id)
        tiff = svc.blobs.get(conn, repository.campaign_tiff(conn, campaign.id))
    pages = read_tiff_f(tiff).pages
    if not 1 <= page <= len(pages):
        raise NotFoundError(codes.NO_CAMPAIGN_PAGE(count=len(pages), page=page))
    return preview_png(pages[page - 1])


def _named(campaign: Campaign) -> str:
    return f"{campaign.reference} {campaign.name}"


def _new_reference(conn: Connection) -> str:
    for _ in range(10):
        reference = "C" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(7))
        if not repository.reference_exists(conn, reference):
            return reference
    raise ConflictError(codes.NO_FREE_REFERENCE())
