"""SIP lines through the REST API, on SQLite and PostgreSQL: settings in, settings out, the
password taken but never given back, and every bad field named."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from faxcast.clock import ManualClock
from faxcast.config import Settings
from faxcast.services import accounts
from faxcast.services.context import Services
from faxcast.store.blobs import DatabaseBlobStore
from faxcast.store.database import create_engine_for
from faxcast.store.sealing import is_sealed
from faxcast.store.tables import lines
from tests.asgi import api_client

NOW = datetime(2030, 1, 15, 9, 0, tzinfo=UTC)
PROBLEM = "application/problem+json"
SECRET = "Tr0ub4dor&3-not-shown"
SIP = {
    "proxyHost": "sip.example.net",
    "proxyPort": 5080,
    "transport": "udp",
    "username": "faxcast",
    "password": SECRET,
    "register": True,
    "registerIntervalS": 900,
    "fromNumber": "+33123456789",
    "displayName": "ACME Fax",
    "dialling": "international",
    "internationalPrefix": "00",
    "codecs": ["pcmu", "pcma"],
    "t38": "offer",
    "t38OfferAfterS": 3,
    "ringTimeoutS": 40,
    "localAddress": "127.0.0.1",
    "rtpPortMin": 40000,
    "rtpPortMax": 40999,
}
SHOWN = {k: v for k, v in SIP.items() if k != "password"} | {"passwordSet": True}


@pytest.fixture
def svc(database_url: str, tmp_path: Path) -> Iterator[Services]:
    engine = create_engine_for(database_url)
    yield Services(
        engine=engine,
        blobs=DatabaseBlobStore(),
        clock=ManualClock(NOW),
        settings=Settings(data_dir=tmp_path, default_country="FR"),
    )
    engine.dispose()


@pytest.fixture
def client(svc: Services, caplog: pytest.LogCaptureFixture) -> Iterator[httpx.Client]:
    caplog.set_level(logging.DEBUG)
    with api_client(svc) as client:
        yield client


@pytest.fixture
def base(client: httpx.Client) -> str:
    created = client.post("/telephony", json={"name": "Acme"})
    assert created.status_code == 201, created.text
    return f"/telephony/{created.json()['id']}/fax"


def problem(response: httpx.Response) -> Any:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    return response.json()


def fields(response: httpx.Response) -> list[str | None]:
    return [error.get("field") for error in problem(response)["errors"]]


def new_trunk(client: httpx.Client, base: str, **sip: Any) -> Any:
    body = {"name": "Trunk", "kind": "sip", "channelLimit": 8, "sip": SIP | sip}
    made = client.post(base, json=body)
    assert made.status_code == 201, made.text
    return made.json()


def test_a_sip_line_is_created_and_read_with_every_setting_but_its_password(
    client: httpx.Client, base: str, svc: Services, caplog: pytest.LogCaptureFixture
) -> None:
    line = new_trunk(client, base)
    path = f"{base}/{line['id']}"

    responses = [client.get(base), client.get(path), client.get(f"{path}/settings")]

    assert line["kind"] == "sip"
    assert line["sip"] == SHOWN
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert responses[0].json()[1] == line
    assert responses[1].json() == line
    assert responses[2].json()["sip"] == SHOWN
    stored = accounts.get_line(svc, line["accountId"], line["id"]).sip
    assert stored is not None
    assert stored.password.reveal() == SECRET
    with svc.engine.connect() as conn:
        row = conn.execute(select(lines).where(lines.c.id == line["id"])).one()
    assert is_sealed(row.sip_password)
    assert SECRET not in str(tuple(row))
    for text in [r.text for r in responses] + [caplog.text]:
        assert SECRET not in text


def test_absent_settings_take_the_defaults(client: httpx.Client, base: str) -> None:
    made = client.post(base, json={"name": "Bare", "kind": "sip", "sip": {"proxyHost": "h.test"}})

    assert made.status_code == 201, made.text
    assert made.json()["sip"] == {
        "proxyHost": "h.test",
        "proxyPort": 5060,
        "transport": "udp",
        "username": "",
        "register": False,
        "registerIntervalS": 3600,
        "fromNumber": "",
        "displayName": "",
        "dialling": "e164",
        "internationalPrefix": "00",
        "codecs": ["pcma", "pcmu"],
        "t38": "accept",
        "t38OfferAfterS": 4,
        "ringTimeoutS": 60,
        "localAddress": "0.0.0.0",
        "rtpPortMin": 10000,
        "rtpPortMax": 20000,
        "passwordSet": False,
    }


def test_an_edit_keeps_the_password_unless_a_new_one_is_given(
    client: httpx.Client, base: str, svc: Services, caplog: pytest.LogCaptureFixture
) -> None:
    line = new_trunk(client, base)
    path = f"{base}/{line['id']}/settings"
    settings = client.get(path).json()
    without_password = {k: v for k, v in settings["sip"].items() if k != "passwordSet"}

    kept = client.put(path, json=settings | {"sip": without_password | {"ringTimeoutS": 30}})
    emptied = client.put(path, json=settings | {"sip": without_password | {"password": ""}})

    assert kept.status_code == 200, kept.text
    assert kept.json()["sip"] == SHOWN | {"ringTimeoutS": 30}
    assert emptied.status_code == 200, emptied.text
    assert emptied.json()["sip"]["passwordSet"] is True
    current = accounts.get_line(svc, line["accountId"], line["id"]).sip
    assert current is not None
    assert current.password.reveal() == SECRET

    changed = client.put(path, json=settings | {"sip": without_password | {"password": "n3w"}})
    assert changed.status_code == 200, changed.text
    current = accounts.get_line(svc, line["accountId"], line["id"]).sip
    assert current is not None
    assert current.password.reveal() == "n3w"
    for text in (kept.text, emptied.text, changed.text, caplog.text):
        assert SECRET not in text
        assert "n3w" not in text


def test_every_bad_setting_is_named_and_nothing_changes(
    client: httpx.Client, base: str, caplog: pytest.LogCaptureFixture
) -> None:
    line = new_trunk(client, base)
    path = f"{base}/{line['id']}/settings"
    before = client.get(path).json()
    bad_sip = SIP | {
        "proxyHost": "not a host",
        "rtpPortMin": 40001,
        "ringTimeoutS": 1,
        "codecs": [],
        "password": SECRET + "\n",
    }

    created = client.post(
        base, json={"name": "Bad", "kind": "sip", "channelLimit": 8, "sip": bad_sip}
    )
    edited = client.put(path, json=before | {"sip": bad_sip}, headers={"Accept-Language": "fr"})

    expected = [
        "sip.proxyHost",
        "sip.password",
        "sip.ringTimeoutS",
        "sip.codecs",
        "sip.rtpPortMin",
    ]
    assert fields(created) == expected
    assert fields(edited) == expected
    assert "'not a host' is not a host name or an IP address" in created.text
    assert "« not a host » n'est ni un nom d'hôte ni une adresse IP" in edited.json()["detail"]
    assert [e["code"] for e in problem(created)["errors"]][-1] == "sip_line.rtp_port_odd"
    assert client.get(path).json() == before
    assert len(client.get(base).json()) == 2
    for text in (created.text, edited.text, caplog.text):
        assert SECRET not in text


def test_the_kind_and_the_sip_settings_go_together(client: httpx.Client, base: str) -> None:
    sandbox = client.get(base).json()[0]
    settings_path = f"{base}/{sandbox['id']}/settings"
    settings = client.get(settings_path).json()

    assert fields(client.post(base, json={"name": "X", "kind": "sip"})) == ["sip"]
    assert fields(client.post(base, json={"name": "X", "sip": SIP})) == ["sip"]
    assert fields(client.put(settings_path, json=settings | {"sip": SIP})) == ["sip"]
    assert fields(client.put(settings_path, json=settings | {"kind": "sip", "sip": SIP})) == [
        "kind"
    ]
    unknown = client.post(base, json={"name": "X", "kind": "sip", "sip": SIP | {"colour": 1}})
    assert fields(unknown) == ["sip.colour"]
    wrong_type = client.post(base, json={"name": "X", "kind": "sip", "sip": SIP | {"t38": "on"}})
    assert fields(wrong_type) == ["sip.t38"]
    assert SECRET not in unknown.text + wrong_type.text
    assert len(client.get(base).json()) == 1


def test_the_openapi_document_has_the_password_write_only(client: httpx.Client) -> None:
    components = client.get("/openapi.json").json()["components"]["schemas"]

    assert components["SipSettingsInput"]["properties"]["password"]["anyOf"][0] == {
        "type": "string",
        "format": "password",
        "writeOnly": True,
    }
    assert "password" not in components["SipSettings"]["properties"]
    assert "passwordSet" in components["SipSettings"]["properties"]
