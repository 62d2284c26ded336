"""Our user agent against SIP code nobody here wrote: Kamailio (digest proxy) and SIPp, on loopback.

Kamailio challenges with 407 and Record-Routes, so calls, re-INVITEs and BYEs go through its loose
routing. SIPp's built-in `uac` and `uas` scenarios call us and answer us.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from faxcast.sip.dialog import Call, Ending
from faxcast.sip.digest import Credentials
from faxcast.sip.incoming import IncomingCall
from faxcast.sip.register import AuthCheck, probe
from faxcast.sip.sdp import Origin, SessionDescription, answer_audio, answer_t38, t38_stream
from faxcast.sip.ua import CallFailure, UserAgent
from faxcast.sip.uri import SipUri
from tests.integration.test_sip_calls import (
    FAST,
    PCMA_PCMU,
    Callee,
    answering,
    audio_offer,
    run,
    t38_offer,
)

KAMAILIO_MODULES = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")
needs_kamailio = pytest.mark.skipif(
    shutil.which("kamailio") is None or not KAMAILIO_MODULES.is_dir(),
    reason="Debian package kamailio is not installed (scripts/setup installs it)",
)
needs_sipp = pytest.mark.skipif(
    shutil.which("sipp") is None, reason="Debian package sip-tester is not installed"
)
PASSWORD = "s3cret"

KAMAILIO_CONFIG = """#!KAMAILIO
debug=1
log_stderror=yes
children=1
listen=udp:127.0.0.1:{port}
mpath="{modules}/"
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "auth.so"
loadmodule "siputils.so"
loadmodule "textops.so"
request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (has_totag()) {{
        if (loose_route()) {{ t_relay(); exit; }}
        if (is_method("ACK")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
    if (!pv_proxy_authenticate("$fd", "{password}", "0")) {{
        proxy_challenge("$fd", "0");
        exit;
    }}
    consume_credentials();
    if (is_method("OPTIONS|REGISTER")) {{ sl_send_reply("200", "OK"); exit; }}
    record_route();
    t_relay();
}}
"""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return int(probe_socket.getsockname()[1])


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[tuple[str, int]]:
    port = free_udp_port()
    config = tmp_path / "kamailio.cfg"
    config.write_text(
        KAMAILIO_CONFIG.format(port=port, modules=KAMAILIO_MODULES, password=PASSWORD)
    )
    with (tmp_path / "kamailio.log").open("wb") as log:
        process = subprocess.Popen(
            ["kamailio", "-f", str(config), "-DD", "-E", "-Y", str(tmp_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_bound(port, process, tmp_path / "kamailio.log")
        yield "127.0.0.1", port
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def wait_bound(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait (at most 5 s) until the process has bound the UDP port."""
    for _ in range(50):
        if process.poll() is not None:
            raise AssertionError(f"kamailio exited: {log.read_text()[-2000:]}")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
            try:
                taken.bind(("127.0.0.1", port))
            except OSError:
                return
        time.sleep(0.1)
    raise AssertionError("kamailio did not bind its port in 5 s")


@needs_kamailio
def test_a_call_through_kamailio_answers_its_407_follows_its_record_route_and_reinvites(
    kamailio: tuple[str, int],
) -> None:
    async def scenario() -> None:
        callee = Callee()

        async def accept_t38(sdp: SessionDescription) -> SessionDescription | int:
            answered = answer_t38(sdp, Origin("127.0.0.1"), 6002)
            return answered[0] if answered else 488

        caller = await UserAgent.start()
        far = await UserAgent.start(on_invite=answering(callee, on_offer=accept_t38))
        try:
            result = await caller.call(
                SipUri(far.address[0], "fax", far.address[1]),
                audio_offer(),
                proxy=kamailio,
                credentials=Credentials("line1", PASSWORD),
            )
            assert isinstance(result, Call)
            assert [hop.uri.port for hop in result.route] == [kamailio[1]]
            assert callee.invites[0].request.cseq.seq == 2  # after the 407, a new CSeq
            outcome = await result.reinvite(t38_offer())
            assert outcome.accepted
            stream = t38_stream(result.remote_sdp)
            assert stream is not None
            assert stream.port == 6002
            await result.hangup()
            end = await asyncio.wait_for(callee.calls[0].wait_ended(), 3)
            assert end.by is Ending.REMOTE
            refused = await caller.call(
                SipUri(far.address[0], "fax", far.address[1]),
                audio_offer(),
                proxy=kamailio,
                credentials=Credentials("line1", "wrong"),
            )
            assert isinstance(refused, CallFailure)
            assert refused.status == 407
        finally:
            await caller.close()
            await far.close()

    run(scenario(), timeout_s=20)


@needs_kamailio
def test_the_probe_reports_kamailios_verdict_on_the_credentials(
    kamailio: tuple[str, int],
) -> None:
    async def scenario() -> None:
        ua = await UserAgent.start()
        try:
            aor = SipUri(kamailio[0], "line1", kamailio[1])
            for register in (False, True):
                good = await probe(
                    ua,
                    aor,
                    proxy=kamailio,
                    credentials=Credentials("x", PASSWORD),
                    register=register,
                )
                assert (good.reachable, good.auth, good.status) == (True, AuthCheck.ACCEPTED, 200)
                bad = await probe(
                    ua, aor, proxy=kamailio, credentials=Credentials("x", "no"), register=register
                )
                assert (bad.reachable, bad.auth, bad.status) == (True, AuthCheck.REFUSED, 407)
        finally:
            await ua.close()

    run(scenario(), timeout_s=20)


def sipp(*arguments: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["sipp", "-i", "127.0.0.1", "-m", "1", "-nostdin", "-timeout", "15", *arguments],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@needs_sipp
def test_sipp_calls_us_and_hangs_up() -> None:
    async def scenario() -> None:
        ended: list[Call] = []

        async def answer(incoming: IncomingCall) -> None:
            incoming.ring()
            sdp = answer_audio(incoming.offer, Origin("127.0.0.1"), 6000, PCMA_PCMU)
            assert sdp is not None
            ended.append(incoming.answer(sdp))

        ua = await UserAgent.start(on_invite=answer)
        host, port = ua.address
        process = sipp("-sn", "uac", "-d", "200", "-p", str(free_udp_port()), f"{host}:{port}")
        try:
            for _ in range(100):
                if process.poll() is not None:
                    break
                await asyncio.sleep(0.1)
            assert process.wait(timeout=1) == 0
            end = await asyncio.wait_for(ended[0].wait_ended(), 2)
            assert end.by is Ending.REMOTE
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=5)
            await ua.close()

    run(scenario(), timeout_s=20)


@needs_sipp
def test_we_call_sipp_and_hang_up() -> None:
    async def scenario() -> None:
        port = free_udp_port()
        process = sipp("-sn", "uas", "-p", str(port))
        ua = await UserAgent.start(timers=FAST)  # an INVITE sent before SIPp listens times out fast
        try:
            result: Call | CallFailure | None = None
            for _ in range(5):  # until SIPp listens
                result = await ua.call(SipUri("127.0.0.1", "fax", port), audio_offer())
                if isinstance(result, Call):
                    break
            assert isinstance(result, Call)
            await result.hangup()
            assert process.wait(timeout=5) == 0
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=5)
            await ua.close()

    run(scenario(), timeout_s=20)
