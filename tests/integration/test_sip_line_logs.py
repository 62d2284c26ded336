"""A worker handed a campaign on a SIP line: the line, password and all, goes through claims
and the driver's opening, and the password reaches no log line."""

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
from faxcast.domain.quality import Quality
from faxcast.domain.sip_line import Password, SipLineSettings
from faxcast.services import accounts, campaigns, documents
from faxcast.services.context import Services
from faxcast.services.new_campaign import NewCampaign
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
        sip = SipLineSettings(proxy_host="192.0.2.1", username="u", password=Password(SECRET))
        line = accounts.create_line(
            svc, account.id, LineSettings("Trunk", LineKind.SIP, "FR", "", "", 1, sip=sip)
        )
        pdf = documents.upload_document(svc, account.id, name="a.pdf", data=pdfs.text_pdf())
        new = NewCampaign("Relance", pdf.id, Quality.NORMAL, SendType.MANUAL, None, "0123456789")
        created = campaigns.create_campaign(svc, account.id, line.id, new)
        campaigns.launch_campaign(svc, account.id, line.id, created.id)
        worker = Worker(svc, line_drivers(svc), cache_dir=tmp_path / "cache", rand=lambda: 0.5)

        async def run_until_the_call_fails() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(worker.run(stop))
            try:
                async with asyncio.timeout(_WAIT_S):
                    while "failed" not in caplog.text:
                        await asyncio.sleep(0.02)
            finally:
                stop.set()
                await asyncio.wait_for(task, _WAIT_S)

        asyncio.run(run_until_the_call_fails())
    finally:
        engine.dispose()

    # Driving a SIP line is not written yet: the call fails, and says which line and why.
    assert f"line {line.id} is a sip line: not supported yet" in caplog.text
    assert SECRET not in caplog.text
