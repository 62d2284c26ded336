"""Users, API tokens and the audit log from the command line: real `faxcast` processes on SQLite.

The links and tokens the commands print are then used through the app in-process, on the same
data folder, as a browser and an API client would use them.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from faxcast.bootstrap import build_services, create_app
from faxcast.config import Settings
from faxcast.services import signin
from faxcast.services.context import Services
from faxcast.web import csrf
from tests.asgi import SyncAsgiTransport
from tests.e2e.processes import faxcast_env, run_faxcast

PASSWORD = "a long enough password"
_LINK = re.compile(r"(https?://\S+/setup/(\S+))$")


class Shell:
    """`faxcast` commands on one data folder, as the server's operator runs them."""

    def __init__(self, tmp_path: Path) -> None:
        self.data = tmp_path / "data"
        self.env = faxcast_env(self.data, public_url="https://fax.example.org")
        self.cwd = tmp_path

    def ok(self, *args: str, stdin: str | None = None, lang: str = "C.UTF-8") -> str:
        """Run a command that must succeed; its stdout."""
        run = run_faxcast(*args, env=self.env | {"LANG": lang}, cwd=self.cwd, stdin=stdin)
        assert run.returncode == 0, (args, run.stdout, run.stderr)
        return run.stdout

    def fails(self, *args: str, lang: str = "C.UTF-8") -> str:
        """Run a command that must fail with exit status 1 and one line; that line."""
        run = run_faxcast(*args, env=self.env | {"LANG": lang}, cwd=self.cwd, stdin="")
        assert run.returncode == 1, (args, run.stdout, run.stderr)
        assert run.stderr.count("\n") == 1, run.stderr
        return run.stderr.strip()


@pytest.fixture
def shell(tmp_path: Path) -> Shell:
    """A fresh data folder."""
    return Shell(tmp_path)


@pytest.fixture
def server(shell: Shell) -> Iterator[tuple[Services, httpx.Client, bytes]]:
    """The app over the shell's data folder: its services, a client, its CSRF signing key."""
    shell.ok("account", "ls")  # the database exists, migrated, before the app opens it
    svc = build_services(Settings(data_dir=shell.data))
    app = create_app(svc)
    with httpx.Client(transport=SyncAsgiTransport(app), base_url="http://faxcast.test") as client:
        yield svc, client, app.state.web.secret
    svc.engine.dispose()


def setup_secret(output: str) -> str:
    """The secret of the set-up link a command printed, checked to be on the public URL."""
    found = _LINK.search(output.strip())
    assert found is not None, output
    assert found.group(1).startswith("https://fax.example.org/setup/")
    return found.group(2)


def choose_password(client: httpx.Client, key: bytes, secret: str) -> httpx.Response:
    """Open the link's page, then post its form as a browser does (with the CSRF cookie)."""
    page = client.get(f"/setup/{secret}")
    token = csrf.token_of(key, client.cookies.get(csrf.COOKIE))
    if page.status_code != 200 or token is None:
        return page
    return client.post(
        f"/setup/{secret}",
        data={"password": PASSWORD, "confirm": PASSWORD, csrf.FIELD: token},
    )


def test_user_create_prints_a_link_that_works_once(
    shell: Shell, server: tuple[Services, httpx.Client, bytes]
) -> None:
    svc, client, key = server

    output = shell.ok("user", "create", "Carol")

    first = output.splitlines()[0].split("\t")
    assert first[1:3] == ["carol", "admin"]
    secret = setup_secret(output)
    assert "valid once for 24 hours" in output
    assert shell.ok("user", "ls").splitlines() == [f"1\t{first[0]}\tcarol\tadmin\tsetup-pending"]

    chosen = choose_password(client, key, secret)
    assert chosen.status_code == 303, chosen.text
    assert chosen.headers["location"] == "/"
    assert "faxcast_session" in chosen.cookies
    assert signin.sign_in(svc, "carol", PASSWORD, address="127.0.0.1")
    assert shell.ok("user", "ls").splitlines() == [f"1\t{first[0]}\tcarol\tadmin"]

    client.cookies.clear()
    again = choose_password(client, key, secret)
    assert again.status_code == 410

    # A new link for her, from the shell, works once too.
    fresh = shell.ok("user", "link", "carol", "--account", "1")
    assert choose_password(client, key, setup_secret(fresh)).status_code == 303


