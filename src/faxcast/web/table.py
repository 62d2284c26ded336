"""The campaigns table: its filter, sort and page read from the query string, and its rows.

Also what each campaign's "..." menu offers and whether it changes on its own, which the
details page shows too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from faxcast.domain.campaign import Campaign, CampaignState, Command, allowed_commands
from faxcast.domain.models import CampaignSort, Page
from faxcast.services import campaigns
from faxcast.services.context import Services
from faxcast.web.where import Where

PAGE_SIZE: Final = 20
# States whose campaigns change without the user: the table refreshes often while one is shown.
LIVE: Final = frozenset({CampaignState.SCHEDULED, CampaignState.RUNNING, CampaignState.STOPPING})
# The table's words for the sort keys in its URLs (and its column headers' ids).
_SORTS: Final[Mapping[str, CampaignSort]] = {
    "name": CampaignSort.NAME,
    "reference": CampaignSort.REFERENCE,
    "state": CampaignSort.STATE,
    "outcome": CampaignSort.OUTCOME,
    "schedule": CampaignSort.SEND_AT,
    "created": CampaignSort.CREATED_AT,
}
# Dates (fields named *_at) sort newest first on the first click.
_FIRST_DESCENDING: Final = frozenset(k for k, s in _SORTS.items() if s.field.endswith("_at"))
_ACTIONS: Final[Mapping[Command, str]] = {
    Command.LAUNCH: "launch",
    Command.STOP: "stop",
    Command.DELETE: "delete",
}


def actions(campaign: Campaign) -> frozenset[str]:
    """What the "..." menu offers: the domain decides from the campaign's state."""
    allowed = allowed_commands(campaign.state)
    return frozenset(name for command, name in _ACTIONS.items() if command in allowed)


@dataclass(frozen=True)
class TableQuery:
    """Filter, sort and page of the campaigns table, read leniently from the query string."""

    state: CampaignState | None = None
    sort: str = "created"
    descending: bool = True
    page: int = 1

    @classmethod
    def of(cls, params: Mapping[str, str]) -> TableQuery:
        """Unknown values fall back to the defaults rather than failing."""
        try:
            state = CampaignState(params.get("state", "")) if params.get("state") else None
        except ValueError:
            state = None
        sort = params.get("sort", "created")
        if sort not in _SORTS:
            sort = "created"
        descending = params.get("order", "desc" if sort in _FIRST_DESCENDING else "asc") == "desc"
        page_text = params.get("page", "1")
        page = int(page_text) if page_text.isdigit() and 0 < int(page_text) < 10**6 else 1
        return cls(state, sort, descending, page)

    def params(self, **changes: object) -> str:
        """The query string of this view, with some values changed."""
        values: dict[str, object] = {
            "state": self.state.value if self.state else "",
            "sort": self.sort,
            "order": "desc" if self.descending else "asc",
            "page": self.page,
        }
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})

    def sort_params(self, key: str) -> str:
        """The query string of a click on a column header: same column flips the order."""
        if key == self.sort:
            return self.params(order="asc" if self.descending else "desc", page=1)
        return self.params(sort=key, order="desc" if key in _FIRST_DESCENDING else "asc", page=1)

    def aria_sort(self, key: str) -> str:
        """The header's aria-sort value."""
        if key != self.sort:
            return "none"
        return "descending" if self.descending else "ascending"


def table(svc: Services, where: Where, query: TableQuery) -> dict[str, Any]:
    """What the table template shows: one page of rows, the page count and the query."""

    def fetch(page: int) -> Page[Campaign]:
        return campaigns.list_campaigns(
            svc,
            where.account.id,
            where.line.id,
            states=(query.state,) if query.state else (),
            sort=_SORTS[query.sort],
            descending=query.descending,
            page=page,
            page_size=PAGE_SIZE,
        )

    found = fetch(query.page)
    pages = max(1, math.ceil(found.total / PAGE_SIZE))
    if query.page > pages:
        # A page past the end (the last campaign of the last page was deleted): show the last.
        query = TableQuery(query.state, query.sort, query.descending, pages)
        found = fetch(pages)
    rows = list(found.items)
    return {
        "rows": rows,
        "retries": campaigns.retries_waiting(svc, where.account.id, where.line.id, rows),
        "total": found.total,
        "pages": pages,
        "q": query,
        "live": any(c.state in LIVE for c in rows),
        "actions": actions,
    }
