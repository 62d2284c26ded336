"""Lines from the command line, as a user runs them: real `faxcast` processes on SQLite.

A SIP trunk's password goes in through stdin or a prompt on a terminal, and no command ever
prints it back, nor echoes it while it is typed.
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from pathlib import Path

from sqlalchemy import select as sql_select

from faxcast.config import Settings, secret_key
from faxcast.store.database import create_engine_for, database_url_for
from faxcast.store.sealing import Sealer, is_sealed
from faxcast.store.tables import lines
from tests.e2e.processes import FAXCAST, faxcast_env, run_faxcast, run_together

SECRET = "pa55-w0rd-never-shown"
_PROMPT_TIMEOUT_S = 60.0
TRUNK = (
    "line", "create", "--name", "Trunk", "--kind", "sip", "--proxy-host", "sip.example.net",
    "--username", "faxcast", "--register", "--codecs", "pcmu,pcma", "--t38", "offer",
    "--dialling", "national", "--channels", "8", "--rtp-port-min", "30000",
    "--rtp-port-max", "30099",
)  # fmt: skip


def stored_passwords(data_dir: Path) -> dict[str, str | None]:
    """Each line's password, by name, read from the data folder's database: stored sealed,
    opened here with the data folder's secret key."""
    engine = create_engine_for(database_url_for(data_dir))
    sealer = Sealer(secret_key(Settings(data_dir=data_dir)))
    try:
        with engine.connect() as conn:
            rows = conn.execute(sql_select(lines.c.name, lines.c.sip_password)).all()
    finally:
        engine.dispose()
    assert all(is_sealed(stored) for _, stored in rows if stored), "a password stored in clear"
    return {name: sealer.open(stored) if stored else stored for name, stored in rows}


def test_a_sip_line_is_created_shown_and_edited_without_its_password_shown(
    tmp_path: Path,
) -> None:
    env = faxcast_env(tmp_path / "data")
    outputs: list[str] = []

    def faxcast(*args: str, stdin: str | None = None) -> str:
        run = run_faxcast(*args, env=env, cwd=tmp_path, stdin=stdin)
        assert run.returncode == 0, (args, run.stdout, run.stderr)
        outputs.extend((run.stdout, run.stderr))
        return run.stdout

    created = faxcast(*TRUNK, "--password-stdin", stdin=SECRET + "\n").strip().split("\t")
    line = created[0]
    assert created[1:3] == ["Trunk", "sip"]
    assert created[-1] == "proxy=sip.example.net:5060"

    faxcast("line", "edit", line, "--ring-timeout", "30", "--proxy-port", "5070")
    shown = faxcast("line", "show", line).splitlines()
    assert "Password: saved (not shown)" in shown
    assert stored_passwords(tmp_path / "data")["Trunk"] == SECRET  # kept by the edit
    assert "Ring timeout (seconds): 30" in shown
    assert "Proxy (registrar): sip.example.net:5070" in shown
    # What was not given stays as it was.
    assert "Register with the proxy (REGISTER): yes (3600 s)" in shown
    assert "Codecs, in order of preference: pcmu,pcma" in shown
    assert "T.38 (fax over IP): offer" in shown
    assert "Dial numbers: national" in shown
    assert "Media ports (RTP/UDPTL): 30000-30099" in shown
    french = run_faxcast("line", "show", line, env=env | {"LANG": "fr_FR.UTF-8"}, cwd=tmp_path)
    assert "Mot de passe: enregistré (non affiché)" in french.stdout.splitlines()

    faxcast("line", "edit", line, "--password-stdin", stdin="n3w-one\r\n")
    assert stored_passwords(tmp_path / "data")["Trunk"] == "n3w-one"
    for output in outputs:
        assert SECRET not in output
        assert "n3w-one" not in output


def test_bad_settings_are_refused_by_field_and_store_nothing(tmp_path: Path) -> None:
    env = faxcast_env(tmp_path / "data")
    # The first command makes the account and its sandbox line; a trunk needs a proxy.
    no_proxy = run_faxcast(
        "line", "create", "--name", "Bad", "--kind", "sip", env=env, cwd=tmp_path
    )
    assert no_proxy.stderr == "faxcast: error: enter the SIP proxy's host name or IP address\n"
    bad = ("line", "create", "--name", "Bad", "--kind", "sip", "--proxy-host", "a b")

    runs = run_together(
        {
            "english": (
                *bad,
                "--rtp-port-min",
                "30001",
                "--rtp-port-max",
                "30099",
                "--channels",
                "0",
            ),
            "french": bad,
            "sandbox with sip": ("line", "create", "--name", "Bad", "--proxy-host", "h.test"),
            "edit sandbox": ("line", "edit", "1", "--proxy-host", "h.test"),
            "bad codec": ("line", "create", "--name", "Bad", "--kind", "sip", "--codecs", "g729"),
        },
        env=env,
        cwd=tmp_path,
        envs={"french": env | {"LANG": "fr_FR.UTF-8"}},
    )

    for name in ("english", "french", "sandbox with sip", "edit sandbox"):
        assert runs[name].returncode == 1, (name, runs[name].stderr)
        assert "Traceback" not in runs[name].stderr
    assert runs["english"].stderr == (
        "faxcast: error: channelLimit: the channel limit must be between 1 and 256; "
        "sip.proxyHost: 'a b' is not a host name or an IP address; "
        "sip.rtpPortMin: the first media port must be even, not 30001\n"
    )
    assert runs["french"].stderr == (
        "faxcast: erreur : « a b » n'est ni un nom d'hôte ni une adresse IP\n"
    )
    assert "only a SIP line takes SIP settings" in runs["sandbox with sip"].stderr
    assert "only a SIP line takes SIP settings" in runs["edit sandbox"].stderr
    assert runs["bad codec"].returncode == 2
    assert "Invalid value for '--codecs'" in runs["bad codec"].stderr
    assert list(stored_passwords(tmp_path / "data")) == ["Sandbox"]

    empty = run_faxcast(*TRUNK, "--password-stdin", env=env, cwd=tmp_path, stdin="")
    assert empty.returncode == 1
    assert empty.stderr == "faxcast: error: --password-stdin read no password\n"
    assert list(stored_passwords(tmp_path / "data")) == ["Sandbox"]


