"""The queue's named SQL: both databases say the same things, each thing said once and used."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from faxcast.store import sql

SRC = Path(sql.__file__).parents[2]  # src/faxcast
SQL_DIR = Path(sql.__file__).parent


def test_both_dialects_define_the_same_queries() -> None:
    shared = sql.names_in("queue.sql")
    own = {dialect: sql.names_in(f"queue.{dialect}.sql") for dialect in sql.DIALECTS}

    assert own["sqlite"] == own["postgresql"]
    assert {"lock_line", "first_calls", "abandoned_claims"} <= own["sqlite"]
    # A statement is either shared or each dialect's own, never both.
    assert shared.isdisjoint(own["sqlite"])
    assert set(sql.queries("postgresql")) == set(sql.queries("sqlite")) == shared | own["sqlite"]


@pytest.mark.parametrize("file_name", ["queue.sql", "queue.sqlite.sql", "queue.postgresql.sql"])
def test_every_query_says_what_it_does(file_name: str) -> None:
    text = (SQL_DIR / file_name).read_text()
    blocks = re.split(r"^-- ([a-z_]+) --$", text, flags=re.MULTILINE)[1:]

    undocumented = [
        name
        for name, body in zip(blocks[::2], blocks[1::2], strict=True)
        if not body.lstrip("\n").startswith("-- ")
    ]
    assert undocumented == []


def test_every_query_is_used_and_no_queue_sql_is_built_elsewhere() -> None:
    python = {path: path.read_text() for path in SRC.rglob("*.py")}
    unused = [
        name
        for name in sql.queries("sqlite")
        if not any(f'"{name}"' in source for source in python.values())
    ]

    assert unused == []
    # Locking recipients for a claim or a lease happens in the named queries only.
    built = [path.name for path, source in python.items() if "skip_locked" in source]
    assert built == []


def test_only_locking_differs_between_the_dialects() -> None:
    sqlite, postgresql = sql.queries("sqlite"), sql.queries("postgresql")

    def unlocked(statement: str) -> str:
        return re.sub(r"\s*FOR UPDATE( OF \w+)?( SKIP LOCKED)?", "", statement)

    assert {name: unlocked(text) for name, text in postgresql.items()} == sqlite


# The dialects alone: an engine connects only when used.
_PG = create_engine("postgresql+psycopg://").dialect
_SQLITE = create_engine("sqlite://").dialect


def test_postgresql_gets_a_list_as_one_array_so_its_text_never_changes() -> None:
    # The server plans a prepared text once per session; an IN list of each length is a new
    # text. SQLite has no arrays: its lists are expanded.
    for name in ("claim_recipients", "claimed", "lock_holders", "attempts_on_record"):
        pg = sql.statement("postgresql", name).compile(dialect=_PG).string
        lite = sql.statement("sqlite", name).compile(dialect=_SQLITE).string
        assert "id = ANY(%(ids)s::INTEGER[])" in pg
        assert " IN " not in pg
        assert "IN (__[POSTCOMPILE_ids])" in lite
    abandoned = sql.statement("postgresql", "abandoned_claims").compile(dialect=_PG)
    assert "worker_id = ANY(%(gone_ids)s::VARCHAR[])" in abandoned.string
