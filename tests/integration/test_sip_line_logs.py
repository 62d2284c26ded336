"""A worker handed a campaign on a SIP line: the line, password and all, goes through claims,
the driver's opening and a digest-authenticated call, and the password reaches no log line."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from faxcast.bootstrap import line_drivers
from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.dispatch.worker import Worker
from faxcast.domain.campaign import SendType
from faxcast.domain.models import LineKind, LineSettings
from faxcast.domain.outcome import FailureClass
from faxcast.domain.quality import Quality
from faxcast.domain.sip_line import Password, SipLineSettings
from faxcast.lines.phonenet import PhoneNetwork
from faxcast.services import accounts, campaigns, documents
from faxcast.services.context import Services
from faxcast.services.new_campaign import NewCampaign
from faxcast.sip.digest import DigestVerifier
from faxcast.store.blobs import DatabaseBlobStore
from faxcast.store.database import create_engine_for
from tests import pdfs

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SECRET = "worker-must-not-log-this"
_WAIT_S = 30.0


def test_a_worker_logs_nothing_of_a_sip_lines_password(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    engine = create_engine_for(database_url)
    settings = Settings(data_dir=tmp_path, database_url=database_url, worker_poll_s=0.02)
    svc = Services(engine, DatabaseBlobStore(), ManualClock(NOW), settings)
    try:
        account = accounts.create_account(svc, name="Acme")
        pdf = documents.upload_document(svc, account.id, name="a.pdf", data=pdfs.text_pdf())
        # The phone network's number ending 0486 is busy; it lets only the line's user in.
        network = PhoneNetwork(tmp_path / "network", auth=DigestVerifier("net", {"u": SECRET}))

        async def run_until_the_call_is_refused() -> None:
            await network.start("127.0.0.1", 0)
            host, port = network.address
            sip = SipLineSettings(
                proxy_host=host,
                proxy_port=port,
                username="u",
                password=Password(SECRET),
                local_address=host,
            )
            line = accounts.create_line(
                svc, account.id, LineSettings("Trunk", LineKind.SIP, "FR", "", "", 1, sip=sip)
            )
            new = NewCampaign(
                "Relance", pdf.id, Quality.NORMAL, SendType.MANUAL, None, "0123450486"
            )
            created = campaigns.create_campaign(svc, account.id, line.id, new)
            campaigns.launch_campaign(svc, account.id, line.id, created.id)
            worker = Worker(svc, line_drivers(svc), cache_dir=tmp_path / "cache", rand=lambda: 0.5)
            stop = asyncio.Event()
            task = asyncio.create_task(worker.run(stop))
            try:
                async with asyncio.timeout(_WAIT_S):
                    while not _busy_recorded(svc, account.id, line.id, created.id):
                        await asyncio.sleep(0.05)
            finally:
                stop.set()
                await asyncio.wait_for(task, _WAIT_S)
                await network.close()

        asyncio.run(run_until_the_call_is_refused())
    finally:
        engine.dispose()

    # The INVITE, signed in with the password, got through to the busy number; no log has it.
    assert network.calls == 1
    assert SECRET not in caplog.text


def _busy_recorded(svc: Services, account_id: int, line_id: int, campaign_id: int) -> bool:
    detail = campaigns.campaign_detail(svc, account_id, line_id, campaign_id)
    attempts = [a for r in detail.recipients for a in r.attempts]
    if not attempts:
        return False
    assert [(a.sip_status, a.failure) for a in attempts] == [(486, FailureClass.BUSY)]
    return True
