"""/metrics: the counters, histogram and gauges follow a real campaign through the worker.

Real sandbox calls through the real worker, ticked by the test on a ManualClock, on SQLite and
on PostgreSQL; every exposition is read back with prometheus_client's own parsers.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.core import Metric
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from faxcast.bootstrap import line_drivers
from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.dispatch.worker import Worker
from faxcast.services import metrics, outcomes
from faxcast.services.context import Services
from faxcast.services.metrics import Metrics
from faxcast.store import queue
from faxcast.store.blobs import DatabaseBlobStore
from faxcast.store.database import create_engine_for
from tests import pdfs
from tests.asgi import api_client

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "faxcast.json"
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
HEALTHY = "01 23 45 67 89"
DROPPED = "01 23 45 02 22"  # drops during page 2: page 1, then page 2 on a retry
UNALLOCATED = "01 23 45 04 04"
Json = dict[str, object]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, by name and sorted labels (parsed by prometheus_client)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def openmetrics(text: str) -> dict[str, Metric]:
    """An OpenMetrics exposition's families by name."""
    parsed: Iterable[Metric] = openmetrics_families(text)  # type: ignore[no-untyped-call]
    return {family.name: family for family in parsed}


def value(scraped: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when the exposition does not have it (a label never used)."""
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


@dataclass
class Site:
    """An app and a worker over one fresh database, with one account, its line and a PDF."""

    svc: Services
    clock: ManualClock
    worker: Worker
    http: httpx.Client
    account: int
    line: int
    base: str
    pdf_id: int

    def scrape(self) -> Samples:
        response = self.http.get("/metrics")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        return samples(response.text)

    def campaign(self, numbers: str, **fields: object) -> Json:
        body: Json = {
            "name": "Relance",
            "documentId": self.pdf_id,
            "faxQuality": "high",
            "sendType": "manual",
            "recipientsType": "list",
            "recipientsList": numbers,
            **fields,
        }
        created = self.http.post(f"{self.base}/campaigns", json=body)
        assert created.status_code == 201, created.text
        result: Json = created.json()
        return result

    def launch(self, campaign: Json) -> None:
        launched = self.http.post(f"{self.base}/campaigns/{campaign['id']}/start")
        assert launched.status_code == 200, launched.text

    def state(self, campaign: Json) -> str:
        state: str = self.http.get(f"{self.base}/campaigns/{campaign['id']}").json()["state"]
        return state

    def tick(self) -> int:
        async def once() -> int:
            started = await self.worker.tick()
            await self.worker.idle()
            return started

        return asyncio.run(once())


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Site]:
    clock = ManualClock(START)
    settings = Settings(data_dir=tmp_path, database_url=database_url, channel_limit=4)
    engine = create_engine_for(database_url)
    svc = Services(engine, DatabaseBlobStore(), clock, settings)
    http = api_client(svc)
    account = http.post("/telephony", json={"name": "ACME", "timezone": "Europe/Paris"}).json()
    line = http.get(f"/telephony/{account['id']}/fax").json()[0]["id"]
    upload = http.post(
        "/me/document",
        params={"account": account["id"]},
        files={"file": ("lettre.pdf", pdfs.text_pdf(pages=2), "application/pdf")},
    )
    assert upload.status_code == 201, upload.text
    worker = Worker(svc, line_drivers(svc), cache_dir=tmp_path / "cache", rand=lambda: 0.5)
    base = f"/telephony/{account['id']}/fax/{line}"
    yield Site(svc, clock, worker, http, account["id"], line, base, upload.json()["id"])
    http.close()
    engine.dispose()


def test_the_metrics_follow_a_sandbox_campaign_through_the_worker(site: Site) -> None:
    scheduled = START + timedelta(days=1)
    site.campaign("01 11 11 11 11, 01 22 22 22 22", sendType="scheduled", sendDate=str(scheduled))
    campaign = site.campaign(f"{HEALTHY}, {DROPPED}, {UNALLOCATED}")
    line = {"account": str(site.account), "line": str(site.line)}

    before = site.scrape()
    assert value(before, "faxcast_queue_depth", queue="scheduled") == 2
    assert value(before, "faxcast_queue_depth", queue="due") == 0  # not launched yet
    assert value(before, "faxcast_line_channels", **line) == 4
    assert value(before, "faxcast_calls_in_progress", **line) == 0
    assert value(before, "faxcast_attempts_total", outcome="delivered", failure="none") == 0

    site.launch(campaign)
    site.clock.advance(timedelta(seconds=7))
    assert value(site.scrape(), "faxcast_queue_depth", queue="due") == 3

    async def claim_then_scrape() -> Samples:
        assert await site.worker.tick() == 3
        # The calls have not run yet: their recipients are in a call, in the database.
        body, _ = metrics.exposition(site.svc, None)
        await site.worker.idle()
        return samples(body.decode())

    during = asyncio.run(claim_then_scrape())
    assert value(during, "faxcast_calls_in_progress", **line) == 3
    assert value(during, "faxcast_queue_depth", queue="due") == 0

    after_first = site.scrape()
    assert value(after_first, "faxcast_calls_in_progress", **line) == 0
    assert value(after_first, "faxcast_attempts_total", outcome="delivered", failure="none") == 1
    assert value(after_first, "faxcast_attempts_total", outcome="failed", failure="permanent") == 1
    retried = ("faxcast_attempts_total", {"outcome": "retry", "failure": "transfer_failed"})
    assert value(after_first, retried[0], **retried[1]) == 1
    assert value(after_first, "faxcast_queue_depth", queue="retry_wait") == 1
    # The first calls were due when the campaign started, 7 s before the claim.
    first_calls = {"kind": "first_call"}
    assert value(after_first, "faxcast_dispatch_lag_seconds_count", **first_calls) == 3
    assert value(after_first, "faxcast_dispatch_lag_seconds_sum", **first_calls) == 21
    assert value(after_first, "faxcast_dispatch_lag_seconds_bucket", le="5.0", **first_calls) == 0
    assert value(after_first, "faxcast_dispatch_lag_seconds_bucket", le="10.0", **first_calls) == 3
    # The healthy machine confirmed both pages, the dropped call the first one.
    assert value(after_first, "faxcast_pages_sent_total") == 3
    line_seconds = value(after_first, "faxcast_line_seconds_total")
    assert line_seconds > 10

    site.clock.advance(timedelta(minutes=10))  # the dropped number's retry is due in 1 min
    assert site.tick() == 1
    assert site.state(campaign) == "finished"

    final = site.scrape()
    assert value(final, "faxcast_attempts_total", outcome="delivered", failure="none") == 2
    assert value(final, retried[0], **retried[1]) == 1
    assert value(final, "faxcast_pages_sent_total") == 4  # the retry sent page 2 only
    assert value(final, "faxcast_line_seconds_total") > line_seconds
    assert value(final, "faxcast_dispatch_lag_seconds_count", kind="retry") == 1
    assert 8 * 60 < value(final, "faxcast_dispatch_lag_seconds_sum", kind="retry") < 10 * 60
    assert value(final, "faxcast_queue_depth", queue="retry_wait") == 0
    assert value(final, "faxcast_queue_depth", queue="due") == 0
    assert value(final, "faxcast_queue_depth", queue="scheduled") == 2
    assert value(final, "faxcast_claims_recovered_total") == 0


def test_an_abandoned_claim_counts_as_recovered(site: Site) -> None:
    site.launch(site.campaign(HEALTHY))
    with site.svc.transaction() as conn:
        claims = queue.claim(
            conn,
            account_id=site.account,
            line_id=site.line,
            worker_id="a-worker-that-died",
            now=START,
            lease_s=60,
            most=1,
        )
    assert len(claims) == 1
    site.clock.advance(timedelta(hours=1))

    assert outcomes.recover_abandoned(site.svc, rand=lambda: 0.5) == 1

    assert value(site.scrape(), "faxcast_claims_recovered_total") == 1


def test_the_exposition_parses_as_openmetrics_when_asked(site: Site) -> None:
    site.svc.metrics.record_retried()  # the one write of it: Worker's recording retries

    response = site.http.get("/metrics", headers={"Accept": "application/openmetrics-text"})

    assert response.headers["content-type"].startswith("application/openmetrics-text")
    families = openmetrics(response.text)
    assert families["faxcast_record_retries"].type == "counter"
    assert families["faxcast_record_retries"].samples[0].value == 1
    assert families["faxcast_dispatch_lag_seconds"].type == "histogram"
    assert families["faxcast_queue_depth"].type == "gauge"
    assert families["faxcast_calls_in_progress"].type == "gauge"


def test_the_grafana_dashboard_asks_only_for_exposed_metrics(site: Site) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    asked = {
        re.sub(r"_(total|bucket|sum|count)$", "", name)
        for expr in exprs
        for name in re.findall(r"faxcast_[a-z_]+", expr)
    }
    exposition = site.http.get("/metrics").text
    # prometheus_client's `_created` gauges (a counter's start time) are not worth a panel.
    exposed = {
        family.name
        for family in text_string_to_metric_families(exposition)
        if not family.name.endswith("_created")
    }

    assert asked == exposed  # and the dashboard shows every one


def test_each_services_counts_apart() -> None:
    first, second = Metrics(), Metrics()

    first.recovered(2)

    assert first.registry.get_sample_value("faxcast_claims_recovered_total") == 2
    assert second.registry.get_sample_value("faxcast_claims_recovered_total") == 0


def test_the_process_metrics_are_scraped_while_the_database_is_gone(tmp_path: Path) -> None:
    engine = create_engine_for("sqlite:////nonexistent-faxcast-directory/faxcast.db")
    svc = Services(engine, DatabaseBlobStore(), ManualClock(START), Settings(data_dir=tmp_path))
    svc.metrics.recovered(1)

    with api_client(svc, signed_in=False) as http:
        response = http.get("/metrics")
    engine.dispose()

    assert response.status_code == 200
    scraped = samples(response.text)
    assert value(scraped, "faxcast_claims_recovered_total") == 1
    assert not [name for name, _ in scraped if name.startswith("faxcast_queue_depth")]
