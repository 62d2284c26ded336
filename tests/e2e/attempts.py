"""What the attempts of a campaign must show, read from the API: one call per number at a time,
never more calls at once than the line's channels."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime

from tests.e2e.processes import Json


def moment(text: str) -> datetime:
    """An API time (ISO 8601 with its offset)."""
    return datetime.fromisoformat(text)


def check_one_call_at_a_time(attempts: list[Json], *, channels: int) -> None:
    """No number in two calls at once; never more calls at once than the line's channels."""
    by_number: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for a in attempts:
        by_number[a["number"]].append((moment(a["startedAt"]), moment(a["endedAt"])))
    for number, spans in by_number.items():
        for (_, ended), (started, _) in itertools.pairwise(sorted(spans)):
            assert started >= ended, f"{number} was in two calls at once: {sorted(spans)}"
    events = sorted(
        [(moment(a["startedAt"]), 1) for a in attempts]
        + [(moment(a["endedAt"]), -1) for a in attempts]
    )
    at_once = most = 0
    for _, step in events:  # at the same instant an end (-1) sorts before a start
        at_once += step
        most = max(most, at_once)
    assert most <= channels
