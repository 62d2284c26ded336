"""The queue's SQL by name, in procrastinate's `-- name --` blocks.

A block is a `-- name --` line, comment lines saying what the statement does, then the
statement. `queue.sql` holds what both databases run alike; `queue.<dialect>.sql` the
statements that differ (only in how they lock rows), under the same names in both.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

from sqlalchemy import ARRAY, Integer, String, TextClause, bindparam, text
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import TextualSelect

from faxcast.store.tables import UtcDateTime

DIALECTS = ("sqlite", "postgresql")
_HEADER = re.compile(r"^-- ([a-z_]+) --$", re.MULTILINE)
# Bound parameters and result columns named like this are times, stored as aware UTC.
_TIME = re.compile(r"(_at|_until|^now|^dead_before)$")
_PARAM = re.compile(r"(?<!:):([a-z_]+)")
# Lists bound as IN (...), typed: an empty list still needs its element type on PostgreSQL.
_LIST_PARAMS: Mapping[str, Integer | String] = {"ids": Integer(), "gone_ids": String()}
_TIME_COLUMNS = (
    *("due_at", "first_dial_at", "claimed_at", "lease_expires_at", "held_until"),
    *("settled_at", "send_at", "created_at", "started_at", "finished_at"),
    *("heartbeat_at", "answered_at", "ended_at"),
)
# Statements over a table that grows from empty as calls end (attempts): PostgreSQL plans them at
# each run, not once per session. A plan kept from when the table held a few pages reads all of
# it at every batch (seen: 3 ms a batch at 10 000 attempts), until an ANALYZE replaces it.
_PLANNED_EACH_RUN = frozenset({"attempts_on_record"})
PLAN_EACH_RUN = "faxcast_plan_each_run"
"""The execution option that asks the engine not to prepare a statement (store/database.py)."""
_IN_LIST = re.compile(rf"\bIN :({'|'.join(_LIST_PARAMS)})\b")
_ROWS = re.compile(r"^\s*SELECT\b|\bRETURNING\b", re.IGNORECASE)


def queries(dialect: str) -> Mapping[str, str]:
    """Every statement the dialect runs, by name, as SQL text without its comments."""
    return _read(dialect)


def names_in(file_name: str) -> frozenset[str]:
    """The names one of the files defines (`queue.sql`, `queue.<dialect>.sql`)."""
    return frozenset(_blocks(file_name))


@functools.cache
def _read(dialect: str) -> dict[str, str]:
    return _blocks("queue.sql") | _blocks(f"queue.{dialect}.sql")


def _blocks(file_name: str) -> dict[str, str]:
    source = resources.files(__package__).joinpath(file_name).read_text("utf-8")
    # split() gives [preamble, name1, body1, name2, body2, ...]
    parts = _HEADER.split(source)
    blocks = zip(parts[1::2], parts[2::2], strict=True)
    # The comments stay in the file: a `:name` in one would be bound like a parameter.
    return {name: _code(body).strip().rstrip(";") for name, body in blocks}


def _code(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))


@functools.cache
def statement(dialect: str, name: str) -> TextClause | TextualSelect:
    """The named statement, built once, with its time parameters and result columns typed.

    On PostgreSQL a list goes as one array (`= ANY`), not expanded into `IN (...)`: the text
    then stays the same whatever the list's length, and the server plans it once per session.
    """
    sql = _read(dialect)[name]
    if dialect == "postgresql":
        sql = _IN_LIST.sub(r"= ANY(:\1)", sql)
    params = [
        bindparam(param, type_=UtcDateTime())
        if _TIME.search(param)
        else _list_param(dialect, param)
        if param in _LIST_PARAMS
        else bindparam(param)
        for param in dict.fromkeys(_PARAM.findall(sql))
    ]
    clause = text(sql).bindparams(*params)
    built = (
        clause.columns(**{column: UtcDateTime() for column in _TIME_COLUMNS})
        if _ROWS.search(sql)
        else clause
    )
    if name in _PLANNED_EACH_RUN:
        return built.execution_options(**{PLAN_EACH_RUN: True})
    return built


def _list_param(dialect: str, param: str) -> BindParameter[Any]:
    element = _LIST_PARAMS[param]
    if dialect == "postgresql":
        return bindparam(param, type_=ARRAY(element))
    return bindparam(param, expanding=True, type_=element)
