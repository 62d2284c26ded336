"""`faxcast serve` with no configuration at all, driven over HTTP as a script would.

Only FAXCAST_DATA_DIR and FAXCAST_PORT are set: the first start makes the default account and
its sandbox line on SQLite, and the seed's flow (upload, create, launch, follow the details) runs
on the sandbox network with the default retry policy. The numbers chosen all settle at their
first call (delivered or failed for good), so the campaign ends in bounded time.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from faxcast.bootstrap import build_services
from faxcast.config import Settings
from faxcast.services import accounts
from faxcast.store.database import create_engine_for, database_url_for
from faxcast.store.tables import recipients, workers
from tests import pdfs
from tests.e2e.processes import (
    STOP_TIMEOUT_S,
    Json,
    Server,
    describe,
    faxcast_env,
    free_port,
    log_tail,
    serve,
    wait_until,
)

PNG = b"\x89PNG\r\n\x1a\n"
PROBLEM_JSON = "application/problem+json"
HEALTHY = "+33 1 23 45 67 01"
NOISY = "+33 1 23 45 01 44"  # V.17 14400 fails training: delivered slower
UNALLOCATED = "+33 1 23 45 04 04"  # SIP 404
REJECTED = "+33 1 23 45 06 03"  # SIP 603
REALTIME_CALL_S = 30.0  # a realtime sandbox call of the short page lasts about 20 s
DRAIN_SETTLE_S = 1.0  # long enough for a server that stops at once to have stopped listening


def e164(number: str) -> str:
    return number.replace(" ", "")


def by_number(detail: Json) -> dict[str, Json]:
    return {r["number"]: r for r in detail["recipients"]}


def test_a_first_start_serves_the_seed_flow_over_http(tmp_path: Path) -> None:
    env = faxcast_env(tmp_path / "data", port=free_port())

    with serve(env, cwd=tmp_path, log=tmp_path / "serve.log") as server:
        http = server.http
        # Zero configuration: one default account with one sandbox line.
        accounts = server.json("GET", "/telephony")
        assert [a["name"] for a in accounts] == ["default"]
        account = accounts[0]["id"]
        lines = server.json("GET", f"/telephony/{account}/fax")
        assert [(x["kind"], x["channelLimit"]) for x in lines] == [("sandbox", 4)]
        line = lines[0]["id"]
        assert (tmp_path / "data" / "faxcast.db").is_file()
        # Nobody could sign in yet: the console (only) shows the first admin's set-up link.
        link = re.search(r"open (http://\S+/setup/\S+) to choose", server.log.read_text())
        assert link, log_tail(server.log)
        assert httpx.get(link.group(1)).status_code == 200
        assert "/setup/" not in http.get("/sign-in").text

        # Without an API token, a problem document.
        refused = httpx.post(
            f"{http.base_url}/me/document", files={"file": ("a.pdf", b"%PDF-", "application/pdf")}
        )
        assert refused.status_code == 401
        assert refused.headers["content-type"] == PROBLEM_JSON
        assert "Authorization" in refused.json()["detail"]

        document = server.upload(account, "tarifs.pdf", pdfs.text_pdf(2), "application/pdf")
        assert (document["mediaType"], document["pages"]) == ("application/pdf", 2)

        numbers = f"{HEALTHY}; {NOISY}\n{UNALLOCATED}, {REJECTED}"
        collection = server.campaigns_path(account, line)
        response = http.post(
            collection,
            json={
                "name": "Tarifs 2027",
                "documentId": document["id"],
                "faxQuality": "high",
                "sendType": "manual",
                "recipientsType": "list",
                "recipientsList": numbers,
            },
        )
        assert response.status_code == 201, response.text
        created = response.json()
        campaign = created["id"]
        assert response.headers["location"].endswith(f"{collection}/{campaign}")
        assert (created["state"], created["status"], created["outcome"]) == (
            "waiting",
            "stopTodo",
            "n/a",
        )
        assert (created["countTotal"], created["countTodo"], created["pages"]) == (4, 4, 2)
        listed = server.json("GET", collection)
        assert [c["id"] for c in listed["items"]] == [campaign]

        launched = server.launch(account, line, campaign)
        assert launched["state"] in ("running", "finished"), launched

        detail = server.wait_finished(account, line, campaign, timeout=60)
        check_detail(detail)

        check_pages(server.http, detail, f"{collection}/{campaign}")
        check_self_documented(server)


def test_serve_starts_whatever_the_number_of_accounts(tmp_path: Path) -> None:
    env = faxcast_env(tmp_path / "data", port=free_port())
    svc = build_services(Settings(data_dir=tmp_path / "data"))
    try:
        for name in ("Paris", "Lyon"):
            accounts.create_account(svc, name=name)
    finally:
        svc.engine.dispose()

    with serve(env, cwd=tmp_path, log=tmp_path / "serve.log") as server:
        home = server.http.get("/", headers={"Accept-Language": "en"})

    assert home.status_code == 200
    assert "Account Paris" in home.text
    assert "Account Lyon" in home.text


def test_sigterm_lets_calls_end_while_the_api_answers(tmp_path: Path) -> None:
    env = faxcast_env(tmp_path / "data", port=free_port(), sandbox_realtime=1, worker_poll_s=0.1)

    with serve(env, cwd=tmp_path, log=tmp_path / "serve.log") as server:
        account, line = server.default_line()
        document = server.upload(account, "short.pdf", pdfs.short_page_pdf(), "application/pdf")
        campaign = server.create_manual(
            account, line, name="Drain", document=document["id"], numbers=HEALTHY, quality="normal"
        )["id"]
        server.launch(account, line, campaign)
        wait_until(
            lambda: in_call(server.detail(account, line, campaign)),
            timeout=REALTIME_CALL_S,
            what="the call in progress",
            alive=server.process,
            log=server.log,
        )
        server.process.send_signal(signal.SIGTERM)
        time.sleep(DRAIN_SETTLE_S)
        # Draining: no new call, but the API still answers new connections, and the call goes on.
        with httpx.Client(
            base_url=str(server.http.base_url), headers=server.http.headers, timeout=10
        ) as fresh:
            during = fresh.get(server.campaigns_path(account, line) + f"/{campaign}/detail").json()
        try:
            status: int | None = server.process.wait(timeout=2 * REALTIME_CALL_S)
        except subprocess.TimeoutExpired:
            status = None
        assert status == 0, f"faxcast serve exited {status} on SIGTERM" + log_tail(server.log)

    assert in_call(during)
    engine = create_engine_for(database_url_for(tmp_path / "data"))
    try:
        with engine.connect() as conn:
            settled = conn.execute(select(recipients.c.state, recipients.c.calls)).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in settled] == [("delivered", 1)]


def in_call(detail: Json) -> Json | None:
    """The detail while its one recipient is in a call."""
    return detail if detail["recipients"][0]["state"] == "in_call" else None


def test_sigterm_stops_the_server_and_its_worker_cleanly(tmp_path: Path) -> None:
    env = faxcast_env(tmp_path / "data", port=free_port())

    with serve(env, cwd=tmp_path, log=tmp_path / "serve.log") as server:
        server.process.send_signal(signal.SIGTERM)
        try:
            status: int | None = server.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            status = None
        assert status == 0, f"faxcast serve exited {status} on SIGTERM" + log_tail(server.log)
        assert not server.answers()

    # A worker that stopped cleanly unregisters: none is left for others to wait out.
    engine = create_engine_for(database_url_for(tmp_path / "data"))
    try:
        with engine.connect() as conn:
            left = conn.execute(select(workers.c.id, workers.c.pid)).all()
    finally:
        engine.dispose()
    assert left == []


def check_pages(http: httpx.Client, detail: Json, campaign_path: str) -> None:
    """What the healthy number's machine received, page by page; the campaign's own pages."""
    healthy = by_number(detail)[e164(HEALTHY)]["attempts"][0]
    received = http.get(healthy["received"])
    assert (received.status_code, received.headers["content-type"]) == (200, "image/tiff")
    page = http.get(healthy["received"].replace("received.tif", "received/2.png"))
    assert (page.status_code, page.headers["content-type"]) == (200, "image/png")
    assert page.content.startswith(PNG)
    missing = http.get(healthy["received"].replace("received.tif", "received/3.png"))
    assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM_JSON)
    preview = http.get(f"{campaign_path}/pages/1.png")
    assert preview.status_code == 200
    assert preview.content.startswith(PNG)


def check_self_documented(server: Server) -> None:
    """OpenAPI at /openapi.json (and no page loading a viewer for it from a CDN)."""
    openapi = server.json("GET", "/openapi.json")
    assert openapi["info"]["title"] == "faxcast"
    assert "/telephony/{account}/fax/{line}/campaigns/{campaign}/detail" in openapi["paths"]
    assert server.http.get("/docs").status_code == 404


def check_detail(detail: Json) -> None:
    """Healthy and noisy delivered, unallocated and rejected failed at their first call."""
    summary = detail["campaign"]
    assert (summary["state"], summary["status"], summary["outcome"]) == (
        "finished",
        "done",
        "partial",
    ), describe(detail)
    assert (summary["countSuccess"], summary["countFailed"], summary["countTodo"]) == (2, 2, 0)
    assert summary["dateStart"] is not None
    assert summary["dateEnd"] is not None
    assert detail["todo"] == []
    assert sorted(detail["success"]) == sorted(map(e164, (HEALTHY, NOISY)))
    assert sorted(detail["failed"]) == sorted(map(e164, (UNALLOCATED, REJECTED)))

    recipients = by_number(detail)
    assert [r["number"] for r in detail["recipients"]] == [
        e164(n) for n in (HEALTHY, NOISY, UNALLOCATED, REJECTED)
    ]
    for recipient in recipients.values():
        assert recipient["calls"] == len(recipient["attempts"]) == 1, recipient
        assert recipient["settledAt"] is not None

    healthy = recipients[e164(HEALTHY)]
    assert (healthy["state"], healthy["pagesConfirmed"]) == ("delivered", 2)
    call = healthy["attempts"][0]
    assert call["delivered"] is True
    assert (call["failure"], call["sipStatus"], call["t30Code"]) == (None, 200, 0)
    assert (call["pagesConfirmed"], call["pagesTotal"]) == (2, 2)
    assert call["bitRate"] == 14400
    assert call["resolution"] == "fine"  # high quality
    assert call["remoteIdent"] == e164(HEALTHY)
    assert call["received"].endswith(f"/attempts/{call['id']}/received.tif")

    noisy = recipients[e164(NOISY)]
    call = noisy["attempts"][0]
    assert (noisy["state"], call["delivered"], call["pagesConfirmed"]) == ("delivered", True, 2)
    assert call["t38"] is False
    assert call["bitRate"] is not None
    assert call["bitRate"] < 14400

    for number, status, words in (
        (UNALLOCATED, 404, "does not exist"),
        (REJECTED, 603, "rejected"),
    ):
        recipient = recipients[e164(number)]
        call = recipient["attempts"][0]
        assert recipient["state"] == "failed", recipient
        assert words in recipient["reason"], recipient
        assert (call["delivered"], call["failure"], call["sipStatus"]) == (
            False,
            "permanent",
            status,
        )
        assert call["answeredAt"] is None
        assert (call["pagesConfirmed"], call["bitRate"], call["received"]) == (0, None, None)
