"""REGISTER with digest and refresh, and the "test this line" probe, on a loopback registrar."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from faxcast.sip.digest import Credentials, DigestVerifier
from faxcast.sip.register import AuthCheck, Registrar, Registration, probe
from faxcast.sip.ua import UserAgent
from faxcast.sip.uri import SipUri
from tests.integration.test_sip_calls import FAST, run


@asynccontextmanager
async def registrar_pair(registrar: Registrar) -> AsyncIterator[tuple[UserAgent, UserAgent]]:
    client = await UserAgent.start(timers=FAST)
    server = await UserAgent.start(timers=FAST, on_request=registrar)
    try:
        yield client, server
    finally:
        await client.close()
        await server.close()


def aor_at(server: UserAgent) -> SipUri:
    return SipUri(host=server.address[0], user="line1", port=server.address[1])


def test_a_registration_answers_the_challenge_refreshes_and_unregisters() -> None:
    async def scenario() -> None:
        registrar = Registrar(DigestVerifier("faxcast.test", {"line1": "pw"}), max_expires_s=2)
        async with registrar_pair(registrar) as (client, server):
            aor = aor_at(server)
            registration = Registration(client, aor, credentials=Credentials("line1", "pw"))
            first = await registration.start()
            assert first.ok
            assert first.challenged
            assert first.expires_s == 2
            assert registrar.bindings[str(aor)] == client.contact("line1")
            # The refresh comes at half the granted expiry (1 s), answering a new challenge.
            for _ in range(40):
                if len(registrar.registers) >= 4:
                    break
                await asyncio.sleep(0.05)
            assert len(registrar.registers) >= 4
            await registration.stop()
            assert str(aor) not in registrar.bindings
            sent = registrar.registers
            assert len({r.call_id for r in sent}) == 1
            seqs = [r.cseq.seq for r in sent]
            assert seqs == sorted(seqs)
            assert len(set(seqs)) == len(seqs)

    run(scenario())


def test_the_probe_tells_accepted_refused_and_unchallenged_apart() -> None:
    async def scenario() -> None:
        registrar = Registrar(DigestVerifier("faxcast.test", {"line1": "pw"}))
        async with registrar_pair(registrar) as (client, server):
            aor = aor_at(server)
            good = await probe(client, aor, credentials=Credentials("line1", "pw"), register=True)
            assert good.reachable
            assert good.auth is AuthCheck.ACCEPTED
            assert good.status == 200
            assert good.round_trip_ms is not None
            assert str(aor) not in registrar.bindings  # the probe left no binding
            bad = await probe(client, aor, credentials=Credentials("line1", "no"), register=True)
            assert (bad.reachable, bad.auth, bad.status) == (True, AuthCheck.REFUSED, 401)
            none = await probe(client, aor, register=True)
            assert (none.reachable, none.auth) == (True, AuthCheck.REFUSED)
            options = await probe(client, aor)
            assert (options.reachable, options.auth, options.status) == (
                True,
                AuthCheck.NOT_ASKED,
                200,
            )

    run(scenario())


def test_the_probe_of_a_silent_address_says_unreachable_after_timer_f() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        silent, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
        )
        client = await UserAgent.start(timers=FAST)
        try:
            port = silent.get_extra_info("sockname")[1]
            result = await probe(client, SipUri("127.0.0.1", "line1", port))
            assert not result.reachable
            assert result.status is None
        finally:
            await client.close()
            silent.close()

    run(scenario())
