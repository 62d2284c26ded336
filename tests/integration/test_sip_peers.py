"""The independent SIP peers that the SIP line tests rely on, proven with raw SIP over UDP.

Kamailio (the carrier's proxy), SIPp (scripted far ends) and rtpengine (the T.38 <-> G.711
gateway) run as real processes on 127.0.0.1. Nothing of faxcast's SIP layer is used, so a
failure here is the harness's, not faxcast's. A missing binary fails with the fix (scripts/setup).
"""

from __future__ import annotations

import itertools
import re
import socket
import struct
import time
from pathlib import Path

import pytest

from tests.peers.bencode import Decoded, Value, bdecode, bencode
from tests.peers.kamailio import KamailioProxy, kamailio_proxy
from tests.peers.rawsip import (
    PCMA_OFFER,
    T38_OFFER,
    RawCall,
    RawSipEndpoint,
    SipMessage,
    digest_credentials,
    parse_digest_challenge,
    parse_message,
    response_to,
)
from tests.peers.rtpengine import T38_DECODE, T38_FORCE, rtpengine_daemon
from tests.peers.sipp import SippPeer, SippResult, sipp_peer

SIPP_KEYS = {"user": "fax", "password": "sipp-secret"}
SILENCE_S = 0.5


def call_to(address: tuple[str, int], ua: RawSipEndpoint, number: str = "100") -> RawCall:
    return RawCall(local_port=ua.port, request_uri=f"sip:{number}@{address[0]}:{address[1]}")


def pcma_offer() -> str:
    return PCMA_OFFER.format(port=40000)


def assert_sipp_succeeded(peer: SippPeer) -> SippResult:
    """SIPp's result, once it has exited having followed its scenario to the end."""
    result = peer.finish()
    assert result.succeeded, (
        f"SIPp {peer.scenario.name}: exit {result.exit_status}, {dict(result.statistics)}"
        + peer.daemon.log_tail()
    )
    return result


def assert_silent(endpoint: RawSipEndpoint) -> None:
    with pytest.raises(AssertionError, match="no SIP datagram"):
        endpoint.receive(SILENCE_S)


def final_pair(ua: RawSipEndpoint) -> dict[str, SipMessage]:
    """The next two final responses by method, in whichever order they come."""
    first, second = ua.final_response(), ua.final_response()
    return {first.method: first, second.method: second}


def authorized(proxy: KamailioProxy, call: RawCall, challenge: SipMessage, method: str) -> str:
    header = "Proxy-Authenticate" if challenge.status == 407 else "WWW-Authenticate"
    name = "Proxy-Authorization" if challenge.status == 407 else "Authorization"
    credentials = digest_credentials(
        challenge.header(header),
        method=method,
        uri=call.request_uri,
        username=proxy.username,
        password=proxy.password,
    )
    return f"{name}: {credentials}"


def invite_through(proxy: KamailioProxy, ua: RawSipEndpoint, call: RawCall) -> SipMessage:
    """INVITE via the proxy, answer its 407 with the right credentials; the final response."""
    ua.send(call.invite(pcma_offer()), proxy.address)
    challenge = ua.final_response()
    assert challenge.status == 407
    ua.send(call.ack(challenge), proxy.address)
    ua.send(
        call.invite(pcma_offer(), (authorized(proxy, call, challenge, "INVITE"),)), proxy.address
    )
    return ua.final_response()


# --- SIPp scenarios, called directly -------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "status"), [("busy", 486), ("not_found", 404), ("unavailable", 503)]
)
def test_sipp_answers_invite_with_final_failure(tmp_path: Path, scenario: str, status: int) -> None:
    with sipp_peer(scenario, tmp_path) as peer, RawSipEndpoint() as ua:
        call = call_to(peer.address, ua)
        ua.send(call.invite(pcma_offer()), peer.address)
        assert ua.receive().status == 100
        final = ua.final_response()
        assert (final.status, final.header("Call-ID")) == (status, call.call_id)
        assert "tag=" in final.header("To")
        ua.send(call.ack(final), peer.address)
        assert_sipp_succeeded(peer)
    if scenario == "unavailable":
        assert final.header("Retry-After") == "30"


