"""One UDP port of a call's media (RTP or UDPTL), taken from the line's port range."""

from __future__ import annotations

import asyncio
import errno
import random
from collections.abc import Callable
from typing import cast

from faxcast.errors import ConfigError
from faxcast.i18n import codes

Address = tuple[str, int]


def _ignore(_data: bytes) -> None:
    return None


class MediaPort(asyncio.DatagramProtocol):
    """A bound UDP socket: datagrams from the far end's host go to `on_datagram`."""

    def __init__(self) -> None:
        self.on_datagram: Callable[[bytes], object] = _ignore
        self.remote: Address | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self.received = 0
        self.refused = 0

    @property
    def local(self) -> Address:
        """The address and port this socket is bound to."""
        assert self._transport is not None
        host, port = self._transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport does not subclass DatagramTransport.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        remote = self.remote
        # Only the far end's host may feed the call; its port may differ from the SDP's
        # (symmetric RTP behind NAT), so the port is not checked.
        if remote is not None and addr[0] != remote[0]:
            self.refused += 1
            return
        self.received += 1
        self.on_datagram(data)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable while the far end is not yet (or no longer) listening: the
        # stream goes on, and the call's silence watchdog judges a far end that went away.
        return None

    def send(self, data: bytes) -> None:
        """Send one datagram to `remote` (dropped while there is none, or once closed)."""
        transport, remote = self._transport, self.remote
        if transport is not None and remote is not None:
            transport.sendto(data, remote)

    def close(self) -> None:
        """Release the socket."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        self.on_datagram = _ignore

    @property
    def closed(self) -> bool:
        """Whether the socket was released."""
        return self._transport is None


async def open_media_port(
    host: str, ports: range | None = None, *, even: bool = False
) -> MediaPort:
    """Bind a free port of `ports` (any port if None; only even ones for RTP if `even`)."""
    loop = asyncio.get_running_loop()
    if ports is None:
        candidates: list[int] = [0]
    else:
        candidates = [port for port in ports if not even or port % 2 == 0]
        # A random first port: calls of several workers do not all race for the same one.
        shift = random.randrange(len(candidates)) if candidates else 0
        candidates = candidates[shift:] + candidates[:shift]
    for port in candidates:
        try:
            _, protocol = await loop.create_datagram_endpoint(MediaPort, local_addr=(host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                continue
            raise ConfigError(codes.MEDIA_PORT_FAILED(host=host, error=str(error))) from error
        return protocol
    first, last = (ports.start, ports.stop - 1) if ports else (0, 0)
    raise ConfigError(codes.MEDIA_NO_FREE_PORT(host=host, first=first, last=last))
