"""The seed's whole flow through the HTTP API on the sandbox network.

Real calls through the real fax engine; the worker is ticked by the test and time is a
ManualClock the tests move, so retries and schedules happen without sleeping. Each test runs
on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from faxcast.bootstrap import line_drivers
from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.dispatch.worker import Worker
from faxcast.services.context import Services
from faxcast.store.blobs import FileBlobStore
from faxcast.store.database import create_engine_for
from faxcast.store.tables import attempts, campaigns, documents, recipients
from tests import pdfs
from tests.asgi import api_client

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
Json = dict[str, Any]


@dataclass
class World:
    """A server on a fresh database, spoken to over HTTP, with one account and its line."""

    svc: Services
    clock: ManualClock
    worker: Worker
    http: httpx.Client
    base: str
    pdf_id: int

    def create(self, numbers: str, **fields: object) -> Json:
        body: Json = {
            "name": "Relance clients",
            "documentId": self.pdf_id,
            "faxQuality": "high",
            "sendType": "manual",
            "recipientsType": "list",
            "recipientsList": numbers,
        }
        body.update(fields)
        response = self.http.post(f"{self.base}/campaigns", json=body)
        assert response.status_code == 201, response.text
        created: Json = response.json()
        return created

    def post(self, campaign: Json, action: str) -> httpx.Response:
        return self.http.post(f"{self.base}/campaigns/{campaign['id']}/{action}")

    def launch(self, campaign: Json) -> Json:
        response = self.post(campaign, "start")
        assert response.status_code == 200, response.text
        launched: Json = response.json()
        return launched

    def get(self, campaign: Json) -> Json:
        got: Json = self.http.get(f"{self.base}/campaigns/{campaign['id']}").json()
        return got

    def detail(self, campaign: Json) -> Json:
        response = self.http.get(f"{self.base}/campaigns/{campaign['id']}/detail")
        assert response.status_code == 200, response.text
        detail: Json = response.json()
        return detail

    def run(self, campaign: Json, *, max_ticks: int = 400) -> Json:
        """Dial until the campaign ends, moving the clock to each next due retry."""
        for _ in range(max_ticks):
            self.tick()
            current = self.get(campaign)
            if current["state"] in ("finished", "error"):
                return current
            next_due = self.next_due(campaign)
            if next_due is not None and next_due > self.clock.now():
                self.clock.set(next_due)
        states = [
            (r["number"], r["state"], r["reason"]) for r in self.detail(campaign)["recipients"]
        ]
        raise AssertionError(f"campaign not finished after {max_ticks} ticks: {states}")

    def next_due(self, campaign: Json) -> datetime | None:
        """When the campaign's next pending recipient is due (now if one never was called)."""
        pending = (recipients.c.campaign_id == campaign["id"], recipients.c.state == "pending")
        with self.svc.transaction() as conn:
            never_called = conn.execute(
                select(func.count()).where(*pending, recipients.c.due_at.is_(None))
            ).scalar_one()
            due: datetime | None = conn.execute(
                select(func.min(recipients.c.due_at)).where(*pending)
            ).scalar()
        return self.clock.now() if never_called else due

    def tick(self) -> int:
        """One dispatcher pass, waiting for the calls it started to be recorded."""

        async def once() -> int:
            started = await self.worker.tick()
            await self.worker.idle()
            return started

        # Its own event loop: the sync HTTP client runs one per request on this thread.
        return asyncio.run(once())

    def count(self, table: Any) -> int:
        with self.svc.transaction() as conn:
            n: int = conn.execute(select(func.count()).select_from(table)).scalar_one()
        return n


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    clock = ManualClock(START)
    settings = Settings(data_dir=tmp_path, database_url=database_url, channel_limit=4)
    engine = create_engine_for(database_url)
    svc = Services(engine, FileBlobStore(tmp_path / "blobs"), clock, settings)
    http = api_client(svc)
    account = http.post("/telephony", json={"name": "ACME Paris", "timezone": "Europe/Paris"})
    account_id = account.json()["id"]
    line_id = http.get(f"/telephony/{account_id}/fax").json()[0]["id"]
    upload = http.post(
        "/me/document",
        params={"account": account_id},
        files={"file": ("lettre.pdf", pdfs.text_pdf(pages=3), "application/pdf")},
    )
    assert upload.status_code == 201, upload.text
    worker = Worker(svc, line_drivers(svc), cache_dir=tmp_path / "cache", rand=lambda: 0.5)
    yield World(
        svc, clock, worker, http, f"/telephony/{account_id}/fax/{line_id}", upload.json()["id"]
    )
    http.close()
    engine.dispose()


# The sandbox's documented numbers (README), in the line's country (FR).
HEALTHY = "01 23 45 67 89"
BUSY = "01 23 45 04 86"
NO_ANSWER = "01 23 45 04 08"
CONGESTION = "01 23 45 05 03"
UNALLOCATED = "01 23 45 04 04"
REJECTED = "01 23 45 06 03"
VOICE = "01 23 45 09 00"
DROPPED = "01 23 45 02 22"
NOISY = "01 23 45 01 44"


