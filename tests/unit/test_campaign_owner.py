"""One owner of the campaign lifecycle: nothing writes a campaign's state but the save step.

The domain decides each step (`domain.campaign.Campaign`); `store.repository.save_campaign`
writes it through the named query `save_campaign`. This test fails if any other code writes
the state column, in SQL or in SQLAlchemy.
"""

from __future__ import annotations

import re
from pathlib import Path

from faxcast.store import sql

SRC = Path(sql.__file__).parents[2]  # src/faxcast
_SETS_STATE = re.compile(r"\bUPDATE\s+campaigns\b.*?\bSET\b.*?\bstate\s*=", re.IGNORECASE | re.S)


def test_only_save_campaign_writes_a_campaign_state_in_sql() -> None:
    for dialect in sql.DIALECTS:
        writers = [name for name, text in sql.queries(dialect).items() if _SETS_STATE.search(text)]
        assert writers == ["save_campaign"], dialect


def test_no_python_code_updates_campaigns_itself() -> None:
    updates = re.compile(r"update\(\s*campaigns\b|campaigns\.update\(|UPDATE\s+campaigns", re.I)
    found = [
        str(path.relative_to(SRC)) for path in SRC.rglob("*.py") if updates.search(path.read_text())
    ]

    assert found == []


def test_the_save_query_runs_from_the_repository_only() -> None:
    runs = re.compile(r'(statement|run)\([^)]*"save_campaign"')
    callers = sorted(
        str(path.relative_to(SRC)) for path in SRC.rglob("*.py") if runs.search(path.read_text())
    )

    assert callers == ["store/repository/_campaigns.py"]
