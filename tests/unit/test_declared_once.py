"""Concepts declared once: what other layers derive from them must keep matching them."""

from __future__ import annotations

import dataclasses

from faxcast.domain.models import Campaign, CampaignSort
from faxcast.store.tables import campaigns


def test_every_sort_key_is_a_campaign_field_and_a_column() -> None:
    fields = {f.name for f in dataclasses.fields(Campaign)}

    for key in CampaignSort:
        assert key.field in fields
        assert key.field in campaigns.c
