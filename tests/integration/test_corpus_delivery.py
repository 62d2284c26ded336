"""Every accepted corpus document reaches a sandbox machine, at every quality, within the call's
watchdog; and the watchdog's line-time model holds on the heaviest page at the slowest modem."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from faxcast.clock import ManualClock
from faxcast.documents import render_pdf, write_tiff_f
from faxcast.domain.quality import Modem, Quality
from faxcast.domain.retry import NO_STEP_DOWN, StepDown, degraded_profile, line_s, slowest_bps
from faxcast.domain.station import StationIdentity
from faxcast.fax.engine import Outgoing
from faxcast.lines.base import CallResult, FaxJob
from faxcast.lines.sandbox import SandboxLine, SandboxNetwork
from tests.unit.test_documents_corpus import CORPUS, corpus_cases, read_case

SENDER = StationIdentity("+33 1 23 45 67 89", "ACME Paris")
HEALTHY = "+33123456789"
HEAVIEST = "a3-landscape-gradient.pdf"  # the corpus page with the most bits, at fine
# The step-down after two failed tries: V.29 at most and ECM off, so pages go as T.4 2-D,
# their largest coding.
WITHOUT_ECM = StepDown.after(2)


def _send(job: FaxJob) -> CallResult:
    async def call() -> CallResult:
        async with SandboxLine(
            SandboxNetwork(ManualClock(datetime(2030, 1, 2, tzinfo=UTC)))
        ) as line:
            return await line.send(job)

    return asyncio.run(call())


def _outgoing(pdf: bytes, quality: Quality, directory: Path) -> Outgoing:
    path = directory / "sent.tif"
    path.write_bytes(write_tiff_f(render_pdf(pdf, quality.profile.resolution)))
    return Outgoing.from_file(path)


@pytest.mark.slow
@pytest.mark.parametrize("step", [NO_STEP_DOWN, WITHOUT_ECM], ids=["first-try", "without-ecm"])
@pytest.mark.parametrize("quality", list(Quality), ids=lambda q: q.value)
@pytest.mark.parametrize("case", corpus_cases("accept"))
def test_every_accepted_corpus_document_is_delivered_at_every_quality(
    case: dict[str, Any] | None, quality: Quality, step: StepDown, tmp_path: Path
) -> None:
    outgoing = _outgoing(read_case(case), quality, tmp_path)
    profile = degraded_profile(quality.profile, step)
    # Audio: real modems, the slowest way a call goes.
    job = FaxJob(HEALTHY, outgoing, profile, SENDER, t38_allowed=False)

    result = _send(job)

    assert result.delivered, result.reason
    assert result.fax is not None
    assert result.fax.pages_confirmed == outgoing.pages
    assert result.fax.ecm is profile.ecm
    assert result.fax.duration_s < job.cap_s


@pytest.mark.parametrize("ecm", [True, False], ids=["ecm", "no-ecm"])
def test_the_heaviest_page_at_the_slowest_modem_takes_no_longer_than_its_line_time(
    ecm: bool, tmp_path: Path
) -> None:
    outgoing = _outgoing((CORPUS / HEAVIEST).read_bytes(), Quality.HIGH, tmp_path)
    # V.27ter alone, at 4800 bit/s (it falls back to 2400 only on a line that fails training).
    profile = dataclasses.replace(Quality.HIGH.profile, modems=(Modem.V27TER,), ecm=ecm)
    job = FaxJob(HEALTHY, outgoing, profile, SENDER, t38_allowed=False)

    result = _send(job)

    assert result.delivered, result.reason
    assert result.fax is not None
    assert result.fax.bit_rate == 4800
    # The model the watchdog is sized with holds at the rate the call went at: at 2400 bit/s,
    # the slowest, the cap is that same model's figure.
    assert result.fax.duration_s <= line_s(outgoing.page_bits, result.fax.bit_rate)
    assert slowest_bps(profile) == 2400
    assert job.cap_s == line_s(outgoing.page_bits, 2400)
    assert job.cap_s > 1.8 * result.fax.duration_s