def test_user_create_with_password_stdin_prints_no_link(
    shell: Shell, server: tuple[Services, httpx.Client, bytes]
) -> None:
    svc, _, _ = server
    assert shell.ok("account", "create", "First") == "1\tFirst\tEurope/Paris\tfr\n"
    shell.ok("account", "create", "Second", "--timezone", "America/New_York", "--language", "en")
    assert shell.ok("account", "ls").splitlines()[1] == "2\tSecond\tAmerica/New_York\ten"
    assert "'de'" in shell.fails("account", "create", "Third", "--language", "de")

    output = shell.ok(
        "user", "create", "dan", "--member", "--password-stdin", stdin=PASSWORD + "\n"
    )

    assert "/setup/" not in output
    assert output.split("\t")[1:] == ["dan", "member", "1,2\n"]
    assert signin.sign_in(svc, "dan", PASSWORD, address="127.0.0.1")
    assert "password" in shell.fails("user", "create", "eve", "--password-stdin")
    french = shell.fails("user", "create", "eve", "--password-stdin", lang="fr_FR.UTF-8")
    assert french.startswith("faxcast: erreur")
    assert shell.ok("user", "ls", "--account", "2").splitlines()[0].split("\t")[2:] == [
        "dan",
        "member",
    ]


def test_users_roles_and_the_last_admin_from_the_shell(shell: Shell) -> None:
    shell.ok("user", "create", "ann")
    added = shell.ok("user", "add", "bob", "--role", "member")
    assert "\tbob\tmember\tsetup-pending" in added
    assert "https://fax.example.org/setup/" in added

    assert "\tbob\tadmin" in shell.ok("user", "role", "bob", "--role", "admin")
    shell.ok("user", "remove", "ann")
    last = shell.fails("user", "remove", "bob")
    assert last == "faxcast: error: bob is the account's last admin: make another user admin first"
    assert "« nobody »" in shell.fails(
        "user", "role", "nobody", "--role", "admin", lang="fr_FR.UTF-8"
    )
    assert [row.split("\t")[2] for row in shell.ok("user", "ls").splitlines()] == ["bob"]

    log = [row.split("\t") for row in shell.ok("audit", "--account", "1").splitlines()]
    assert [(row[2], row[3], row[4]) for row in log[:4]] == [
        ("operator", "user_removed", "ann"),
        ("operator", "user_role_changed", "bob (admin)"),
        ("operator", "user_added", "bob (member)"),
        ("operator", "user_added", "ann (admin)"),
    ]


def test_a_token_made_in_the_shell_works_until_revoked(
    shell: Shell, server: tuple[Services, httpx.Client, bytes]
) -> None:
    _, client, _ = server
    shell.ok("user", "create", "ann", "--password-stdin", stdin=PASSWORD + "\n")
    run = run_faxcast(
        "token", "create", "--user", "ann", "--name", "ci", env=shell.env, cwd=shell.cwd
    )
    assert run.returncode == 0, run.stderr
    secret = run.stdout.strip()
    assert secret.startswith("fxc_")
    assert "never be shown again" in run.stderr
    bearer = {"Authorization": f"Bearer {secret}"}

    assert client.get("/me", headers=bearer).json()["login"] == "ann"
    listed = shell.ok("token", "ls", "--user", "ann")
    assert secret not in listed
    token_id, name, hint = listed.split("\t")[:3]
    assert (name, hint) == ("ci", secret[:8] + "…")

    shell.ok("token", "revoke", "--user", "ann", token_id)

    assert client.get("/me", headers=bearer).status_code == 401
    assert shell.ok("token", "ls", "--user", "ann") == ""
    assert "no API token" in shell.fails("token", "revoke", "--user", "ann", token_id)
    expired = shell.fails(
        "token", "create", "--user", "ann", "--name", "old", "--expires", "2000-01-01T00:00"
    )
    assert "future" in expired


def test_the_audit_csv_from_the_shell_is_in_the_locales_language(shell: Shell) -> None:
    shell.ok("user", "create", "=HYPERLINK(1)")

    run = run_faxcast("audit", "--csv", env=shell.env | {"LANG": "fr_FR.UTF-8"}, cwd=shell.cwd)

    assert run.returncode == 0, run.stderr
    data = run.stdout.encode()
    assert data.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["N°", "Date", "Auteur", "Action", "Objet", "Adresse"]
    assert rows[1][2:] == ["operator", "Utilisateur ajouté", "'=hyperlink(1) (admin)", ""]