def test_sipp_rings_until_cancelled(tmp_path: Path) -> None:
    with sipp_peer("ring_then_cancel", tmp_path) as peer, RawSipEndpoint() as ua:
        call = call_to(peer.address, ua)
        ua.send(call.invite(pcma_offer()), peer.address)
        assert [ua.receive().status, ua.receive().status] == [100, 180]
        assert_silent(ua)
        ua.send(call.cancel(), peer.address)
        finals = final_pair(ua)
        assert (finals["CANCEL"].status, finals["INVITE"].status) == (200, 487)
        ua.send(call.ack(finals["INVITE"]), peer.address)
        assert_sipp_succeeded(peer)


def test_sipp_challenges_then_answers_pcma_and_waits_for_bye(tmp_path: Path) -> None:
    with sipp_peer("auth_then_answer", tmp_path, keys=SIPP_KEYS) as peer, RawSipEndpoint() as ua:
        call = call_to(peer.address, ua)
        ua.send(call.invite(pcma_offer()), peer.address)
        challenge = ua.final_response()
        assert challenge.status == 401
        params = parse_digest_challenge(challenge.header("WWW-Authenticate"))
        assert (params["realm"], params["qop"]) == ("sipp.test", "auth")
        ua.send(call.ack(challenge), peer.address)
        credentials = digest_credentials(
            challenge.header("WWW-Authenticate"),
            method="INVITE",
            uri=call.request_uri,
            username=SIPP_KEYS["user"],
            password=SIPP_KEYS["password"],
        )
        ua.send(call.invite(pcma_offer(), (f"Authorization: {credentials}",)), peer.address)
        answer = ua.final_response()
        assert answer.status == 200
        assert f"m=audio {peer.media_port} RTP/AVP 8" in answer.body.decode()
        assert "a=rtpmap:8 PCMA/8000" in answer.body.decode()
        ua.send(call.ack(answer), peer.address)
        assert_silent(ua)  # no BYE of its own: the call lasts until ours
        ua.send(call.bye(), peer.address)
        assert ua.final_response().status == 200
        assert_sipp_succeeded(peer)


def test_sipp_refuses_wrong_credentials(tmp_path: Path) -> None:
    with sipp_peer("auth_then_answer", tmp_path, keys=SIPP_KEYS) as peer, RawSipEndpoint() as ua:
        call = call_to(peer.address, ua)
        ua.send(call.invite(pcma_offer()), peer.address)
        challenge = ua.final_response()
        ua.send(call.ack(challenge), peer.address)
        credentials = digest_credentials(
            challenge.header("WWW-Authenticate"),
            method="INVITE",
            uri=call.request_uri,
            username=SIPP_KEYS["user"],
            password="wrong",
        )
        ua.send(call.invite(pcma_offer(), (f"Authorization: {credentials}",)), peer.address)
        refusal = ua.final_response()
        assert refusal.status == 403
        ua.send(call.ack(refusal), peer.address)
        result = peer.finish()
        assert (result.successful_calls, result.failed_calls) == (0, 1)
        assert result.exit_status != 0


def test_sipp_hangs_up_in_the_middle_of_the_call(tmp_path: Path) -> None:
    with sipp_peer("bye_mid_call", tmp_path, pause_ms=300) as peer, RawSipEndpoint() as ua:
        call = call_to(peer.address, ua)
        ua.send(call.invite(pcma_offer()), peer.address)
        answer = ua.final_response()
        assert answer.status == 200
        assert f"m=audio {peer.media_port} RTP/AVP 8" in answer.body.decode()
        ua.send(call.ack(answer), peer.address)
        acked_at = time.monotonic()
        bye = ua.expect_request("BYE")
        assert time.monotonic() - acked_at >= 0.25
        assert bye.first_line.startswith(f"BYE {call.contact.strip('<>')} ")
        assert bye.header("Call-ID") == call.call_id
        assert f"tag={call.from_tag}" in bye.header("To")
        ua.send(response_to(bye, 200, "OK"), bye.source)
        assert_sipp_succeeded(peer)


def test_sipp_refuses_t38_reinvite_and_stays_on_g711(tmp_path: Path) -> None:
    with sipp_peer("t38_refused", tmp_path) as peer, RawSipEndpoint() as ua:
        call = call_to(peer.address, ua)
        ua.send(call.invite(pcma_offer()), peer.address)
        answer = ua.final_response()
        assert answer.status == 200
        ua.send(call.ack(answer), peer.address)
        ua.send(call.reinvite(T38_OFFER.format(port=40002)), peer.address)
        refusal = ua.final_response()
        assert (refusal.status, refusal.method) == (488, "INVITE")
        ua.send(call.ack(refusal), peer.address)
        assert_silent(ua)  # the call goes on: no BYE from the far end
        ua.send(call.bye(), peer.address)
        assert ua.final_response().status == 200
        assert_sipp_succeeded(peer)


