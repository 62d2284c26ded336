"""SIP over UDP (RFC 3261 section 18): one socket, parsing at the edge, bad datagrams dropped."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Callable
from typing import cast

from faxcast.sip.errors import SipSyntaxError, SipTransportError
from faxcast.sip.message import SipMessage, SipRequest, parse_message
from faxcast.sip.uri import SipUri, format_host

log = logging.getLogger(__name__)

Address = tuple[str, int]
Receiver = Callable[[SipMessage, Address], None]


def is_ip(host: str) -> bool:
    """Whether the host is an IPv4 or IPv6 literal (no lookup needed)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class SipTransport(asyncio.DatagramProtocol):
    """A bound UDP socket that sends SIP messages and hands each parsed one to `receive`."""

    def __init__(self, receive: Receiver) -> None:
        self._receive = receive
        self._transport: asyncio.DatagramTransport | None = None
        self.local: Address = ("", 0)
        self.dropped = 0

    @classmethod
    async def open(cls, host: str, port: int, receive: Receiver) -> SipTransport:
        """Bind `host:port` (port 0 picks a free one); a failure raises SipTransportError."""
        loop = asyncio.get_running_loop()
        protocol = cls(receive)
        try:
            await loop.create_datagram_endpoint(lambda: protocol, local_addr=(host, port))
        except OSError as error:
            raise SipTransportError(f"{format_host(host)}:{port}", str(error)) from None
        return protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)
        sockname = transport.get_extra_info("sockname")
        self.local = (sockname[0], sockname[1])

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        source = (str(addr[0]), int(addr[1]))
        if not data.strip(b"\r\n"):
            return  # a keep-alive (RFC 5626 section 4.4.1)
        try:
            message = parse_message(data)
        except SipSyntaxError as error:
            self.dropped += 1
            log.info("dropped a malformed SIP datagram from %s:%s: %s", *source, error.reason)
            return
        if isinstance(message, SipRequest):
            _stamp_via(message, source)
        self._receive(message, source)

    def error_received(self, exc: Exception) -> None:
        log.info("SIP socket error: %s", exc)  # an ICMP unreachable; transactions time out

    def send(self, message: SipMessage, address: Address) -> None:
        """Send one message; a closed socket drops it (its transaction will time out)."""
        if self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(bytes(message), address)

    def close(self) -> None:
        """Close the socket."""
        if self._transport is not None:
            self._transport.close()

    async def resolve(self, uri: SipUri) -> Address:
        """Where to send a request for this URI: its host (looked up if a name) and port."""
        port = uri.port or 5060
        if is_ip(uri.host):
            return uri.host, port
        family = socket.AF_INET6 if ":" in self.local[0] else socket.AF_INET
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(uri.host, port, family=family, type=socket.SOCK_DGRAM)
        except OSError as error:
            raise SipTransportError(f"{uri.host}:{port}", str(error)) from None
        host, found_port = infos[0][4][:2]
        return str(host), int(found_port)


def _stamp_via(request: SipRequest, source: Address) -> None:
    # RFC 3261 section 18.2.1 and RFC 3581: record where the request really came from, so
    # responses go back through NATs.
    values = request.headers.values("Via")
    top = request.via
    if top.host != source[0]:
        top = top.with_param("received", source[0])
    if top.params and any(k.lower() == "rport" for k, _ in top.params):
        top = top.with_param("rport", str(source[1]))
    if top != request.via:
        request.headers.remove("Via")
        for value in reversed([str(top), *values[1:]]):
            request.headers.prepend("Via", value)