def e164(national: str) -> str:
    return "+33" + national.replace(" ", "")[1:]


def test_every_test_number_gets_its_outcome_and_the_campaign_is_partial(world: World) -> None:
    numbers = [HEALTHY, BUSY, NO_ANSWER, CONGESTION, UNALLOCATED, REJECTED, VOICE, DROPPED, NOISY]
    campaign = world.launch(world.create(",\n".join(numbers)))

    final = world.run(campaign)

    assert (final["state"], final["status"], final["outcome"]) == ("finished", "done", "partial")
    assert (final["countTotal"], final["countSuccess"], final["countFailed"]) == (9, 3, 6)
    assert final["countTodo"] == 0
    detail = world.detail(campaign)
    assert sorted(detail["success"]) == sorted(e164(n) for n in (HEALTHY, NOISY, DROPPED))
    assert detail["todo"] == []
    by_number = {r["number"]: r for r in detail["recipients"]}
    expected = {
        HEALTHY: ("delivered", 1, {None}),
        NOISY: ("delivered", 1, {None}),
        # Dropped during page 2 each time it has 2 pages or more to send: page 1 on the first
        # call, page 2 on the second, page 3 goes through on the third.
        DROPPED: ("delivered", 3, {"transfer_failed", None}),
        BUSY: ("failed", 12, {"busy"}),
        NO_ANSWER: ("failed", 12, {"no_answer"}),
        UNALLOCATED: ("failed", 1, {"permanent"}),
        REJECTED: ("failed", 1, {"permanent"}),
        VOICE: ("failed", 2, {"no_fax"}),
        # Congestion counts no dial: it is retried every minute until the 3 h kill time.
        CONGESTION: ("failed", 180, {"congestion"}),
    }
    for national, (state, calls, failures) in expected.items():
        recipient = by_number[e164(national)]
        assert recipient["state"] == state, (national, recipient["reason"])
        assert recipient["calls"] == len(recipient["attempts"]) == calls, national
        assert {a["failure"] for a in recipient["attempts"]} == failures, national
    noisy = by_number[e164(NOISY)]["attempts"][0]
    assert 0 < noisy["bitRate"] < 14400
    assert [a["pagesConfirmed"] for a in by_number[e164(DROPPED)]["attempts"]] == [1, 2, 3]
    assert "kill time" in by_number[e164(CONGESTION)]["reason"]
    assert "not a fax machine" in by_number[e164(VOICE)]["reason"]
    assert by_number[e164(UNALLOCATED)]["attempts"][0]["sipStatus"] == 404
    healthy = by_number[e164(HEALTHY)]["attempts"][0]
    assert healthy["delivered"]
    assert healthy["pagesConfirmed"] == healthy["pagesTotal"] == 3
    assert healthy["bitRate"] == 14400
    assert healthy["remoteIdent"] == e164(HEALTHY)
    assert healthy["t30Code"] == 0
    assert healthy["durationS"] > 30  # line time of 3 fine pages, though faster than real time


def test_a_campaign_waiting_only_for_retries_says_how_many_when_and_until_when(
    world: World,
) -> None:
    campaign = world.launch(world.create(f"{HEALTHY}, {BUSY}, {VOICE}"))
    world.tick()

    detail = world.detail(campaign)
    by_number = {r["number"]: r for r in detail["recipients"]}
    busy, voice = by_number[e164(BUSY)], by_number[e164(VOICE)]
    policy = world.svc.settings.retry_policy
    # The policy's own limits, less the one call each has had.
    assert busy["triesLeft"] == policy.max_dials - 1
    assert voice["triesLeft"] == policy.max_no_fax - 1
    assert by_number[e164(HEALTHY)]["triesLeft"] is None
    assert by_number[e164(HEALTHY)]["nextCallAt"] is None
    assert busy["nextCallAt"] == busy["dueAt"]
    first_dial = min(datetime.fromisoformat(r["attempts"][0]["startedAt"]) for r in (busy, voice))
    retries = detail["retries"]
    assert retries["count"] == 2
    assert retries["nextCallAt"] == min(busy["dueAt"], voice["dueAt"])
    last_try_by = datetime.fromisoformat(retries["lastTryBy"])
    assert abs(last_try_by - first_dial - timedelta(seconds=policy.kill_time_s)) < timedelta(
        seconds=5
    )

    # Stopped, it calls nobody: no next call is shown.
    assert world.post(campaign, "stop").json()["state"] == "waiting"
    stopped = world.detail(campaign)
    assert stopped["retries"] is None
    assert {(r["nextCallAt"], r["triesLeft"]) for r in stopped["recipients"]} == {(None, None)}

    final = world.run(world.launch(campaign))
    assert final["state"] == "finished"
    assert world.detail(campaign)["retries"] is None