def test_sipp_sends_a_malformed_response_then_accepts_cancel(tmp_path: Path) -> None:
    with sipp_peer("malformed", tmp_path) as peer, RawSipEndpoint() as ua:
        call = call_to(peer.address, ua)
        ua.send(call.invite(pcma_offer()), peer.address)
        broken = ua.receive_raw()
        head, _, body = broken.partition(b"\r\n\r\n")
        assert head.startswith(b"SIP/2.0 200 OK\r\n")
        assert f"Call-ID: {call.call_id}\r\n".encode() in head
        assert b"\r\nThis header line has no colon\r\n" in head
        assert b"Content-Length: 4096" in head
        assert len(body) < 4096
        with pytest.raises(ValueError, match="without a colon"):
            parse_message(broken)
        ua.send(call.cancel(), peer.address)
        finals = final_pair(ua)
        assert (finals["CANCEL"].status, finals["INVITE"].status) == (200, 487)
        ua.send(call.ack(finals["INVITE"]), peer.address)
        assert_sipp_succeeded(peer)


def test_sipp_calls_out_acks_and_hangs_up(tmp_path: Path) -> None:
    with RawSipEndpoint() as callee:
        remote = ("127.0.0.1", callee.port)
        keys = {"number": "+33123456789"}
        with sipp_peer("uac_call", tmp_path, remote=remote, keys=keys, pause_ms=200) as peer:
            invite = callee.expect_request("INVITE")
            assert invite.first_line == f"INVITE sip:+33123456789@127.0.0.1:{callee.port} SIP/2.0"
            assert f"m=audio {peer.media_port} RTP/AVP 8" in invite.body.decode()
            contact = f"Contact: <sip:callee@127.0.0.1:{callee.port}>"
            answer = response_to(invite, 200, "OK", to_tag="callee", headers=(contact,))
            callee.send(answer, invite.source)
            ack = callee.expect_request("ACK")
            assert ack.first_line.startswith(f"ACK sip:callee@127.0.0.1:{callee.port} ")
            bye = callee.expect_request("BYE")
            assert bye.header("To").endswith(";tag=callee")
            callee.send(response_to(bye, 200, "OK"), bye.source)
            assert_sipp_succeeded(peer)


# --- Kamailio, the carrier's proxy ---------------------------------------------------------


def test_kamailio_challenges_invite_without_credentials(tmp_path: Path) -> None:
    with (
        RawSipEndpoint() as network,
        RawSipEndpoint() as ua,
        kamailio_proxy(tmp_path, target=("127.0.0.1", network.port)) as proxy,
    ):
        call = call_to(proxy.address, ua)
        ua.send(call.invite(pcma_offer()), proxy.address)
        challenge = ua.final_response()
        assert challenge.status == 407
        params = parse_digest_challenge(challenge.header("Proxy-Authenticate"))
        assert params["realm"] == proxy.realm
        assert (params["qop"], params["algorithm"]) == ("auth", "MD5")
        assert params["nonce"]
        ua.send(call.ack(challenge), proxy.address)
        # A wrong password is challenged again, and nothing reaches the network.
        wrong = digest_credentials(
            challenge.header("Proxy-Authenticate"),
            method="INVITE",
            uri=call.request_uri,
            username=proxy.username,
            password="wrong",
        )
        ua.send(call.invite(pcma_offer(), (f"Proxy-Authorization: {wrong}",)), proxy.address)
        again = ua.final_response()
        assert again.status == 407
        ua.send(call.ack(again), proxy.address)
        assert_silent(network)


@pytest.mark.parametrize(("algorithm", "qop"), [("MD5", True), ("SHA-256", True), ("MD5", False)])
def test_kamailio_accepts_the_right_credentials(tmp_path: Path, algorithm: str, qop: bool) -> None:
    with (
        RawSipEndpoint() as network,
        RawSipEndpoint() as ua,
        kamailio_proxy(
            tmp_path, target=("127.0.0.1", network.port), algorithm=algorithm, qop=qop
        ) as proxy,
    ):
        call = call_to(proxy.address, ua)
        ua.send(call.invite(pcma_offer()), proxy.address)
        challenge = ua.final_response()
        params = parse_digest_challenge(challenge.header("Proxy-Authenticate"))
        assert (params["algorithm"], "qop" in params) == (algorithm, qop)
        ua.send(call.ack(challenge), proxy.address)
        ua.send(
            call.invite(pcma_offer(), (authorized(proxy, call, challenge, "INVITE"),)),
            proxy.address,
        )
        forwarded = network.expect_request("INVITE")
        assert forwarded.header("Call-ID") == call.call_id
        assert not forwarded.all("Proxy-Authorization")  # consumed by the proxy
        assert forwarded.header("Record-Route").startswith(f"<sip:127.0.0.1:{proxy.port};lr")