def test_the_password_prompt_does_not_echo_on_a_terminal(tmp_path: Path) -> None:
    env = faxcast_env(tmp_path / "data")
    leader, follower = os.openpty()
    process = subprocess.Popen(
        [*FAXCAST, *TRUNK, "--password"],
        env=env,
        cwd=tmp_path,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        start_new_session=True,
    )
    os.close(follower)
    screen = b""
    deadline = time.monotonic() + _PROMPT_TIMEOUT_S

    def read_until(text: bytes) -> None:
        nonlocal screen
        while text not in screen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {text!r} on the terminal: {screen!r}"
            ready, _, _ = select.select([leader], [], [], left)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the terminal closed: the command ended
                    chunk = b""
                assert chunk, f"the terminal closed before {text!r}: {screen!r}"
                screen += chunk

    try:
        read_until(b"SIP password: ")
        os.write(leader, SECRET.encode() + b"\n")
        read_until(b"Repeat for confirmation: ")
        os.write(leader, SECRET.encode() + b"\n")
        read_until(b"proxy=sip.example.net:5060")
        assert process.wait(timeout=_PROMPT_TIMEOUT_S) == 0, screen
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        os.close(leader)

    assert SECRET.encode() not in screen
    assert stored_passwords(tmp_path / "data")["Trunk"] == SECRET


def test_a_lines_quality_and_tries_and_the_accounts_settings_are_edited(tmp_path: Path) -> None:
    env = faxcast_env(tmp_path / "data")
    french = env | {"LANG": "fr_FR.UTF-8"}

    def faxcast(*args: str, lang: dict[str, str] = env) -> subprocess.CompletedProcess[str]:
        return run_faxcast(*args, env=lang, cwd=tmp_path)

    edited = faxcast("line", "edit", "1", "--quality", "best", "--tries", "4", "--header", "ACME")
    assert edited.returncode == 0, edited.stderr
    assert "quality=best\ttries=4" in edited.stdout
    shown = faxcast("line", "show", "1", lang=french).stdout.splitlines()
    assert "Qualité d'envoi par défaut: best" in shown
    assert "Nombre de tentatives par numéro: 4" in shown
    assert "En-tête des pages: ACME" in shown

    refused = faxcast("line", "edit", "1", "--tries", "10", lang=french)
    assert refused.returncode == 1
    assert refused.stderr == (
        "faxcast: erreur : le nombre de tentatives d'envoi doit être compris entre 1 et 9, ou "
        "laissé vide pour suivre la politique de relance du serveur\n"
    )
    words = faxcast("line", "edit", "1", "--tries", "many")
    assert words.returncode == 2
    assert "a whole number or 'policy'" in words.stderr
    assert "Tries per number: 4" in faxcast("line", "show", "1").stdout.splitlines()
    back = faxcast("line", "edit", "1", "--tries", "policy")
    assert "tries=policy" in back.stdout
    assert "Tries per number: As the server's retry policy" in faxcast("line", "show", "1").stdout

    account = faxcast(
        "account",
        "edit",
        "--name",
        "Acme Lyon",
        "--timezone",
        "America/Montreal",
        "--language",
        "en",
    )
    assert account.returncode == 0, account.stderr
    assert account.stdout == "1\tAcme Lyon\tAmerica/Montreal\ten\n"
    bad = faxcast("account", "edit", "--timezone", "Mars/Base", "--language", "de")
    assert bad.returncode == 1
    assert "unknown time zone" in bad.stderr
    assert "de" in bad.stderr
    renamed = faxcast("account", "edit", "--name", "Acme Nord")
    assert renamed.stdout == "1\tAcme Nord\tAmerica/Montreal\ten\n"
    assert faxcast("account", "ls").stdout == "1\tAcme Nord\tAmerica/Montreal\ten\n"
