"""Alembic head matches tables.py; migrations go up, down and up again; on both databases."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, func, insert, inspect, select

from faxcast.store.database import create_engine_for, database_url_for
from faxcast.store.migrate import downgrade, include_object, upgrade
from faxcast.store.revisions import MIGRATIONS_DIR, at_head, current_revision, head_revision
from faxcast.store.tables import accounts, campaigns, lines, metadata

_UPGRADE_AT = """
import sys, time
from faxcast.store.database import create_engine_for
from faxcast.store.migrate import upgrade
engine = create_engine_for(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
upgrade(engine)
"""


@pytest.fixture
def empty_engine(empty_database_url: str) -> Iterator[Engine]:
    """An engine on a database with no tables yet, on SQLite and on PostgreSQL."""
    engine = create_engine_for(empty_database_url)
    yield engine
    engine.dispose()


def _differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": include_object(conn.dialect.name),
            },
        )
        return list(compare_metadata(context, metadata))


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def test_head_is_the_line_quality_and_tries_revision() -> None:
    assert head_revision() == "0015"
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()


def test_the_head_read_from_the_scripts_is_alembics() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_the_revision_read_from_the_database_is_alembics(empty_engine: Engine) -> None:
    assert current_revision(empty_engine) is None
    assert not at_head(empty_engine)
    for revision in ("0001", "0007", head_revision()):
        upgrade(empty_engine, revision)
        with empty_engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == revision
        assert current_revision(empty_engine) == revision
        assert at_head(empty_engine) is (revision == head_revision())


def test_upgrade_to_head_matches_the_metadata(empty_engine: Engine) -> None:
    assert current_revision(empty_engine) is None
    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision()
    assert _tables(empty_engine) == set(metadata.tables) | {"alembic_version"}
    assert _differences(empty_engine) == []


def test_the_one_call_per_number_index_stays_partial(empty_engine: Engine) -> None:
    # compare_metadata does not look at an index's WHERE clause.
    upgrade(empty_engine)
    with empty_engine.connect() as conn:
        indexes = {index["name"]: index for index in inspect(conn).get_indexes("recipients")}
    index = indexes["uq_recipients_number_in_call"]
    where = index.get("dialect_options", {}).get(f"{empty_engine.dialect.name}_where")
    assert index["unique"]
    assert index["column_names"] == ["number"]
    assert "in_call" in str(where)


# The indexes only rows in a call or held need, and the rows each one covers.
_PARTIAL_INDEXES = {
    "ix_recipients_lease_expires_at": (["lease_expires_at"], "in_call"),
    "ix_recipients_line_id": (["line_id"], "in_call"),
    "ix_recipients_held_until_line_id": (["held_until", "line_id"], "held_until IS NOT NULL"),
}


def _partial_indexes(engine: Engine) -> dict[str, tuple[list[str | None], str]]:
    with engine.connect() as conn:
        return {
            str(index["name"]): (
                index["column_names"],
                str(index.get("dialect_options", {}).get(f"{engine.dialect.name}_where")),
            )
            for index in inspect(conn).get_indexes("recipients")
        }


def test_the_in_call_and_held_indexes_stay_partial(empty_engine: Engine) -> None:
    # A new list's pending rows get no entry in them: storing 100 000 recipients writes less.
    upgrade(empty_engine)
    indexes = _partial_indexes(empty_engine)
    for name, (columns, where) in _PARTIAL_INDEXES.items():
        assert indexes[name][0] == columns
        assert where in indexes[name][1], name


def _recipient_indexes(engine: Engine) -> dict[str, list[str | None]]:
    with engine.connect() as conn:
        return {
            str(index["name"]): index["column_names"]
            for index in inspect(conn).get_indexes("recipients")
        }


def _recipient_columns(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {column["name"] for column in inspect(conn).get_columns("recipients")}


def test_0002_widens_the_campaign_index_into_the_claim_order_and_back(
    empty_engine: Engine,
) -> None:
    upgrade(empty_engine, "0001")
    assert _recipient_indexes(empty_engine)["ix_recipients_campaign_id_state"] == [
        "campaign_id",
        "state",
    ]
    upgrade(empty_engine, "0002")
    indexes = _recipient_indexes(empty_engine)
    assert "ix_recipients_campaign_id_state" not in indexes
    assert indexes["ix_recipients_campaign_id_state_due_at_id"] == [
        "campaign_id",
        "state",
        "due_at",
        "id",
    ]
    downgrade(empty_engine, "0001")
    indexes = _recipient_indexes(empty_engine)
    assert "ix_recipients_campaign_id_state_due_at_id" not in indexes
    assert "ix_recipients_campaign_id_state" in indexes


def test_0003_indexes_each_campaigns_list_positions_and_back(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0002")
    assert "ix_recipients_campaign_id_position" not in _recipient_indexes(empty_engine)
    upgrade(empty_engine, "0003")
    assert _recipient_indexes(empty_engine)["ix_recipients_campaign_id_position"] == [
        "campaign_id",
        "position",
    ]
    downgrade(empty_engine, "0002")
    assert "ix_recipients_campaign_id_position" not in _recipient_indexes(empty_engine)


def test_0004_adds_recipient_holds_and_their_index_and_back(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0003")
    assert "held_until" not in _recipient_columns(empty_engine)
    upgrade(empty_engine, "0004")
    assert "held_until" in _recipient_columns(empty_engine)
    assert _recipient_indexes(empty_engine)["ix_recipients_held_until_line_id"] == [
        "held_until",
        "line_id",
    ]
    downgrade(empty_engine, "0003")
    assert "held_until" not in _recipient_columns(empty_engine)
    assert "ix_recipients_held_until_line_id" not in _recipient_indexes(empty_engine)
    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision()


def test_0005_adds_the_time_retries_waited_and_back(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0004")
    assert "waited_s" not in _recipient_columns(empty_engine)
    upgrade(empty_engine, "0005")
    assert "waited_s" in _recipient_columns(empty_engine)
    downgrade(empty_engine, "0004")
    assert "waited_s" not in _recipient_columns(empty_engine)


def _attempt_indexes(engine: Engine) -> dict[str, tuple[list[str | None], bool]]:
    with engine.connect() as conn:
        return {
            str(index["name"]): (index["column_names"], bool(index["unique"]))
            for index in inspect(conn).get_indexes("attempts")
        }


def test_0006_keys_each_attempt_by_its_claim_once_and_back(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0005")
    assert _attempt_indexes(empty_engine)["ix_attempts_recipient_id"] == (["recipient_id"], False)
    upgrade(empty_engine, "0006")
    indexes = _attempt_indexes(empty_engine)
    assert "ix_attempts_recipient_id" not in indexes
    assert indexes["ix_attempts_recipient_id_claimed_at"] == (["recipient_id", "claimed_at"], True)
    downgrade(empty_engine, "0005")
    indexes = _attempt_indexes(empty_engine)
    assert "ix_attempts_recipient_id_claimed_at" not in indexes
    assert indexes["ix_attempts_recipient_id"] == (["recipient_id"], False)
    with empty_engine.connect() as conn:
        assert "claimed_at" not in {c["name"] for c in inspect(conn).get_columns("attempts")}


def _recipient_foreign_keys(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {str(key["referred_table"]) for key in inspect(conn).get_foreign_keys("recipients")}


def test_0008_makes_the_in_call_and_held_indexes_partial_and_back(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0007")
    assert _recipient_foreign_keys(empty_engine) == {"campaigns", "lines"}
    upgrade(empty_engine, "0008")
    assert _recipient_foreign_keys(empty_engine) == {"campaigns"}
    indexes = _partial_indexes(empty_engine)
    assert "ix_recipients_state_due_at" not in indexes
    assert "ix_recipients_line_id_state" not in indexes
    # The other indexes and the one call per number survive SQLite's table rebuild.
    assert "in_call" in indexes["uq_recipients_number_in_call"][1]
    assert indexes["ix_recipients_campaign_id_state_due_at_id"][0] == [
        "campaign_id",
        "state",
        "due_at",
        "id",
    ]
    downgrade(empty_engine, "0007")
    assert _recipient_foreign_keys(empty_engine) == {"campaigns", "lines"}
    indexes = _partial_indexes(empty_engine)
    assert indexes["ix_recipients_state_due_at"][0] == ["state", "due_at"]
    assert indexes["ix_recipients_line_id_state"][0] == ["line_id", "state"]
    assert indexes["ix_recipients_held_until_line_id"] == (["held_until", "line_id"], "None")
    assert "ix_recipients_line_id" not in indexes
    assert "ix_recipients_lease_expires_at" not in indexes
    upgrade(empty_engine)
    assert _differences(empty_engine) == []


# The tables whose ids users see; compare_metadata does not look at AUTOINCREMENT.
_NEVER_REUSED = {
    name for name, table in metadata.tables.items() if table.kwargs.get("sqlite_autoincrement")
}


def _autoincrement_tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
        return {name for name, sql in rows if "AUTOINCREMENT" in sql}


def test_the_tables_users_see_ids_of_are_autoincrement() -> None:
    assert {
        "accounts",
        "users",
        "api_tokens",
        "audit_events",
        "lines",
        "documents",
        "campaigns",
        "attempts",
    } <= _NEVER_REUSED


def _account(conn: Connection, account_id: int | None = None) -> int:
    values: dict[str, Any] = {"name": "Acme", "timezone": "Europe/Paris", "created_at": _AT}
    if account_id is not None:
        values["id"] = account_id
    return int(conn.execute(insert(accounts).values(values).returning(accounts.c.id)).scalar_one())


_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_0011_keeps_rows_and_never_gives_a_deleted_id_again(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0010")
    with empty_engine.begin() as conn:
        kept, newest = _account(conn, 3), _account(conn, 7)
    upgrade(empty_engine, "0011")
    if empty_engine.dialect.name == "sqlite":
        assert _autoincrement_tables(empty_engine) == _NEVER_REUSED
    with empty_engine.begin() as conn:
        assert conn.execute(select(accounts.c.id).order_by(accounts.c.id)).scalars().all() == [
            kept,
            newest,
        ]
        conn.execute(accounts.delete().where(accounts.c.id == newest))
    with empty_engine.begin() as conn:
        # PostgreSQL's sequence is where it was (explicit ids do not move it): the test on it is
        # that a deleted newest row's id is not given again below.
        fresh = _account(conn)
        assert fresh != newest
        conn.execute(accounts.delete().where(accounts.c.id == fresh))
    with empty_engine.begin() as conn:
        assert _account(conn) > fresh
        assert conn.execute(select(func.count()).select_from(campaigns)).scalar_one() == 0
    upgrade(empty_engine)  # the later revisions add to what 0011 leaves, nothing more
    assert _differences(empty_engine) == []
    downgrade(empty_engine, "0010")
    if empty_engine.dialect.name == "sqlite":
        assert _autoincrement_tables(empty_engine) == set()
    with empty_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(accounts)).scalar_one() == 2


def test_0012_adds_the_typed_entry_and_takes_it_away_again(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0011")
    with empty_engine.begin() as conn:
        kept = _account(conn, 3)
    upgrade(empty_engine, "0012")
    typed = {c["name"]: c["nullable"] for c in inspect(empty_engine).get_columns("recipients")}.get(
        "typed"
    )
    assert typed is True  # recipients stored before have none
    downgrade(empty_engine, "0011")
    assert "typed" not in {c["name"] for c in inspect(empty_engine).get_columns("recipients")}
    with empty_engine.connect() as conn:
        assert conn.execute(select(accounts.c.id)).scalars().all() == [kept]


def test_0014_adds_the_page_bits_and_takes_them_away_again(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0013")
    upgrade(empty_engine, "0014")
    columns = {c["name"]: c["nullable"] for c in inspect(empty_engine).get_columns("renditions")}
    assert columns.get("page_bits") is True  # renditions stored before get theirs at start
    downgrade(empty_engine, "0013")
    assert "page_bits" not in {c["name"] for c in inspect(empty_engine).get_columns("renditions")}


def test_upgrade_twice_is_a_no_op(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision()


def test_downgrade_to_base_then_upgrade_again(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    downgrade(empty_engine, "base")
    assert current_revision(empty_engine) is None
    assert _tables(empty_engine) == {"alembic_version"}
    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision()
    assert _differences(empty_engine) == []


def test_hosts_upgrading_together_both_succeed(empty_database_url: str) -> None:
    # Separate processes, as on separate hosts; they all start migrating at the same instant.
    start_at = time.time() + 2.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _UPGRADE_AT, empty_database_url, str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outcomes = [(proc.wait(timeout=60), proc.communicate()[1]) for proc in procs]
    assert [code for code, _ in outcomes] == [0, 0, 0], [err for _, err in outcomes]
    engine = create_engine_for(empty_database_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_threads_upgrading_together_both_succeed(empty_engine: Engine) -> None:
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            start.wait()
            upgrade(empty_engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert current_revision(empty_engine) == head_revision()


def test_sqlite_foreign_keys_are_back_on_after_a_migration(tmp_path: Path) -> None:
    engine = create_engine_for(database_url_for(tmp_path))
    try:
        upgrade(engine)
        # The pool hands back the very connection the migration ran on.
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_0013_gives_accounts_made_before_it_french_headers(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0012")
    with empty_engine.begin() as conn:
        made_before = _account(conn)
    upgrade(empty_engine, "0013")
    with empty_engine.begin() as conn:
        language = conn.execute(
            select(accounts.c.language).where(accounts.c.id == made_before)
        ).scalar_one()
    assert language == "fr"
    downgrade(empty_engine, "0012")
    assert "language" not in {c["name"] for c in inspect(empty_engine).get_columns("accounts")}


def test_0015_gives_lines_made_before_it_normal_quality_and_the_policys_tries(
    empty_engine: Engine,
) -> None:
    upgrade(empty_engine, "0014")
    with empty_engine.begin() as conn:
        account = _account(conn)
        conn.exec_driver_sql(
            "INSERT INTO lines (account_id, name, kind, country, ident, header, channel_limit, "
            f"created_at) VALUES ({account}, 'Old', 'sandbox', 'FR', '', '', 4, "
            "'2026-12-01 08:00:00')"
        )
    upgrade(empty_engine, "0015")
    with empty_engine.connect() as conn:
        row = conn.execute(select(lines.c.quality, lines.c.max_calls)).one()
    assert tuple(row) == ("normal", None)
    downgrade(empty_engine, "0014")
    columns = {c["name"] for c in inspect(empty_engine).get_columns("lines")}
    assert not {"quality", "max_calls"} & columns
    with empty_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT name FROM lines").scalars().all() == ["Old"]
