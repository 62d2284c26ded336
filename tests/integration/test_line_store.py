"""A SIP line's settings stored and read back, on SQLite and PostgreSQL; its password kept apart,
sealed under a key derived from the server's secret key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, inspect, select, update

from faxcast.bootstrap import build_services
from faxcast.clock import ManualClock
from faxcast.config import Settings, secret_key
from faxcast.domain.codec import Codec
from faxcast.domain.dialling import Dialling
from faxcast.domain.models import LineKind, LineSettings
from faxcast.domain.sip_line import Password, SipLineSettings, T38Mode
from faxcast.errors import ConfigError, InputError, MultipleInputError
from faxcast.fields import Field
from faxcast.services import accounts
from faxcast.services.context import Services
from faxcast.store import queue, repository
from faxcast.store.blobs import DatabaseBlobStore
from faxcast.store.database import create_engine_for
from faxcast.store.migrate import downgrade, upgrade
from faxcast.store.sealing import Sealer, is_sealed
from faxcast.store.tables import accounts as accounts_table
from faxcast.store.tables import lines

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SECRET = "correct horse battery"
TRUNK = SipLineSettings(
    proxy_host="sip.example.net",
    proxy_port=5080,
    username="faxcast",
    password=Password(SECRET),
    register=True,
    register_interval_s=600,
    from_number="+33123456789",
    display_name="ACME Fax",
    dialling=Dialling.NATIONAL,
    international_prefix="00",
    codecs=(Codec.PCMU,),
    t38=T38Mode.OFFER,
    t38_offer_after_s=2,
    ring_timeout_s=45,
    local_address="127.0.0.1",
    rtp_port_min=30000,
    rtp_port_max=30099,
)


@pytest.fixture
def svc(database_url: str, tmp_path: Path) -> Iterator[Services]:
    engine = create_engine_for(database_url)
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    yield Services(engine, DatabaseBlobStore(), ManualClock(NOW), settings)
    engine.dispose()


def sip_line(name: str = "Trunk", sip: SipLineSettings = TRUNK) -> LineSettings:
    return LineSettings(name, LineKind.SIP, "FR", "+33 1 23 45 67 89", "ACME", 8, sip=sip)


def stored_row(svc: Services, line_id: int) -> dict[str, object]:
    with svc.transaction() as conn:
        return dict(conn.execute(select(lines).where(lines.c.id == line_id)).one()._mapping)


def test_a_sip_line_reads_back_as_it_was_set_whichever_way_it_is_read(svc: Services) -> None:
    account = accounts.create_account(svc, name="Acme")

    created = accounts.create_line(svc, account.id, sip_line())

    assert created.kind is LineKind.SIP
    assert created.sip == TRUNK
    assert created.sip is not None
    assert created.sip.password.reveal() == SECRET
    assert accounts.get_line(svc, account.id, created.id) == created
    assert accounts.list_lines(svc, account.id)[1] == created
    with svc.transaction() as conn:
        # The dispatcher reads lines with plain SQL (SELECT *): the same line comes back.
        assert queue.lock_line(conn, account.id, created.id) == created
    [sandbox] = [line for line in accounts.list_lines(svc, account.id) if line.id != created.id]
    assert sandbox.sip is None


def opened(svc: Services, line_id: int) -> str | None:
    """The line's stored password, checked sealed and opened with the server's key."""
    stored = stored_row(svc, line_id)["sip_password"]
    assert isinstance(stored, str)
    assert is_sealed(stored), "a password stored in clear"
    return Sealer(secret_key(svc.settings)).open(stored)


def test_the_password_is_stored_sealed_apart_from_the_settings_document(svc: Services) -> None:
    account = accounts.create_account(svc, name="Acme")
    line = accounts.create_line(svc, account.id, sip_line())

    row = stored_row(svc, line.id)

    assert isinstance(row["sip_password"], str)
    assert SECRET not in row["sip_password"]
    assert opened(svc, line.id) == SECRET
    assert isinstance(row["sip"], str)
    assert SECRET not in row["sip"]
    document = json.loads(row["sip"])
    assert "password" not in document
    assert document["codecs"] == ["pcmu"]
    assert document["t38"] == "offer"


def test_a_document_from_before_a_setting_existed_gets_its_default(svc: Services) -> None:
    account = accounts.create_account(svc, name="Acme")
    with svc.transaction() as conn:
        new_id = conn.execute(
            insert(lines).values(
                account_id=account.id,
                name="Old",
                kind="sip",
                country="FR",
                ident="",
                header="",
                channel_limit=1,
                created_at=NOW,
                sip=json.dumps({"proxy_host": "192.0.2.1"}),
            )
        ).inserted_primary_key
    assert new_id is not None

    line = accounts.get_line(svc, account.id, int(new_id[0]))

    assert line.sip == SipLineSettings(proxy_host="192.0.2.1")


def test_an_edit_without_a_password_keeps_the_stored_one(svc: Services) -> None:
    account = accounts.create_account(svc, name="Acme")
    line = accounts.create_line(svc, account.id, sip_line())

    edited = accounts.update_line(
        svc,
        account.id,
        line.id,
        sip_line("Renamed", replace(TRUNK, password=Password(), ring_timeout_s=30)),
    )
    assert edited.name == "Renamed"
    assert edited.sip == replace(TRUNK, ring_timeout_s=30)
    assert opened(svc, line.id) == SECRET

    changed = accounts.update_line(
        svc, account.id, line.id, sip_line(sip=replace(TRUNK, password=Password("new one")))
    )
    assert changed.sip is not None
    assert changed.sip.password.reveal() == "new one"

    # No user, no password: emptying the user name drops the password with it.
    anonymous = replace(TRUNK, username="", password=Password(), register=False)
    cleared = accounts.update_line(svc, account.id, line.id, sip_line(sip=anonymous))
    assert cleared.sip == anonymous
    assert stored_row(svc, line.id)["sip_password"] == ""


def test_bad_settings_change_nothing(svc: Services) -> None:
    account = accounts.create_account(svc, name="Acme")
    line = accounts.create_line(svc, account.id, sip_line())
    before = stored_row(svc, line.id)
    bad = replace(TRUNK, proxy_host="not a host", password=Password("leaked?"), rtp_port_min=3)

    with pytest.raises(MultipleInputError) as caught:
        accounts.update_line(svc, account.id, line.id, sip_line("", bad))
    with pytest.raises(InputError) as created:
        accounts.create_line(svc, account.id, sip_line(sip=replace(bad, rtp_port_min=30000)))

    assert [e.field for e in caught.value.errors] == [
        Field.NAME,
        Field.SIP_PROXY_HOST,
        Field.SIP_RTP_PORT_MIN,
    ]
    assert created.value.field is Field.SIP_PROXY_HOST
    assert stored_row(svc, line.id) == before
    assert len(accounts.list_lines(svc, account.id)) == 2


def test_a_line_kind_and_its_settings_go_together(svc: Services) -> None:
    account = accounts.create_account(svc, name="Acme")
    sandbox = accounts.list_lines(svc, account.id)[0]

    with pytest.raises(InputError) as missing:
        accounts.create_line(svc, account.id, replace(sip_line(), sip=None))
    with pytest.raises(InputError) as stray:
        accounts.create_line(svc, account.id, replace(sip_line(), kind=LineKind.SANDBOX))
    with pytest.raises(InputError) as fixed:
        accounts.update_line(svc, account.id, sandbox.id, sip_line())

    assert [e.field for e in (missing.value, stray.value, fixed.value)] == [
        Field.SIP,
        Field.SIP,
        Field.KIND,
    ]
    assert len(accounts.list_lines(svc, account.id)) == 1


def test_0007_adds_the_sip_columns_and_back(empty_database_url: str) -> None:
    engine: Engine = create_engine_for(empty_database_url)
    try:
        upgrade(engine, "0006")
        with engine.begin() as conn:
            account = conn.execute(
                insert(accounts_table).values(name="Old", timezone="UTC", created_at=NOW)
            ).inserted_primary_key
            assert account is not None
            conn.exec_driver_sql(
                "INSERT INTO lines (account_id, name, kind, country, ident, header, "
                f"channel_limit, created_at) VALUES ({account[0]}, 'Sandbox', 'sandbox', 'FR', "
                "'', '', 4, '2026-12-01 08:00:00')"
            )
        # To the head: the repository reads the columns later revisions add too.
        upgrade(engine)
        with engine.connect() as conn:
            [line] = repository.list_lines(conn, int(account[0]))
        assert (line.kind, line.sip) == (LineKind.SANDBOX, None)
        downgrade(engine, "0006")
        columns = {c["name"] for c in inspect(engine).get_columns("lines")}
        assert not {"sip", "sip_password"} & columns
    finally:
        engine.dispose()


def test_a_password_stored_in_clear_before_sealing_works_and_is_sealed_at_the_next_start(
    svc: Services,
) -> None:
    account = accounts.create_account(svc, name="Acme")
    line = accounts.create_line(svc, account.id, sip_line())
    with svc.transaction() as conn:
        # As faxcast stored it before issue 15.
        conn.execute(update(lines).where(lines.c.id == line.id).values(sip_password=SECRET))
    assert accounts.get_line(svc, account.id, line.id) == line

    started = build_services(svc.settings)
    try:
        assert opened(svc, line.id) == SECRET
        assert accounts.get_line(started, account.id, line.id) == line
    finally:
        started.engine.dispose()


def test_a_password_sealed_under_another_key_is_kept_unreadable_until_entered_again(
    svc: Services, tmp_path: Path
) -> None:
    account = accounts.create_account(svc, name="Acme")
    line = accounts.create_line(svc, account.id, sip_line())
    sealed = stored_row(svc, line.id)["sip_password"]
    moved = Settings(data_dir=tmp_path / "new-key", database_url=svc.settings.database_url)
    elsewhere = Services(svc.engine, svc.blobs, svc.clock, moved)

    [sandbox, read] = accounts.list_lines(elsewhere, account.id)
    assert read.sip is not None
    assert read.sip.password
    assert not read.sip.password.readable
    with pytest.raises(ConfigError) as caught:
        read.sip.password.reveal()
    assert caught.value.message.code == "sip_line.password_unreadable"
    assert "enter the password again" in str(caught.value)
    assert SECRET not in repr(read)

    renamed = accounts.update_line(
        elsewhere, account.id, line.id, sip_line("Renamed", replace(TRUNK, password=Password()))
    )
    assert renamed.name == "Renamed"
    assert stored_row(svc, line.id)["sip_password"] == sealed  # kept as it was

    entered = accounts.update_line(
        elsewhere, account.id, line.id, sip_line(sip=replace(TRUNK, password=Password("again")))
    )
    assert entered.sip is not None
    assert entered.sip.password.reveal() == "again"
    assert sandbox.sip is None
