"""Concepts declared once: what other layers derive from them must keep matching them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from faxcast.api import schemas
from faxcast.domain.campaign import Campaign
from faxcast.domain.models import Attempt, CampaignSort
from faxcast.domain.outcome import FailureClass
from faxcast.store.tables import attempts, campaigns


def test_every_sort_key_is_a_campaign_field_and_a_column() -> None:
    fields = {f.name for f in dataclasses.fields(Campaign)}

    for key in CampaignSort:
        assert key.field in fields
        assert key.field in campaigns.c


def test_an_attempt_is_stored_in_a_column_per_field_of_the_read_model() -> None:
    fields = {f.name for f in dataclasses.fields(Attempt)}
    # The claim a call was placed under keys its attempt (one per call), as its recipient does.
    placing_keys = {"recipient_id", "campaign_id", "claimed_at"}

    assert fields == {c.name for c in attempts.c} - placing_keys


def test_the_api_shows_an_attempt_with_exactly_the_read_models_fields() -> None:
    fields = {f.name for f in dataclasses.fields(Attempt)}
    # The API leaves out the number (its recipient's), shows the line time as duration_s (a
    # property of the read model) and what was received as a URL instead of a blob's hash.
    left_out = {"number", "line_s", "received_sha256"}
    added = {"duration_s", "received"}

    assert set(schemas.Attempt.model_fields) == (fields - left_out) | added


def test_an_attempt_schema_takes_every_field_from_the_read_model() -> None:
    attempt = Attempt(
        id=7,
        number="+33123456789",
        started_at=datetime(2030, 1, 15, 9, 0, tzinfo=UTC),
        answered_at=datetime(2030, 1, 15, 9, 0, 5, tzinfo=UTC),
        ended_at=datetime(2030, 1, 15, 9, 1, 5, tzinfo=UTC),
        line_s=42.5,
        delivered=False,
        failure=FailureClass.TRANSFER_FAILED,
        reason="call dropped",
        sip_status=200,
        t30_code=49,
        t30_text="Call dropped",
        pages_confirmed=1,
        pages_total=3,
        bit_rate=9600,
        ecm=True,
        resolution="fine",
        t38=False,
        remote_ident="+33 1 23 45 67 89",
        received_sha256="ab" * 32,
    )

    shown = schemas.Attempt.of(attempt, received="http://faxcast.test/received.tif")

    for name in schemas.Attempt.model_fields.keys() - {"received"}:
        assert getattr(shown, name) == getattr(attempt, name), name
    assert shown.duration_s == 42.5
    assert shown.received == "http://faxcast.test/received.tif"