def test_kamailio_forwards_authenticated_invite_and_brings_back_busy(tmp_path: Path) -> None:
    with (
        sipp_peer("busy", tmp_path / "sipp") as peer,
        RawSipEndpoint() as ua,
        kamailio_proxy(tmp_path / "kamailio", target=peer.address) as proxy,
    ):
        call = call_to(proxy.address, ua)
        final = invite_through(proxy, ua, call)
        assert final.status == 486
        assert final.source == proxy.address
        assert "SIPpTag" in final.header("To")
        assert len(final.all("Via")) == 1  # the proxy took its own Via off
        ua.send(call.ack(final), proxy.address)
        received = assert_sipp_succeeded(peer).messages  # with the proxy's ACK of its 486
    assert re.search(rf"Record-Route: <sip:127\.0\.0\.1:{proxy.port};lr", received)
    assert re.search(rf"Via: SIP/2\.0/UDP 127\.0\.0\.1:{proxy.port};branch=", received)


def test_kamailio_routes_in_dialog_requests_both_ways(tmp_path: Path) -> None:
    with (
        sipp_peer("bye_mid_call", tmp_path / "sipp", pause_ms=300) as peer,
        RawSipEndpoint() as ua,
        kamailio_proxy(tmp_path / "kamailio", target=peer.address) as proxy,
    ):
        call = call_to(proxy.address, ua)
        answer = invite_through(proxy, ua, call)
        assert answer.status == 200
        assert answer.header("Record-Route").startswith(f"<sip:127.0.0.1:{proxy.port};lr")
        ua.send(call.ack(answer), proxy.address)  # Route: the proxy, then SIPp's Contact
        bye = ua.expect_request("BYE")
        assert bye.source == proxy.address
        ua.send(response_to(bye, 200, "OK"), bye.source)
        assert_sipp_succeeded(peer)


def test_kamailio_passes_cancel_on_to_a_ringing_callee(tmp_path: Path) -> None:
    with (
        sipp_peer("ring_then_cancel", tmp_path / "sipp") as peer,
        RawSipEndpoint() as ua,
        kamailio_proxy(tmp_path / "kamailio", target=peer.address) as proxy,
    ):
        call = call_to(proxy.address, ua)
        ua.send(call.invite(pcma_offer()), proxy.address)
        challenge = ua.final_response()
        ua.send(call.ack(challenge), proxy.address)
        ua.send(
            call.invite(pcma_offer(), (authorized(proxy, call, challenge, "INVITE"),)),
            proxy.address,
        )
        assert [ua.receive().status, ua.receive().status] == [100, 180]
        # CANCEL cannot be challenged (RFC 3261 22.1): the proxy matches it to the INVITE.
        ua.send(call.cancel(), proxy.address)
        finals = final_pair(ua)
        assert (finals["CANCEL"].status, finals["INVITE"].status) == (200, 487)
        assert "SIPpTag" in finals["INVITE"].header("To")
        ua.send(call.ack(finals["INVITE"]), proxy.address)
        assert_sipp_succeeded(peer)


def test_kamailio_routes_a_refused_t38_reinvite_and_the_call_goes_on(tmp_path: Path) -> None:
    with (
        sipp_peer("t38_refused", tmp_path / "sipp") as peer,
        RawSipEndpoint() as ua,
        kamailio_proxy(tmp_path / "kamailio", target=peer.address) as proxy,
    ):
        call = call_to(proxy.address, ua)
        answer = invite_through(proxy, ua, call)
        assert answer.status == 200
        ua.send(call.ack(answer), proxy.address)
        ua.send(call.reinvite(T38_OFFER.format(port=40002)), proxy.address)
        refusal = ua.final_response()
        assert (refusal.status, refusal.source) == (488, proxy.address)
        ua.send(call.ack(refusal), proxy.address)
        assert_silent(ua)
        ua.send(call.bye(), proxy.address)
        assert ua.final_response().status == 200
        assert_sipp_succeeded(peer)


