"""Prometheus metrics: the process's instruments, the worker's hooks, and the scrape.

Every `Services` has its own `Metrics`, on a registry of its own: nothing is registered at
import, so tests may build any number of apps and workers. What a process did (attempts, pages,
line seconds, lag, recoveries, record retries) is counted in that process, for its own
`/metrics` (the server's; a `faxcast worker --metrics-port`'s): sum them over processes. The
system's state (calls in progress, queue depth) is read from the database at scrape time, by
the server's `/metrics` only, so that no sum counts it twice. prometheus_client's multiprocess
mode is not needed: each process is scraped on its own port.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from sqlalchemy.exc import SQLAlchemyError

from faxcast.domain.models import Claim
from faxcast.domain.outcome import FailureClass
from faxcast.domain.recipient import RecipientState
from faxcast.store import monitoring

if TYPE_CHECKING:
    from faxcast.services.context import Services
    from faxcast.services.outcomes import Finished

log = logging.getLogger(__name__)

# From a prompt retry to a first call at the end of a long campaign (3 h, the kill time).
LAG_BUCKETS_S: Final = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 10800)
_OUTCOMES: Final = {
    RecipientState.DELIVERED: "delivered",
    RecipientState.PENDING: "retry",
    RecipientState.FAILED: "failed",
}


class Metrics:
    """One process's instruments, on their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.attempts = Counter(
            "faxcast_attempts",
            "Calls placed and recorded, by what came next for the recipient and failure class.",
            ["outcome", "failure"],
            registry=self.registry,
        )
        self.pages_sent = Counter(
            "faxcast_pages_sent", "Pages the far ends confirmed.", registry=self.registry
        )
        self.line_seconds = Counter(
            "faxcast_line_seconds",
            "Seconds fax sessions held a line (line time, not wall clock).",
            registry=self.registry,
        )
        self.claims_recovered = Counter(
            "faxcast_claims_recovered",
            "Claims of stopped workers or expired leases closed as interrupted attempts.",
            registry=self.registry,
        )
        self.record_retries = Counter(
            "faxcast_record_retries",
            "Writes of call results that failed and are tried again.",
            registry=self.registry,
        )
        self.dispatch_lag = Histogram(
            "faxcast_dispatch_lag_seconds",
            "How late due recipients were claimed: claim time minus due time (a retry's due "
            "time, or a first call's campaign start).",
            ["kind"],
            buckets=LAG_BUCKETS_S,
            registry=self.registry,
        )

    def recovered(self, claims: int) -> None:
        """Count claims recovery closes as interrupted (as it writes them, before its commit)."""
        self.claims_recovered.inc(claims)

    def record_retried(self) -> None:
        """Count a failed write of a call's result that will be tried again."""
        self.record_retries.inc()


def claimed(svc: Services, claims: Sequence[Claim]) -> None:
    """Observe how late the claimed recipients were: a retry from its due time, a first call
    from its campaign's start."""
    for claim in claims:
        due_at = claim.due_at or claim.campaign_started_at
        if due_at is not None:
            lag = (claim.claimed_at - due_at).total_seconds()
            kind = "retry" if claim.due_at is not None else "first_call"
            svc.metrics.dispatch_lag.labels(kind=kind).observe(max(0.0, lag))


def recorded(svc: Services, calls: Sequence[Finished], states: Sequence[RecipientState]) -> None:
    """Count a recorded batch: attempts by outcome and failure class, pages and line time."""
    metrics = svc.metrics
    for call, state in zip(calls, states, strict=True):
        result, fax = call.result, call.result.fax
        # As outcomes records it: a failed call without a class is a failed transfer.
        failure = (
            "none" if result.delivered else (result.failure or FailureClass.TRANSFER_FAILED).value
        )
        metrics.attempts.labels(outcome=_OUTCOMES[state], failure=failure).inc()
        if fax is not None:
            # A retry sends from the first unconfirmed page; fax counts from the document's.
            metrics.pages_sent.inc(max(0, fax.pages_confirmed - call.claim.history.pages_confirmed))
            metrics.line_seconds.inc(fax.duration_s)


def exposition(svc: Services, accept: str | None) -> tuple[bytes, str]:
    """The process's metrics and the system's state, in the format `accept` asks for."""
    encode, content_type = choose_encoder(accept or "")
    return encode(_Scrape(svc)), content_type


class _Scrape:
    """A collector for one scrape: the registry's samples, then the database's counts."""

    def __init__(self, svc: Services) -> None:
        self._svc = svc

    def collect(self) -> Iterable[Metric]:
        """Yield the process's metrics, then calls in progress and queue depth."""
        svc = self._svc
        yield from svc.metrics.registry.collect()
        try:
            with svc.transaction() as conn:
                now = svc.clock.now()
                lines = monitoring.calls_by_line(conn, now=now)
                depth = monitoring.queue_depth(conn, now=now)
        except SQLAlchemyError as error:
            # The process's counters are still worth a scrape; /readyz says the database is down.
            log.warning("/metrics: the database did not answer: %s", error)
            return
        calls = GaugeMetricFamily(
            "faxcast_calls_in_progress",
            "Calls in progress on each line, across every worker, with the held ones: calls "
            "recovered from a worker that stopped answering, which may still be placing them "
            "(they keep their channel until their result or their longest end).",
            labels=["account", "line"],
        )
        channels = GaugeMetricFamily(
            "faxcast_line_channels", "Each line's channel limit.", labels=["account", "line"]
        )
        for line in lines:
            labels = [str(line.account_id), str(line.line_id)]
            calls.add_metric(labels, line.calls)
            channels.add_metric(labels, line.channels)
        queue = GaugeMetricFamily(
            "faxcast_queue_depth",
            "Pending recipients: due now and waiting for a retry (running campaigns), and in "
            "scheduled campaigns.",
            labels=["queue"],
        )
        queue.add_metric(["due"], depth.due)
        queue.add_metric(["retry_wait"], depth.retry_wait)
        queue.add_metric(["scheduled"], depth.scheduled)
        yield from (calls, channels, queue)
