"""Campaigns from the command line, as a user runs them: real `faxcast` processes on SQLite.

Only FAXCAST_DATA_DIR is set (plus a short worker poll, so that calls start at once): no
database URL, so the data folder's SQLite file is used. Commands start slowly (imports), so
independent ones run side by side.
"""

from __future__ import annotations

import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from faxcast.store.database import create_engine_for, database_url_for
from faxcast.store.tables import campaigns, recipients
from tests import pdfs
from tests.e2e.processes import (
    background,
    faxcast_env,
    log_tail,
    run_faxcast,
    run_together,
    stop_process,
    wait_until,
)
from tests.integration.test_api import ONE_NUMBER, PROBABLY_INVALID, row_counts
from tests.integration.test_document_kinds import MB, REFUSED_LISTS, REFUSED_PDFS
from tests.integration.test_remove_flagged import MIXED as FLAGGED_AMONG_OTHERS

# A BOM, CRLF line ends, a blank line, every separator, a run of them, blanks and dots and
# dashes inside numbers, and the first number again in national form (sent once).
RECIPIENTS_TXT = (
    "\ufeff+33 1 23 45 67 01;01.23.45.67.02\r\n"
    "\r\n"
    "+33 1-23-45-67-03 ,, +33 1 23 45 06 03\r\n"
    "01 23 45 67 01\r\n"
).encode()
# As `campaign show` gives them: as typed, then the number dialled.
DELIVERED = (
    "+33 1 23 45 67 01 (+33123456701)",
    "01.23.45.67.02 (+33123456702)",
    "+33 1-23-45-67-03 (+33123456703)",
)
REJECTED = "+33 1 23 45 06 03 (+33123450603)"


def env_for(tmp_path: Path) -> dict[str, str]:
    return faxcast_env(tmp_path / "data", worker_poll_s=0.1)


def row(stdout: str) -> list[str]:
    """The fields of the last line a command printed (tab separated)."""
    return stdout.strip().splitlines()[-1].split("\t")


def assert_error(run: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 1 with `faxcast: error: ...` on stderr saying `words`, and no traceback."""
    assert run.returncode == 1, (run.returncode, run.stdout, run.stderr)
    assert run.stderr.startswith("faxcast: error: "), run.stderr
    assert "Traceback" not in run.stderr
    for word in words:
        assert word in run.stderr, (word, run.stderr)


def campaign_state(data_dir: Path, campaign: int) -> str:
    """A campaign's state, read from the data folder's SQLite database."""
    engine = create_engine_for(database_url_for(data_dir))
    try:
        with engine.connect() as conn:
            state: str = conn.execute(
                select(campaigns.c.state).where(campaigns.c.id == campaign)
            ).scalar_one()
            return state
    finally:
        engine.dispose()


def campaign_names(data_dir: Path) -> list[str]:
    """The name of every campaign in the data folder's SQLite database."""
    engine = create_engine_for(database_url_for(data_dir))
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(campaigns.c.name)).scalars())
    finally:
        engine.dispose()