def test_kamailio_registers_the_line_and_routes_network_calls_to_it(tmp_path: Path) -> None:
    with (
        RawSipEndpoint() as network,
        RawSipEndpoint() as ua,
        kamailio_proxy(tmp_path, target=("127.0.0.1", network.port)) as proxy,
    ):
        registration = RawCall(local_port=ua.port, request_uri=proxy.uri)
        ua.send(registration.request("REGISTER", ("Expires: 300",)), proxy.address)
        challenge = ua.final_response()
        assert challenge.status == 401  # registrars challenge with 401, proxies with 407
        credentials = authorized(proxy, registration, challenge, "REGISTER")
        ua.send(registration.request("REGISTER", ("Expires: 300", credentials)), proxy.address)
        registered = ua.final_response()
        assert registered.status == 200
        assert f"{registration.contact};expires=" in registered.header("Contact")

        inbound = RawCall(
            local_port=network.port, request_uri=f"sip:faxcast@{proxy.host}:{proxy.port}"
        )
        inbound.from_user = "caller"
        network.send(inbound.invite(pcma_offer()), proxy.address)
        invite = ua.expect_request("INVITE")
        assert invite.first_line.startswith(f"INVITE {registration.contact.strip('<>')} ")
        assert invite.header("Call-ID") == inbound.call_id
        ua.send(response_to(invite, 486, "Busy Here", to_tag="line"), invite.source)
        busy = network.final_response()
        assert busy.status == 486
        network.send(inbound.ack(busy), proxy.address)
        assert ua.expect_request("ACK").header("Call-ID") == inbound.call_id


def test_kamailio_answers_options_to_itself_once_authenticated(tmp_path: Path) -> None:
    with (
        RawSipEndpoint() as network,
        RawSipEndpoint() as ua,
        kamailio_proxy(tmp_path, target=("127.0.0.1", network.port)) as proxy,
    ):
        probe = RawCall(local_port=ua.port, request_uri=proxy.uri)
        ua.send(probe.request("OPTIONS"), proxy.address)
        challenge = ua.final_response()
        assert challenge.status == 407
        credentials = authorized(proxy, probe, challenge, "OPTIONS")
        ua.send(probe.request("OPTIONS", (credentials,)), proxy.address)
        assert ua.final_response().status == 200
        assert_silent(network)


# --- rtpengine, the T.38 <-> G.711 gateway -------------------------------------------------


def crlf(sdp: str) -> str:
    return sdp.replace("\n", "\r\n")


def media_line(sdp: str) -> list[str]:
    lines = [line for line in sdp.splitlines() if line.startswith("m=")]
    assert len(lines) == 1, sdp
    return lines[0].split()


def test_rtpengine_answers_ping(tmp_path: Path) -> None:
    with rtpengine_daemon(tmp_path) as engine, engine.client() as ng:
        assert ng.ping() == "pong"


def test_rtpengine_decodes_t38_offer_to_g711_and_back(tmp_path: Path) -> None:
    with rtpengine_daemon(tmp_path) as engine, engine.client() as ng:
        offer = ng.offer("t38-decode", "fax", crlf(T38_OFFER.format(port=40000)), t38=T38_DECODE)
        kind, port, proto, *formats = media_line(offer)
        assert (kind, proto, formats) == ("m=audio", "RTP/AVP", ["0", "8"])
        assert engine.port_min <= int(port) <= engine.port_max
        assert "a=rtpmap:8 PCMA/8000" in offer

        g711_answer = crlf(PCMA_OFFER.format(port=41000))
        answer = ng.answer("t38-decode", "fax", "phone", g711_answer)
        kind, port, *transport = media_line(answer)
        assert (kind, transport) == ("m=image", ["udptl", "t38"])
        assert "a=T38FaxRateManagement:transferredTCF" in answer
        assert "a=T38FaxUdpEC:t38UDPRedundancy" in answer
        assert re.search(r"a=T38FaxMaxDatagram:\d+", answer)
        assert ng.delete("t38-decode")["result"] == "ok"


def test_rtpengine_forces_g711_offer_to_t38_and_back(tmp_path: Path) -> None:
    with rtpengine_daemon(tmp_path) as engine, engine.client() as ng:
        offer = ng.offer("t38-force", "fax", crlf(PCMA_OFFER.format(port=40000)), t38=T38_FORCE)
        assert media_line(offer)[::2] == ["m=image", "udptl"]
        answer = ng.answer("t38-force", "fax", "phone", crlf(T38_OFFER.format(port=41000)))
        kind, _port, proto, *formats = media_line(answer)
        assert (kind, proto, formats) == ("m=audio", "RTP/AVP", ["8"])
        assert ng.delete("t38-force")["result"] == "ok"


