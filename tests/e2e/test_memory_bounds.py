"""The server's memory stays bounded (issue 13): a real `faxcast serve`, its RSS watched.

While a request runs, the server's resident memory is sampled; past the stated figure the
server is killed at once, so a regression fails fast instead of taking the machine's memory.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import httpx
import pytest

from tests import pdfs
from tests.e2e.processes import (
    HOST,
    Server,
    faxcast_env,
    run_faxcast,
    serve,
    stop_process,
)
from tests.integration.test_pdf_limits import bomb_pdf

MB: Final = 1024 * 1024
SERVER_RSS_MB: Final = 256
"""The most the server process may hold while it refuses a 16 MB list or a PDF bomb."""
REQUEST_TIMEOUT_S: Final = 120.0
_SAMPLE_S: Final = 0.02


def rss_mb(pid: int) -> float:
    """A process's resident memory now (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def watched(server: Server, method: str, path: str, **kwargs: Any) -> tuple[httpx.Response, float]:
    """The response to one request and the server's largest RSS while it ran; the server is
    killed if it passes SERVER_RSS_MB."""
    answer: list[httpx.Response | BaseException] = []

    def call() -> None:
        try:
            answer.append(server.http.request(method, path, timeout=REQUEST_TIMEOUT_S, **kwargs))
        except BaseException as error:  # handed to the test's thread
            answer.append(error)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    deadline = time.monotonic() + REQUEST_TIMEOUT_S
    peak = 0.0
    while caller.is_alive() and time.monotonic() < deadline:
        peak = max(peak, rss_mb(server.pid))
        if peak > SERVER_RSS_MB:
            stop_process(server.process)
            pytest.fail(f"{method} {path}: the server passed {SERVER_RSS_MB} MB ({peak:.0f} MB)")
        time.sleep(_SAMPLE_S)
    caller.join(5.0)
    assert answer, f"{method} {path}: no answer in {REQUEST_TIMEOUT_S} s"
    if isinstance(answer[0], BaseException):
        raise answer[0]
    return answer[0], peak


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A `faxcast serve` on SQLite with its default limits."""
    with serve(faxcast_env(tmp_path / "data"), cwd=tmp_path, log=tmp_path / "serve.log") as up:
        yield up


@pytest.mark.slow
def test_a_16_mb_invalid_list_is_refused_in_bounded_memory(server: Server) -> None:
    account, line = server.default_line()
    bad = "x," * (8 * MB)  # 8 million bad entries, 16 MB

    refused, peak = watched(
        server,
        "POST",
        server.campaigns_path(account, line),
        json={
            "name": "Huge",
            "sendType": "manual",
            "recipientsType": "list",
            "recipientsList": bad,
        },
    )

    assert refused.status_code == 422, refused.text[:500]
    problem = refused.json()
    numbers = [e for e in problem["errors"] if e["field"] == "recipientsList"]
    assert len(numbers) == 100
    assert problem["errorsTotal"] == 8 * MB + 1  # and the missing document
    assert len(refused.content) < 64 * 1024
    assert peak < SERVER_RSS_MB


@pytest.mark.slow
def test_a_pdf_bomb_is_refused_and_the_server_stays_small(server: Server) -> None:
    account, line = server.default_line()
    document = server.upload(account, "bomb.pdf", bomb_pdf(), "application/pdf")

    refused, peak = watched(
        server,
        "POST",
        server.campaigns_path(account, line),
        json={
            "name": "Bomb",
            "documentId": document["id"],
            "sendType": "manual",
            "recipientsType": "list",
            "recipientsList": "+33123456789",
        },
    )

    assert refused.status_code == 422, refused.text[:500]
    assert refused.json()["errors"][0]["code"] == "too_complex"
    assert peak < SERVER_RSS_MB
    assert server.json("GET", "/telephony")  # still serving


def test_a_200_mb_upload_is_refused_from_its_headers_alone(server: Server) -> None:
    server.default_line()
    head = (
        "POST /me/document HTTP/1.1\r\n"
        f"Host: {HOST}\r\n"
        f"Authorization: {server.http.headers['authorization']}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {200 * MB}\r\n"
        "Accept-Language: fr\r\n\r\n"
    )
    with socket.create_connection((HOST, server.port), timeout=10.0) as sock:
        sock.sendall(head.encode())  # and not a byte of the body
        answer = b""
        while b"\r\n\r\n" not in answer and len(answer) < 64 * 1024:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413 ")
    assert b"content-type: application/problem+json" in rest.lower()
    assert server.json("GET", "/me/document") == []


def test_the_command_line_names_the_first_bad_numbers_and_counts_the_rest(tmp_path: Path) -> None:
    (tmp_path / "letter.pdf").write_bytes(pdfs.text_pdf(1))
    (tmp_path / "bad.txt").write_text("\n".join(f"12x{n}" for n in range(1_000)))

    refused = run_faxcast(
        "campaign", "create", "--line", "1", "--name", "N", "--pdf", "letter.pdf",
        "--recipients", "bad.txt",
        env=faxcast_env(tmp_path / "data"), cwd=tmp_path,
    )  # fmt: skip

    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.startswith("faxcast: error: 1000 invalid numbers: line 1, column 1:")
    assert refused.stderr.rstrip().endswith("and 990 more")
    assert len(refused.stderr) < 2_000
