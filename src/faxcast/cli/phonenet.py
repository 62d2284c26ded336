"""`faxcast phone-network`: the virtual phone network on a UDP port, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import click

from faxcast.i18n import codes, environment_language, translator
from faxcast.lines.phonenet import PhoneNetwork
from faxcast.sip.digest import DigestVerifier

REALM = "faxcast-phonenet"


@click.command("phone-network")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=5080, show_default=True, help="SIP port (UDP).")
@click.option(
    "--folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("faxcast-phone-network"),
    show_default=True,
    help="Where fax machines keep what they receive (one TIFF per call).",
)
@click.option(
    "--t38/--no-t38",
    default=True,
    show_default=True,
    help="Fax machines re-INVITE to T.38 after 1.5 s, as a receiving gateway does.",
)
@click.option("--username", help="Make callers sign in (digest) with this user name.")
@click.option("--password", envvar="FAXCAST_PHONENET_PASSWORD", help="Its password.")
def phone_network(
    host: str, port: int, folder: Path, t38: bool, username: str | None, password: str | None
) -> None:
    """Answer SIP calls as the sandbox's numbers do; other numbers are fax machines.

    Numbers ending 0486 are busy, 0408 ring unanswered, 0503 congested, 0404 unallocated,
    0603 rejected, 0900 a voice, 0222 drop after a page, 0144 a noisy line.
    """
    auth = DigestVerifier(REALM, {username: password or ""}) if username else None
    texts = translator(environment_language(os.environ))

    async def main() -> None:
        network = PhoneNetwork(folder, offer_t38=t38, auth=auth)
        await network.start(host, port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        mode = codes.PHONE_NETWORK_T38_ON() if t38 else codes.PHONE_NETWORK_T38_OFF()
        address = f"{network.address[0]}:{network.address[1]}"
        listening = codes.PHONE_NETWORK_LISTENING(address=address, folder=str(folder), t38=mode)
        click.echo(texts.message(listening), err=True)
        try:
            await stop.wait()
        finally:
            await network.close()
        click.echo(texts.message(codes.PHONE_NETWORK_STOPPED(count=network.calls)), err=True)

    asyncio.run(main())