def test_rtpengine_gateway_carries_media_both_ways(tmp_path: Path) -> None:
    """UDPTL in from the T.38 side, 20 ms PCMA RTP out to the G.711 side, and the reverse."""
    with (
        rtpengine_daemon(tmp_path) as engine,
        engine.client() as ng,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as fax,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone,
    ):
        fax.bind(("127.0.0.1", 0))
        phone.bind(("127.0.0.1", 0))
        fax_offer = crlf(T38_OFFER.format(port=fax.getsockname()[1]))
        audio_port = int(media_line(ng.offer("gw", "fax", fax_offer, t38=T38_DECODE))[1])
        phone_answer = crlf(PCMA_OFFER.format(port=phone.getsockname()[1]))
        image_port = int(media_line(ng.answer("gw", "fax", "phone", phone_answer))[1])

        # UDPTL seq 0: one IFP, the T.30 indicator no-signal (0x00), no redundancy entries.
        fax.sendto(bytes([0, 0, 1, 0x00, 0x00, 0]), ("127.0.0.1", image_port))
        rtp = [receive(phone) for _ in range(10)]
        assert {(packet[0] >> 6, packet[1] & 0x7F, len(packet) - 12) for packet in rtp} == {
            (2, 8, 160)
        }
        sequences = [struct.unpack("!H", packet[2:4])[0] for packet in rtp]
        timestamps = [struct.unpack("!I", packet[4:8])[0] for packet in rtp]
        assert [b - a for a, b in itertools.pairwise(sequences)] == [1] * 9
        assert [b - a for a, b in itertools.pairwise(timestamps)] == [160] * 9

        silence = struct.pack("!BBHII", 0x80, 8, 1, 160, 0x5EED) + b"\xd5" * 160
        phone.sendto(silence, ("127.0.0.1", audio_port))
        udptl = receive(fax)
        seq, ifp_length = struct.unpack("!HB", udptl[:3])
        assert (seq, ifp_length, udptl[3]) == (0, 1, 0x00)  # its first IFP: no-signal

        image = at(ng.query("gw"), "tags", "fax", "medias", 0)
        assert at(image, "type") == "image"
        received = at(image, "streams", 0, "stats", "packets")
        assert isinstance(received, int)
        assert received >= 1


def at(value: Decoded, *path: str | int) -> Decoded:
    """The part of an ng reply at `path` (dictionary keys and list indexes)."""
    for step in path:
        if isinstance(step, int):
            assert isinstance(value, list), value
            value = value[step]
        else:
            assert isinstance(value, dict), value
            value = value[step]
    return value


def receive(sock: socket.socket, timeout_s: float = 2.0) -> bytes:
    sock.settimeout(timeout_s)
    try:
        return sock.recv(2048)
    except TimeoutError:
        raise AssertionError(f"nothing from rtpengine in {timeout_s} s") from None


def test_sipp_malformed_scenario_fails_a_caller_that_takes_it_as_an_answer(
    tmp_path: Path,
) -> None:
    with sipp_peer("malformed", tmp_path) as peer, RawSipEndpoint() as ua:
        call = call_to(peer.address, ua)
        ua.send(call.invite(pcma_offer()), peer.address)
        ua.receive_raw()
        call.remote_target = f"sip:{peer.host}:{peer.port}"
        ua.send(call.bye(), peer.address)  # as if the malformed 200 had set up the call
        result = peer.finish()
        assert (result.successful_calls, result.failed_calls) == (0, 1)


def test_bencode_round_trip_and_rtpengine_key_order() -> None:
    message: dict[str, Value] = {"command": "offer", "T.38": ["decode"], "ptime": 20}
    assert bencode(message) == b"d4:T.38l6:decodee7:command5:offer5:ptimei20ee"
    assert bdecode(bencode(message)) == message
    # rtpengine does not sort its keys; decoding must not care.
    assert bdecode(b"d6:result2:ok3:sdp3:v=0e") == {"result": "ok", "sdp": "v=0"}


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        (b"", "truncated"),
        (b"i12", "unterminated integer"),
        (b"d3:key", "truncated"),
        (b"5:abc", "runs past the end"),
        (b"l", "truncated"),
        (b"i1ei2e", "trailing bytes"),
        (b"x", "invalid bencoded value"),
    ],
)
def test_bencode_refuses_malformed_input(broken: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        bdecode(broken)
