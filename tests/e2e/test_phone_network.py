"""`faxcast phone-network` as a user runs it: a real process, and a campaign faxing through it.

The README's walk-through on one machine: the phone network on a UDP port, a `sip` line
pointing at it, `faxcast send`; the page the network's fax machine kept equals the one sent.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from sqlalchemy import select

from faxcast.documents import read_tiff_f, render_pdf
from faxcast.domain.quality import Quality
from faxcast.store.database import create_engine_for, database_url_for
from faxcast.store.tables import lines
from tests import pdfs
from tests.e2e.processes import background, faxcast_env, run_faxcast, wait_until
from tests.faxpages import assert_identical
from tests.peers.daemons import free_udp_port

START_S = 30.0  # the command's imports are slow on a busy machine
USER, SECRET = "acme", "n3twork-s3cret"


def stored_lines(data_dir: Path) -> str:
    """Every column of every line, as the database file holds them."""
    engine = create_engine_for(database_url_for(data_dir))
    try:
        with engine.connect() as conn:
            return repr(conn.execute(select(lines)).all())
    finally:
        engine.dispose()


def _listening(log: Path, words: str) -> str | None:
    text = log.read_text(errors="replace") if log.exists() else ""
    return text if words in text else None


def test_the_phone_network_says_where_it_listens_in_french_and_stops_on_ctrl_c(
    tmp_path: Path,
) -> None:
    env = faxcast_env(tmp_path / "data") | {"LANG": "fr_FR.UTF-8"}
    port, log = free_udp_port(), tmp_path / "network.log"
    args = ("phone-network", "--port", str(port), "--folder", "reçus", "--no-t38")
    with background(*args, env=env, cwd=tmp_path, log=log) as network:
        wait_until(
            lambda: _listening(log, f"à l'écoute sur sip:127.0.0.1:{port}"),
            timeout=START_S,
            what="the phone network to listen",
            alive=network,
            log=log,
        )
        network.send_signal(signal.SIGINT)
        assert network.wait(timeout=10) == 0
    text = log.read_text()
    assert "restent en audio G.711" in text
    assert "arrêté après 0 appel" in text
    assert "Traceback" not in text


@pytest.mark.slow
def test_a_campaign_on_a_sip_line_faxes_through_the_phone_network(tmp_path: Path) -> None:
    """The line's password goes in sealed, and comes out right for the network's digest."""
    env = faxcast_env(tmp_path / "data", worker_poll_s=0.1)
    port, log = free_udp_port(), tmp_path / "network.log"
    received = tmp_path / "received"
    (tmp_path / "letter.pdf").write_bytes(pdfs.short_page_pdf())
    args = ("phone-network", "--port", str(port), "--folder", str(received), "--username", USER)
    network_env = env | {"FAXCAST_PHONENET_PASSWORD": SECRET}
    with background(*args, env=network_env, cwd=tmp_path, log=log) as network:
        wait_until(
            lambda: _listening(log, "listening"),
            timeout=START_S,
            what="the phone network to listen",
            alive=network,
            log=log,
        )
        trunk = ("--kind", "sip", "--proxy-host", "127.0.0.1", "--proxy-port", str(port))
        local = ("--local-address", "127.0.0.1", "--channels", "2")
        signs_in = ("--username", USER, "--password-stdin")
        create = run_faxcast(
            *("line", "create", "--name", "Trunk", *trunk, *local, *signs_in),
            env=env,
            cwd=tmp_path,
            stdin=SECRET + "\n",
        )
        assert create.returncode == 0, create.stderr
        assert SECRET not in stored_lines(tmp_path / "data")
        line_id = create.stdout.strip().split("\t")[0]
        send = run_faxcast(
            "send",
            *("--line", line_id, "--pdf", "letter.pdf", "--quality", "normal"),
            *("--to", "+33 1 23 45 67 89"),
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
        assert send.returncode == 0, (send.stdout, send.stderr)
        network.send_signal(signal.SIGTERM)
        assert network.wait(timeout=10) == 0
    assert "stopped after 1 call" in log.read_text()
    (kept,) = received.glob("33123456789-*.tif")
    sent = render_pdf(pdfs.short_page_pdf(), Quality.NORMAL.profile.resolution)
    assert_identical(sent, read_tiff_f(kept.read_bytes()))
