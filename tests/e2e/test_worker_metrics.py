"""A `faxcast worker --metrics-port` serves its own counters; the server's /metrics the queue.

Real processes on one SQLite data folder, on 127.0.0.1: `serve --no-worker` for the API and
a worker alone, which places the calls.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests import pdfs
from tests.e2e.processes import (
    HOST,
    Server,
    background,
    faxcast_env,
    free_port,
    log_tail,
    stop_process,
    wait_until,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    """Every sample at `url`, by name and sorted labels (parsed by prometheus_client)."""
    response = httpx.get(url, timeout=10.0)
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def scrape_when_up(url: str) -> Samples | None:
    """The samples at `url`, or None while nothing listens there yet."""
    try:
        return scrape(url)
    except httpx.TransportError:
        return None


def test_a_worker_alone_serves_its_metrics(tmp_path: Path) -> None:
    env = faxcast_env(tmp_path / "data", worker_poll_s=0.1)
    port, metrics_port = free_port(), free_port()
    delivered = ("faxcast_attempts_total", (("failure", "none"), ("outcome", "delivered")))
    server_log, worker_log = tmp_path / "serve.log", tmp_path / "worker.log"
    serving = ("serve", "--no-worker", "--port", str(port))
    with background(*serving, env=env, cwd=tmp_path, log=server_log) as process:
        server = Server(process, port, server_log, env)
        try:
            server.wait_ready()
            account, line = server.default_line()
            pdf = server.upload(account, "a.pdf", pdfs.text_pdf(), "application/pdf")
            campaign = server.create_manual(
                account, line, name="Relance", document=pdf["id"], numbers="01 23 45 67 01",
                quality="normal",
            )  # fmt: skip
            server.launch(account, line, campaign["id"])
            working = ("worker", "--metrics-port", str(metrics_port))
            with background(*working, env=env, cwd=tmp_path, log=worker_log) as worker:
                detail = server.wait_finished(account, line, campaign["id"], timeout=60)
                assert detail["campaign"]["outcome"] == "success"
                worker_samples = wait_until(
                    lambda: scrape_when_up(f"http://{HOST}:{metrics_port}/metrics"),
                    timeout=10,
                    what="the worker's metrics",
                    alive=worker,
                    log=worker_log,
                )
                assert stop_process(worker, signal.SIGTERM) == 0, log_tail(worker_log)
            server_samples = scrape(f"http://{HOST}:{port}/metrics")
        finally:
            server.close()

    assert worker_samples[delivered] == 1
    assert worker_samples[("faxcast_pages_sent_total", ())] == 1
    # The system's state is the server's to say, once: not in a worker's exposition.
    assert not [name for name, _ in worker_samples if name.startswith("faxcast_queue_depth")]
    assert server_samples.get(delivered, 0) == 0  # the server placed no call
    assert server_samples[("faxcast_queue_depth", (("queue", "due"),))] == 0
    assert (
        server_samples[
            ("faxcast_calls_in_progress", (("account", str(account)), ("line", str(line))))
        ]
        == 0
    )
