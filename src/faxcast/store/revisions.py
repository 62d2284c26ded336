"""Which schema revision a database is at and which one faxcast ships, without loading Alembic.

Every command checks the schema; Alembic (a third of a second to import) is loaded only when
there is a migration to run (store/migrate.py).
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import Final

from sqlalchemy import Engine, inspect, text

MIGRATIONS_DIR: Final = Path(__file__).parent / "migrations"
VERSION_TABLE: Final = "alembic_version"
"""Alembic's own table, one row: the revision the schema is at."""
_SCRIPT_CONSTANT: Final = re.compile(
    r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE
)


@functools.cache
def head_revision() -> str:
    """The newest revision this version of faxcast ships: the one no other revision follows."""
    revisions: set[str] = set()
    followed: set[str] = set()
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        names = _constants(path)
        revisions.add(str(names["revision"]))
        down = names.get("down_revision")
        # A merge revision follows several.
        followed.update(
            [down] if isinstance(down, str) else down if isinstance(down, tuple) else []
        )
    heads = revisions - followed
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads, not one: {sorted(heads)}")
    return heads.pop()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None before the first migration."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(rows) > 1:
        raise RuntimeError(f"the database is at several revisions: {sorted(rows)}")
    return rows[0] if rows else None


def at_head(engine: Engine) -> bool:
    """Whether the database's schema is the newest this version of faxcast ships."""
    return current_revision(engine) == head_revision()


def _constants(path: Path) -> dict[str, object]:
    """A migration script's revision and down_revision, read without running or parsing it
    whole (script.py.mako writes each on a line of its own, as a literal)."""
    text = path.read_text(encoding="utf-8")
    return {name: ast.literal_eval(value) for name, value in _SCRIPT_CONSTANT.findall(text)}