def test_the_pages_a_sandbox_machine_received_are_served(world: World) -> None:
    campaign = world.launch(world.create(HEALTHY))
    world.run(campaign)
    attempt = world.detail(campaign)["recipients"][0]["attempts"][0]

    tiff = world.http.get(f"{world.base}/attempts/{attempt['id']}/received.tif")
    page = world.http.get(f"{world.base}/attempts/{attempt['id']}/received/3.png")
    beyond = world.http.get(f"{world.base}/attempts/{attempt['id']}/received/4.png")

    assert tiff.status_code == 200
    assert tiff.content.startswith((b"II*\x00", b"MM\x00*"))
    assert page.status_code == 200
    assert page.content.startswith(b"\x89PNG")
    assert beyond.status_code == 404


def test_all_good_is_success_and_all_bad_is_error(world: World) -> None:
    good = world.launch(world.create(f"{HEALTHY}; 01 98 76 54 32"))
    bad = world.launch(world.create(f"{UNALLOCATED}, {REJECTED}", name="Mauvais numéros"))

    assert world.run(good)["outcome"] == "success"
    assert world.run(bad)["outcome"] == "error"


def test_a_scheduled_campaign_starts_at_its_time_and_not_before(world: World) -> None:
    at = START + timedelta(hours=2)
    campaign = world.create(HEALTHY, sendType="scheduled", sendDate=at.isoformat())
    assert (campaign["state"], campaign["status"]) == ("scheduled", "todo")

    world.clock.set(at - timedelta(seconds=1))
    world.tick()
    assert world.get(campaign)["state"] == "scheduled"

    world.clock.set(at)
    final = world.run(campaign)
    assert final["outcome"] == "success"
    assert datetime.fromisoformat(final["dateStart"]) == at


def test_stop_starts_no_new_call_and_launch_resumes(world: World) -> None:
    settings = world.http.get(f"{world.base}/settings").json()
    one_channel = world.http.put(f"{world.base}/settings", json={**settings, "channelLimit": 1})
    assert one_channel.status_code == 200, one_channel.text
    campaign = world.launch(world.create("01 11 11 11 11, 01 22 22 22 22, 01 33 33 33 33"))

    async def first_call_then_stop() -> None:
        assert await world.worker.tick() == 1  # the line has one channel
        stopped = (await asyncio.to_thread(world.post, campaign, "stop")).json()
        assert stopped["state"] == "stopping"  # a call is in progress
        await world.worker.idle()

    asyncio.run(first_call_then_stop())
    assert world.tick() == 0  # stopped: no new call
    after_stop = world.get(campaign)
    assert after_stop["state"] == "waiting"
    assert (after_stop["countSuccess"], after_stop["countTodo"]) == (1, 2)
    assert world.count(attempts) == 1

    final = world.run(world.launch(after_stop))
    assert final["outcome"] == "success"
    assert world.count(attempts) == 3


def test_stop_a_scheduled_campaign_then_launch_it_by_hand(world: World) -> None:
    campaign = world.create(
        HEALTHY, sendType="scheduled", sendDate=(START + timedelta(days=1)).isoformat()
    )

    stopped = world.post(campaign, "stop").json()

    assert stopped["state"] == "waiting"
    world.clock.advance(timedelta(days=2))
    world.tick()
    assert world.get(campaign)["state"] == "waiting"  # no longer starts by itself
    assert world.run(world.launch(campaign))["outcome"] == "success"


def test_actions_the_state_does_not_allow_are_refused(world: World) -> None:
    campaign = world.launch(world.create(HEALTHY))

    refused_delete = world.http.delete(f"{world.base}/campaigns/{campaign['id']}")
    refused_launch = world.post(campaign, "start")
    world.run(campaign)
    refused_stop = world.post(campaign, "stop")

    for response, words in (
        (refused_delete, "running"),
        (refused_launch, "launch"),
        (refused_stop, "stop"),
    ):
        assert response.status_code == 409
        assert response.headers["content-type"].startswith("application/problem+json")
        assert words in response.json()["detail"]


def test_delete_removes_a_finished_campaign_and_its_history(world: World) -> None:
    campaign = world.launch(world.create(HEALTHY))
    world.run(campaign)

    deleted = world.http.delete(f"{world.base}/campaigns/{campaign['id']}")

    assert deleted.status_code == 204
    assert world.http.get(f"{world.base}/campaigns/{campaign['id']}").status_code == 404
    assert (world.count(campaigns), world.count(recipients), world.count(attempts)) == (0, 0, 0)
    assert world.count(documents) == 1  # the uploaded PDF stays in the account's documents


def test_another_accounts_campaign_is_not_found(world: World) -> None:
    campaign = world.create(HEALTHY)
    other = world.http.post("/telephony", json={"name": "Other"}).json()
    other_line = world.http.get(f"/telephony/{other['id']}/fax").json()[0]
    theirs = f"/telephony/{other['id']}/fax/{other_line['id']}/campaigns/{campaign['id']}"
    mixed = f"/telephony/{other['id']}{world.base.split('/fax')[1].join(['/fax', ''])}"

    assert world.http.get(theirs).status_code == 404
    assert world.http.post(f"{theirs}/start").status_code == 404
    assert world.http.get(f"{mixed}/campaigns/{campaign['id']}").status_code == 404
    assert world.get(campaign)["state"] == "waiting"
