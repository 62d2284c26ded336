"""One UDP port of a call's media (RTP or UDPTL), taken from the line's port range.

The socket is not watched by the event loop: the media clock reads it on its 20 ms tick (see
sip.pacing.MediaClock.watch). That costs far less than a loop wake-up per datagram, and a
jitter buffer (or T.38's own timing) does not mind the up to 20 ms a packet waits.
"""

from __future__ import annotations

import errno
import random
import socket
from collections.abc import Callable

from faxcast.errors import ConfigError
from faxcast.i18n import codes

Address = tuple[str, int]
READ_SIZE = 4096  # larger than any packet the parsers accept, so a truncated one is refused


def _ignore(_data: bytes) -> None:
    return None


class MediaPort:
    """A bound non-blocking UDP socket: `read_one()` hands what the far end's host sent to
    `on_datagram`, `send()` goes to `remote`."""

    __slots__ = ("_socket", "on_datagram", "received", "refused", "remote")

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._socket: socket.socket | None = sock
        self.on_datagram: Callable[[bytes], object] = _ignore
        self.remote: Address | None = None
        self.received = 0
        self.refused = 0

    @property
    def local(self) -> Address:
        """The address and port this socket is bound to."""
        assert self._socket is not None
        host, port = self._socket.getsockname()[:2]
        return str(host), int(port)

    @property
    def closed(self) -> bool:
        """Whether the socket was released."""
        return self._socket is None

    def send(self, data: bytes | bytearray) -> None:
        """Send one datagram to `remote` (dropped while there is none, once closed, or when
        the kernel refuses it: media is never retransmitted)."""
        sock, remote = self._socket, self.remote
        if sock is not None and remote is not None:
            try:
                sock.sendto(data, remote)
            except OSError:  # cheaper than contextlib.suppress, 50 times a second per call
                return

    def fileno(self) -> int:
        """The socket's descriptor, for the clock that reads it."""
        assert self._socket is not None
        return self._socket.fileno()

    def read_one(self) -> bool:
        """Hand one waiting datagram to `on_datagram`; False when there was none."""
        sock = self._socket
        if sock is None:
            return False
        try:
            data, address = sock.recvfrom(READ_SIZE)
        except OSError:  # nothing waiting (EAGAIN), or an ICMP error: the next tick reads on
            return False
        remote = self.remote
        # Only the far end's host may feed the call; its port may differ from the SDP's
        # (symmetric RTP behind NAT), so the port is not checked.
        if remote is not None and address[0] != remote[0]:
            self.refused += 1
        else:
            self.received += 1
            self.on_datagram(data)
        return True

    def close(self) -> None:
        """Release the socket."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self.on_datagram = _ignore


def open_media_port(host: str, ports: range | None = None, *, even: bool = False) -> MediaPort:
    """Bind a free port of `ports` (any port if None; only even ones for RTP if `even`)."""
    if ports is None:
        candidates: list[int] = [0]
    else:
        candidates = [port for port in ports if not even or port % 2 == 0]
        # A random first port: calls of several workers do not all race for the same one.
        shift = random.randrange(len(candidates)) if candidates else 0
        candidates = candidates[shift:] + candidates[:shift]
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for port in candidates:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind((host, port))
        except OSError as error:
            sock.close()
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                continue
            raise ConfigError(codes.MEDIA_PORT_FAILED(host=host, error=str(error))) from error
        return MediaPort(sock)
    first, last = (ports.start, ports.stop - 1) if ports else (0, 0)
    raise ConfigError(codes.MEDIA_NO_FREE_PORT(host=host, first=first, last=last))