def test_a_campaign_from_the_command_line(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    (tmp_path / "letter.pdf").write_bytes(pdfs.text_pdf(1))
    (tmp_path / "numbers.txt").write_bytes(RECIPIENTS_TXT)

    def faxcast(*args: str) -> subprocess.CompletedProcess[str]:
        run = run_faxcast(*args, env=env, cwd=tmp_path)
        assert run.returncode == 0, (args, run.stdout, run.stderr)
        return run

    assert "database at revision" in faxcast("db", "upgrade").stdout
    # The first command that needs an account makes the default one, with its sandbox line.
    assert [row(line)[1:3] for line in faxcast("line", "ls").stdout.splitlines()] == [
        ["Sandbox", "sandbox"]
    ]
    created_line = row(
        faxcast("line", "create", "--name", "Ventes", "--channels", "2", "--header", "ACME").stdout
    )
    line = created_line[0]
    assert created_line[1:5] == ["Ventes", "sandbox", "FR", "channels=2"]

    created = row(
        faxcast(
            "campaign", "create", "--line", line, "--name", "Relance", "--pdf", "letter.pdf",
            "--quality", "best", "--recipients", "numbers.txt",
        ).stdout
    )  # fmt: skip
    campaign = created[0]
    assert created[2:] == ["waiting", "n/a", "0/0/4/4", "Relance"], created
    assert row(faxcast("campaign", "launch", "--line", line, campaign).stdout)[2] == "running"

    worker_log = tmp_path / "worker.log"
    with background("worker", env=env, cwd=tmp_path, log=worker_log) as worker:
        wait_until(
            lambda: (
                True if campaign_state(tmp_path / "data", int(campaign)) == "finished" else None
            ),
            timeout=60,
            what="the worker to finish the campaign",
            alive=worker,
            log=worker_log,
        )
        # Ctrl-C or SIGTERM: the worker stops after its calls in progress, cleanly.
        assert stop_process(worker, signal.SIGTERM) == 0, log_tail(worker_log)
    assert "faxcast worker: running" in worker_log.read_text()

    # Reading and refused actions, side by side: none changes anything.
    runs = run_together(
        {
            "ls": ("campaign", "ls", "--line", line),
            "show": ("campaign", "show", "--line", line, campaign),
            "stop": ("campaign", "stop", "--line", line, campaign),
        },
        env=env,
        cwd=tmp_path,
    )
    listed = runs["ls"].stdout.splitlines()
    assert listed[0] == "id\treference\tstate\toutcome\tdelivered/failed/todo/total\tname"
    assert [r.split("\t") for r in listed[1:]] == [
        [campaign, created[1], "finished", "partial", "3/1/0/4", "Relance"]
    ]
    check_show(runs["show"].stdout, reference=created[1])
    assert_error(runs["stop"], "Relance")

    assert faxcast("campaign", "delete", "--line", line, campaign).stdout.strip() == (
        f"deleted campaign {campaign}"
    )
    runs = run_together(
        {
            "ls": ("campaign", "ls", "--line", line),
            "show": ("campaign", "show", "--line", line, campaign),
        },
        env=env,
        cwd=tmp_path,
    )
    assert runs["ls"].returncode == 0
    assert runs["ls"].stdout.splitlines()[1:] == []
    assert_error(runs["show"])


def check_show(shown: str, *, reference: str) -> None:
    """`campaign show` of the finished campaign: its summary and every recipient's calls."""
    assert f"reference {reference}" in shown
    assert "state finished (done), outcome partial" in shown
    assert "quality best, 1 pages, schedule: Manual, launched 20" in shown
    assert "delivered 3, failed 1, to do 0, total 4" in shown
    for number in DELIVERED:
        assert f"  {number}: delivered after 1 call(s): delivered" in shown
    assert f"  {REJECTED}: failed after 1 call(s): " in shown
    assert "rejected (SIP 603 Decline)" in shown
    assert shown.count("delivered, pages 1/1, 9600 bit/s") == 3  # best: V.29 9600, ECM


def test_bad_input_is_refused_with_its_reason(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    (tmp_path / "letter.pdf").write_bytes(pdfs.text_pdf(1))
    (tmp_path / "notes.pdf").write_text("meeting notes, not a PDF at all\n")
    (tmp_path / "bad.txt").write_bytes(
        b"+33 1 23 45 67 01\r\n12345\r\n+33 1 23 45 67 02; 01 2x\r\n"
    )
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    # The first command makes the default account; the others then run side by side.
    first = run_faxcast(
        "campaign", "create", "--line", "1", "--name", "Demain", "--pdf", "letter.pdf",
        "--to", "+33 1 23 45 67 01", "--at", f"{tomorrow}+00:00",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert row(first.stdout)[2:] == ["scheduled", "n/a", "0/0/1/1", "Demain"]

    create = ("campaign", "create", "--line", "1", "--name", "N", "--pdf")
    runs = run_together(
        {
            "past": (*create, "letter.pdf", "--to", "0123456701", "--at", "2020-03-01T09:30"),
            "not a date": (*create, "letter.pdf", "--to", "0123456701", "--at", "tomorrow"),
            "bad numbers": (*create, "letter.pdf", "--recipients", "bad.txt"),
            "not a pdf": (*create, "notes.pdf", "--to", "0123456701"),
            "no numbers": (*create, "letter.pdf"),
            "checked bad": (*create, "notes.pdf", "--recipients", "bad.txt", "--check"),
            "checked good": (*create, "letter.pdf", "--to", "0123456701", "--check"),
            "list": ("campaign", "ls", "--line", "1"),
        },
        env=env,
        cwd=tmp_path,
    )
    assert_error(runs["past"], "in the past")
    assert_error(runs["not a date"], "'tomorrow' is not a date and time")
    assert_error(runs["bad numbers"], "line 2, column 1: '12345'", "line 3, column 20: '01 2x'")
    assert "+33 1 23 45 67 01" not in runs["bad numbers"].stderr
    assert_error(runs["not a pdf"], "PDF")
    assert_error(runs["no numbers"], "--to", "--recipients")
    # --check reports every problem at once, and stores nothing even when all is well.
    assert_error(runs["checked bad"], "PDF", "line 2, column 1: '12345'")
    assert runs["checked good"].returncode == 0, runs["checked good"].stderr
    assert runs["checked good"].stdout == ""
    assert [r.split("\t")[2:] for r in runs["list"].stdout.splitlines()[1:]] == [
        ["scheduled", "n/a", "0/0/1/1", "Demain"]
    ]
    # No refused campaign was stored.
    assert campaign_names(tmp_path / "data") == ["Demain"]


def test_errors_are_in_the_locales_language(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    (tmp_path / "letter.pdf").write_bytes(pdfs.text_pdf(1))
    create = ("campaign", "create", "--line", "1", "--name", "N", "--pdf", "letter.pdf")
    bad = (*create, "--to", "0123456701, 12x")

    french = run_faxcast(*bad, env={**env, "LANG": "fr_FR.UTF-8"}, cwd=tmp_path)
    # LC_ALL comes before LANG, as in gettext.
    english = run_faxcast(
        *bad, env={**env, "LANG": "fr_FR.UTF-8", "LC_ALL": "en_GB.UTF-8"}, cwd=tmp_path
    )

    assert french.returncode == 1, french.stderr
    assert french.stderr == (
        "faxcast: erreur : 1 numéro invalide : ligne 1, colonne 13 : « 12x » : "
        "contient 'x', qui n'est pas un chiffre\n"
    )
    assert_error(english, "1 invalid number: line 1, column 13: '12x': contains 'x'")


def test_send_follows_a_campaign_to_its_end(tmp_path: Path) -> None:
    (tmp_path / "letter.pdf").write_bytes(pdfs.text_pdf(1))
    send = ("send", "--pdf", "letter.pdf", "--to")
    # Two users, two data folders: each command makes its own default account.
    runs = run_together(
        {
            "all delivered": (*send, "+33 1 23 45 67 01, +33 1 23 45 67 02", "--name", "Bonjour"),
            "some failed": (*send, "+33 1 23 45 67 01; +33 1 23 45 06 03"),
        },
        env=env_for(tmp_path / "a"),
        envs={"some failed": env_for(tmp_path / "b")},
        cwd=tmp_path,
        timeout=60,  # a few seconds each
    )

    ok, partial = runs["all delivered"], runs["some failed"]
    assert ok.returncode == 0, ok.stderr
    assert "campaign 1 'Bonjour'" in ok.stdout
    assert "state finished (done), outcome success" in ok.stdout
    assert "delivered 2, failed 0, to do 0, total 2" in ok.stdout
    assert partial.returncode == 1, partial.stderr
    assert "campaign 1 'letter.pdf'" in partial.stdout  # named after the PDF
    assert "outcome partial" in partial.stdout
    assert "+33 1 23 45 06 03 (+33123450603): failed after 1 call(s)" in partial.stdout
    for run in (ok, partial):
        assert "Traceback" not in run.stderr
        assert "launched" in run.stderr
        # The progress bar goes to stderr: stdout carries the detail alone.
        assert "faxing" in run.stderr, (run.stdout, run.stderr)
        assert "faxing" not in run.stdout, run.stdout


# The sandbox's busy number (README), always answering SIP 486.
BUSY = "+33 1 23 45 04 86"


def test_send_says_what_it_waits_for_instead_of_a_stuck_bar(tmp_path: Path) -> None:
    (tmp_path / "letter.pdf").write_bytes(pdfs.text_pdf(1))
    # Short waits: busy retried after 2 s (±25 %), given up 6 s after its first dial.
    env = faxcast_env(tmp_path / "data", worker_poll_s=0.1, retry_busy_s=2, kill_time_s=6)
    sent = run_faxcast(
        "send", "--pdf", "letter.pdf", "--to", f"+33 1 23 45 67 01, {BUSY}",
        env=env, cwd=tmp_path, timeout=60,
    )  # fmt: skip

    assert sent.returncode == 1, (sent.stdout, sent.stderr)
    said = [line for line in sent.stderr.splitlines() if line.startswith("faxing: ")]
    assert said[0] == "faxing: 0 delivered, 0 failed, 2 to do, of 2"
    waiting = [line for line in said if "1 number to retry, next call at " in line]
    assert waiting, said
    assert waiting[0].startswith("faxing: 1 delivered, 0 failed, 1 to do, of 2; ")
    assert ", last try by " in waiting[0]
    assert said[-1] == "faxing: 1 delivered, 1 failed, 0 to do, of 2"
    assert len(said) == len(set(said))  # a line when something changes, not every poll
    assert "kill time" in sent.stdout


def test_ls_and_show_say_when_the_next_call_is_and_how_many_tries_are_left(
    tmp_path: Path,
) -> None:
    (tmp_path / "letter.pdf").write_bytes(pdfs.text_pdf(1))
    env = faxcast_env(tmp_path / "data", worker_poll_s=0.1, retry_busy_s=600)
    created = run_faxcast(
        "campaign", "create", "--line", "1", "--name", "Relance", "--pdf", "letter.pdf",
        "--to", f"+33 1 23 45 67 01, {BUSY}", env=env, cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    campaign = row(created.stdout)[0]
    launched = run_faxcast("campaign", "launch", "--line", "1", campaign, env=env, cwd=tmp_path)
    assert launched.returncode == 0, launched.stderr

    log = tmp_path / "worker.log"
    with background("worker", env=env, cwd=tmp_path, log=log) as worker:
        busy = wait_until(
            lambda: _waiting_retry(tmp_path / "data"),
            timeout=60,
            what="the busy number to wait for its retry",
            alive=worker,
            log=log,
        )
        runs = run_together(
            {
                "ls": ("campaign", "ls", "--line", "1"),
                "show": ("campaign", "show", "--line", "1", campaign),
            },
            env=env,
            envs={"show": {**env, "LANG": "fr_FR.UTF-8"}},
            cwd=tmp_path,
        )
        assert stop_process(worker, signal.SIGTERM) == 0, log_tail(log)

    due_at, first_dial_at = busy
    zone = ZoneInfo("Europe/Paris")  # the default account's

    def local(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")

    # DESIGN.md: no retry 3 h after the first dial; 12 dials in all, one made.
    last = local(first_dial_at + timedelta(hours=3))
    listed = runs["ls"].stdout.splitlines()
    assert listed[1].split("\t")[2:5] == ["running", "n/a", "1/0/1/2"]
    assert listed[2] == (f"  1 number to retry, next call at {local(due_at)}, last try by {last}")
    shown = runs["show"].stdout
    assert (
        f"  1 numéro à rappeler, prochain appel à {local(due_at)}, "
        f"dernier essai au plus tard à {last}"
    ) in shown
    assert f"; prochain appel à {local(due_at)}, encore 11 essais" in shown
    assert "schedule: Manuel, lancée le " in shown


def _waiting_retry(data_dir: Path) -> tuple[datetime, datetime] | None:
    """The busy number's due time and first dial once it waits for a retry, the other delivered."""
    engine = create_engine_for(database_url_for(data_dir))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    recipients.c.state, recipients.c.due_at, recipients.c.first_dial_at
                ).order_by(recipients.c.position)
            ).all()
    finally:
        engine.dispose()
    if [r.state for r in rows] != ["delivered", "pending"] or rows[1].due_at is None:
        return None
    return rows[1].due_at, rows[1].first_dial_at


def test_files_are_judged_by_their_content_as_the_api_judges_them(tmp_path: Path) -> None:
    # The cases of tests/integration/test_document_kinds.py, through `campaign create` and `send`.
    env = faxcast_env(tmp_path / "data", worker_poll_s=0.1, max_document_bytes=MB)
    (tmp_path / "letter.pdf").write_bytes(pdfs.text_pdf(1))
    for case in (*REFUSED_PDFS, *REFUSED_LISTS):
        (tmp_path / case.name).write_bytes(case.data)
    made = run_faxcast("line", "ls", env=env, cwd=tmp_path)  # makes the default account
    assert made.returncode == 0, made.stderr
    before = _row_counts(tmp_path / "data")

    create = ("campaign", "create", "--line", "1", "--name", "N")
    commands = {
        **{f"create {c.name}": (*create, "--pdf", c.name, "--to", "0123456701")
           for c in REFUSED_PDFS},
        **{f"create {c.name}": (*create, "--pdf", "letter.pdf", "--recipients", c.name)
           for c in REFUSED_LISTS},
        "send": ("send", "--pdf", REFUSED_PDFS[0].name, "--to", "0123456701"),
    }  # fmt: skip
    runs = run_together(commands, env=env, cwd=tmp_path)

    for case in (*REFUSED_PDFS, *REFUSED_LISTS):
        assert_error(runs[f"create {case.name}"], case.en)
    assert_error(runs["send"], REFUSED_PDFS[0].en)
    assert _row_counts(tmp_path / "data") == before


def _row_counts(data_dir: Path) -> tuple[int, ...]:
    engine = create_engine_for(database_url_for(data_dir))
    try:
        return row_counts(engine)
    finally:
        engine.dispose()


def test_numbers_the_guide_accepts_are_kept_and_merges_are_told(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    (tmp_path / "letter.pdf").write_bytes(pdfs.text_pdf(1))
    (tmp_path / "issue.txt").write_text(f"{PROBABLY_INVALID}\n{ONE_NUMBER}\n")
    made = run_faxcast("line", "ls", env=env, cwd=tmp_path)  # makes the default account
    assert made.returncode == 0, made.stderr
    before = _row_counts(tmp_path / "data")

    create = ("campaign", "create", "--line", "1", "--name", "N", "--pdf", "letter.pdf")
    runs = run_together(
        {
            "checked": (*create, "--recipients", "issue.txt", "--check"),
            "refused": (*create, "--to", "123456, 12345; 12+3456"),
        },
        env=env,
        cwd=tmp_path,
    )
    checked, refused = runs["checked"], runs["refused"]
    assert_error(refused, "line 1, column 9: '12345'", "line 1, column 16: '12+3456'")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == ""
    assert _row_counts(tmp_path / "data") == before

    created = run_faxcast(*create, "--recipients", "issue.txt", env=env, cwd=tmp_path)
    french = run_faxcast(
        *create, "--to", "0123456789, 01 23 45 67 89, 123456", env={**env, "LANG": "fr_FR.UTF-8"},
        cwd=tmp_path,
    )  # fmt: skip

    assert created.returncode == 0, created.stderr
    # 5 entries kept with a warning, and 4 spellings of one number: 6 recipients.
    assert row(created.stdout)[2:] == ["waiting", "n/a", "0/0/6/6", "N"]
    told = [
        "faxcast: line 1, column 1: '123456' is dialled as 123456: probably invalid for country"
        " FR: 9 digits expected after +33, this one has 6; dialled as typed",
        "faxcast: line 2, column 1: '+123456' is dialled as +123456: probably invalid for"
        " country code +1: 10 digits expected after +1, this one has 5; dialled as typed",
        "faxcast: line 2, column 10: '12345678901234567' is dialled as 12345678901234567:"
        " probably invalid for country FR: 9 digits expected after +33, this one has 17;"
        " dialled as typed (an international number needs a leading '+')",
        "faxcast: line 2, column 29: '(0) 8-12-34' is dialled as 081234: probably invalid for"
        " country FR: 9 digits expected after +33, this one has 6; dialled as typed",
        "faxcast: line 3, column 1: '01 23 45' is dialled as 012345: probably invalid for"
        " country FR: 9 digits expected after +33, this one has 6; dialled as typed",
        "faxcast: +33123456789 is sent once for '0123456789' (line 4, column 1);"
        " '01 23 45 67 89' (line 5, column 1); '+33123456789' (line 5, column 17);"
        " '33123456789' (line 5, column 31)",
    ]
    for run in (checked, created):
        assert run.stderr.splitlines()[: len(told)] == told, run.stderr
    assert french.returncode == 0, french.stderr
    assert french.stderr.splitlines() == [
        "faxcast: ligne 1, colonne 29 : « 123456 » est composé 123456 : probablement invalide"
        " pour le pays FR : 9 chiffres attendus après +33, celui-ci en a 6 ; composé tel quel",
        "faxcast: +33123456789 est envoyé une seule fois pour « 0123456789 » (ligne 1, colonne 1)"
        " ; « 01 23 45 67 89 » (ligne 1, colonne 13)",
    ]
    counts = _row_counts(tmp_path / "data")
    assert counts[:2] == (before[0] + 2, before[1] + 6 + 2)
    shown = run_faxcast(
        "campaign", "show", "--line", "1", row(created.stdout)[0], env=env, cwd=tmp_path
    )
    assert shown.returncode == 0, shown.stderr
    # As typed, with the number dialled beside it where it differs.
    assert "  123456: pending after 0 call(s)" in shown.stdout
    assert "  (0) 8-12-34 (081234): pending after 0 call(s)" in shown.stdout
    assert "  0123456789 (+33123456789): pending after 0 call(s)" in shown.stdout


def test_the_flagged_numbers_are_removed_from_the_command_line(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    (tmp_path / "letter.pdf").write_bytes(pdfs.text_pdf(1))
    create = ("campaign", "create", "--line", "1", "--name", "N", "--pdf", "letter.pdf")
    created = run_faxcast(*create, "--to", FLAGGED_AMONG_OTHERS.replace("\n", ","), env=env,
                          cwd=tmp_path)  # fmt: skip
    assert created.returncode == 0, created.stderr
    campaign_id = row(created.stdout)[0]
    assert row(created.stdout)[4] == "0/0/5/5"
    remove = ("campaign", "remove-flagged", "--line", "1", campaign_id)

    removed = run_faxcast(*remove, env={**env, "LANG": "fr_FR.UTF-8"}, cwd=tmp_path)

    assert removed.returncode == 0, removed.stderr
    assert removed.stderr == "faxcast: 2 numéros signalés retirés de la campagne « N »\n"
    assert row(removed.stdout)[2:] == ["waiting", "n/a", "0/0/3/3", "N"]
    before = _row_counts(tmp_path / "data")
    again = run_faxcast(*remove, env=env, cwd=tmp_path)
    assert_error(again, "campaign 'N' has no number flagged as probably invalid")
    assert _row_counts(tmp_path / "data") == before
