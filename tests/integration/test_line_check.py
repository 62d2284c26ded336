"""« Tester cette ligne » against a real proxy (Kamailio demanding digest) through the API, the
web page and the CLI: a plain verdict on reachability and credentials, never the password."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from faxcast.clock import SystemClock
from faxcast.config import Settings, secret_key
from faxcast.domain.models import Account, Line, LineKind, LineSettings
from faxcast.domain.sip_line import Password, SipLineSettings
from faxcast.services import accounts
from faxcast.services.context import Services
from faxcast.store.blobs import DatabaseBlobStore
from faxcast.store.database import create_engine_for
from tests.asgi import api_client
from tests.e2e.processes import faxcast_env, run_faxcast
from tests.peers.daemons import free_udp_port
from tests.peers.kamailio import KamailioProxy, kamailio_proxy

USER = "acme-fax"
SECRET = "pr0xy-s3cret-never-shown"
FRENCH = {"Accept-Language": "fr"}
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def svc(sqlite_database_url: str, tmp_path: Path) -> Iterator[Services]:
    engine = create_engine_for(sqlite_database_url)
    yield Services(
        engine=engine,
        blobs=DatabaseBlobStore(),
        clock=SystemClock(),
        settings=Settings(data_dir=tmp_path, database_url=sqlite_database_url),
    )
    engine.dispose()


@pytest.fixture
def account(svc: Services) -> Account:
    return accounts.create_account(svc, name="Acme")


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[KamailioProxy]:
    # The target is never reached: a line test stops at the proxy.
    with kamailio_proxy(
        tmp_path / "kamailio", target=("127.0.0.1", 9), username=USER, password=SECRET
    ) as proxy:
        yield proxy


def trunk(
    svc: Services, account: Account, port: int, password: str, *, register: bool = False
) -> Line:
    sip = SipLineSettings(
        "127.0.0.1", port, username=USER, password=Password(password), register=register
    )
    settings = LineSettings("Trunk", LineKind.SIP, "FR", "", "", 2, sip)
    return accounts.create_line(svc, account.id, settings)


def test_the_api_reports_the_proxys_verdict_on_the_credentials(
    svc: Services, account: Account, kamailio: KamailioProxy
) -> None:
    good = trunk(svc, account, kamailio.port, SECRET)
    bad = trunk(svc, account, kamailio.port, "wrong", register=True)
    with api_client(svc) as client:
        accepted = client.post(f"/telephony/{account.id}/fax/{good.id}/test", headers=FRENCH)
        refused = client.post(f"/telephony/{account.id}/fax/{bad.id}/test")
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert (body["reachable"], body["authentication"], body["status"]) == (True, "accepted", 200)
    assert body["roundTripMs"] > 0
    assert "accepte l'identifiant et le mot de passe" in body["message"]
    # A REGISTER is challenged by the registrar (401), and the wrong password refused.
    assert refused.json()["authentication"] == "refused"
    assert refused.json()["status"] == 401
    assert "refuses the user name or the password" in refused.json()["message"]
    assert SECRET not in accepted.text + refused.text


def test_a_proxy_that_does_not_answer_is_reported_unreachable_within_the_bound(
    svc: Services, account: Account
) -> None:
    silent = trunk(svc, account, free_udp_port(), SECRET)
    with api_client(svc) as client:
        found = client.post(f"/telephony/{account.id}/fax/{silent.id}/test")
    assert found.status_code == 200, found.text
    assert (found.json()["reachable"], found.json()["status"]) == (False, None)
    assert "No answer from 127.0.0.1" in found.json()["message"]


def test_a_sandbox_line_has_nothing_to_test(svc: Services, account: Account) -> None:
    sandbox = accounts.list_lines(svc, account.id)[0]
    with api_client(svc) as client:
        found = client.post(f"/telephony/{account.id}/fax/{sandbox.id}/test").json()
    assert (found["reachable"], found["authentication"]) == (True, "not_asked")
    assert "sandbox" in found["message"]


def test_the_web_button_shows_the_verdict_in_french(
    svc: Services, account: Account, kamailio: KamailioProxy
) -> None:
    bad = trunk(svc, account, kamailio.port, "wrong")
    page = f"/accounts/{account.id}/lines/{bad.id}"
    with api_client(svc) as client:
        client.cookies.set("lang", "fr")
        shown = client.get(page)
        assert "Tester cette ligne" in shown.text
        token = _TOKEN.search(shown.text)
        assert token is not None
        tested = client.post(page + "/test", data={"csrf_token": token.group(1)})
        forged = client.post(page + "/test", data={"csrf_token": "forged"})
    assert tested.status_code == 200, tested.text
    assert 'class="notice failed"' in tested.text
    assert "refuse l&#39;identifiant ou le mot de passe (SIP 407)" in tested.text
    assert SECRET not in tested.text
    assert forged.status_code == 403


def test_the_cli_prints_the_verdict_and_fails_on_refused_credentials(
    svc: Services, account: Account, kamailio: KamailioProxy, tmp_path: Path
) -> None:
    good = trunk(svc, account, kamailio.port, SECRET)
    bad = trunk(svc, account, kamailio.port, "wrong")
    # One database, two hosts: they share the secret key the passwords are sealed with.
    env = faxcast_env(
        tmp_path / "data",
        database_url=svc.settings.database_url or "",
        secret_key=secret_key(svc.settings).decode(),
    )
    accepted = run_faxcast("line", "test", str(good.id), env=env, cwd=tmp_path)
    refused = run_faxcast("line", "test", str(bad.id), env=env, cwd=tmp_path)
    assert accepted.returncode == 0, accepted.stderr
    assert "accepts the user name and the password" in accepted.stdout
    assert refused.returncode == 1
    assert "refuses the user name or the password (SIP 407)" in refused.stdout


def test_a_password_sealed_under_another_key_is_reported_and_the_other_lines_still_work(
    svc: Services, account: Account, kamailio: KamailioProxy, tmp_path: Path
) -> None:
    lost = trunk(svc, account, kamailio.port, SECRET)
    other_key = Settings(data_dir=tmp_path / "other", database_url=svc.settings.database_url)
    elsewhere = Services(svc.engine, svc.blobs, svc.clock, other_key)
    good = trunk(elsewhere, account, kamailio.port, SECRET)
    with api_client(elsewhere) as client:
        listed = client.get(f"/telephony/{account.id}/fax")
        unreadable = client.post(f"/telephony/{account.id}/fax/{lost.id}/test", headers=FRENCH)
        accepted = client.post(f"/telephony/{account.id}/fax/{good.id}/test")
        english = client.post(f"/telephony/{account.id}/fax/{lost.id}/test")
    assert listed.status_code == 200, listed.text
    assert [line["sip"]["passwordSet"] for line in listed.json()[1:]] == [True, True]
    assert unreadable.status_code == 200, unreadable.text
    assert unreadable.json()["reachable"] is False
    assert "ne peut plus être lu" in unreadable.json()["message"]
    assert "saisissez de nouveau le mot de passe" in unreadable.json()["message"]
    assert "enter the password again" in english.json()["message"]
    assert accepted.json()["authentication"] == "accepted"
