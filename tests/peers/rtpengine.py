"""rtpengine as a media proxy and T.38 <-> G.711 gateway in tests, driven over its ng protocol.

`rtpengine_daemon(workdir)` runs the userspace daemon (`--table=-1`: no kernel forwarding) on
127.0.0.1 with its ng control port on a free UDP port, and `NgClient` speaks the protocol:
`<cookie> <bencoded dict>` over UDP, answered with the same cookie. rtpengine answers a repeated
cookie from its cache, so a lost datagram is simply sent again.

With `"T.38": ["decode"]` an offer of `m=image ... udptl t38` goes out as
`m=audio ... RTP/AVP 0 8` (PCMU and PCMA) and the G.711 answer comes back to the T.38 side as
`m=image` with rtpengine's own T.38 parameters; `["force"]` maps an audio offer to `m=image`.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tests.peers.bencode import Decoded, Value, bdecode, bencode
from tests.peers.daemons import (
    HOST,
    Daemon,
    free_udp_port,
    require_binary,
    running_daemon,
    wait_until,
)

START_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 1.0
COMMAND_TRIES = 3
T38_DECODE = ("decode",)  # the offerer speaks T.38, the answerer gets G.711
T38_FORCE = ("force",)  # the offerer speaks G.711, the answerer gets T.38
# rtpengine's defaults; ports in use are skipped, so parallel tests can share the range.
PORT_MIN = 30000
PORT_MAX = 40000


class NgError(Exception):
    """rtpengine answered a command with `result: error`."""


class NgClient:
    """A client for rtpengine's ng control protocol on a UDP socket of its own."""

    def __init__(self, address: tuple[str, int], timeout_s: float = COMMAND_TIMEOUT_S) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))

    def __enter__(self) -> NgClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def command(self, name: str, **params: Value) -> dict[str, Decoded]:
        """Send command `name` with `params`; its reply. NgError if rtpengine reports an error.

        Parameter names with dashes (`call-id`) are written with underscores (`call_id`).
        """
        message: dict[str, Value] = {"command": name}
        message.update({key.replace("_", "-"): value for key, value in params.items()})
        cookie = secrets.token_hex(8).encode()
        datagram = cookie + b" " + bencode(message)
        self.sock.settimeout(self.timeout_s)
        for _ in range(COMMAND_TRIES):
            self.sock.sendto(datagram, self.address)
            try:
                while True:
                    data = self.sock.recv(65535)
                    reply_cookie, _, body = data.partition(b" ")
                    if reply_cookie == cookie:
                        break
            except TimeoutError:
                continue
            reply = bdecode(body)
            if not isinstance(reply, dict):
                raise NgError(f"rtpengine answered {name} with a non-dictionary: {reply!r}")
            if reply.get("result") == "error":
                raise NgError(f"rtpengine refused {name}: {reply.get('error-reason')}")
            return reply
        raise TimeoutError(f"rtpengine did not answer {name} in {COMMAND_TRIES} tries")

    def ping(self) -> str:
        """The result of a ping: "pong" from a healthy daemon."""
        return str(self.command("ping")["result"])

    def offer(
        self, call_id: str, from_tag: str, sdp: str, *, t38: Sequence[str] = (), **params: Value
    ) -> str:
        """rtpengine's rewrite of the offer `sdp`, to pass on to the answerer."""
        if t38:
            params["T.38"] = list(t38)
        reply = self.command("offer", call_id=call_id, from_tag=from_tag, sdp=sdp, **params)
        return str(reply["sdp"])

    def answer(
        self,
        call_id: str,
        from_tag: str,
        to_tag: str,
        sdp: str,
        *,
        t38: Sequence[str] = (),
        **params: Value,
    ) -> str:
        """rtpengine's rewrite of the answer `sdp`, to pass back to the offerer."""
        if t38:
            params["T.38"] = list(t38)
        reply = self.command(
            "answer", call_id=call_id, from_tag=from_tag, to_tag=to_tag, sdp=sdp, **params
        )
        return str(reply["sdp"])

    def delete(self, call_id: str, from_tag: str | None = None) -> dict[str, Decoded]:
        """End the call's media; the reply carries its final statistics."""
        if from_tag is None:
            return self.command("delete", call_id=call_id)
        return self.command("delete", call_id=call_id, from_tag=from_tag)

    def query(self, call_id: str) -> dict[str, Decoded]:
        """The call's state: tags, media, streams and their packet counters."""
        return self.command("query", call_id=call_id)


@dataclass(frozen=True)
class Rtpengine:
    """A running rtpengine: its ng control address and its media port range."""

    host: str
    ng_port: int
    port_min: int
    port_max: int
    daemon: Daemon

    @property
    def ng_address(self) -> tuple[str, int]:
        return (self.host, self.ng_port)

    def client(self) -> NgClient:
        return NgClient(self.ng_address)


def _pong(address: tuple[str, int]) -> str | None:
    with NgClient(address, timeout_s=0.2) as client:
        try:
            return client.ping()
        except (TimeoutError, ConnectionRefusedError):
            return None


@contextmanager
def rtpengine_daemon(
    workdir: Path,
    *,
    port_min: int = PORT_MIN,
    port_max: int = PORT_MAX,
    log_level: int = 6,
) -> Iterator[Rtpengine]:
    """Run rtpengine in userspace on 127.0.0.1 until the block ends; waits for its pong.

    Its log (`rtpengine.log`, level 7 for debug) stays in `workdir`.
    """
    binary = require_binary("rtpengine", "rtpengine-daemon")
    workdir.mkdir(parents=True, exist_ok=True)
    ng_port = free_udp_port()
    argv = [
        binary,
        "--config-file=none",
        "--table=-1",
        f"--interface={HOST}",
        f"--listen-ng={HOST}:{ng_port}",
        f"--port-min={port_min}",
        f"--port-max={port_max}",
        "--num-threads=2",
        "--foreground",
        "--log-stderr",
        f"--log-level={log_level}",
    ]
    with running_daemon("rtpengine", argv, workdir / "rtpengine.log", cwd=workdir) as daemon:
        wait_until(
            lambda: _pong((HOST, ng_port)),
            timeout_s=START_TIMEOUT_S,
            what=f"rtpengine to answer ping on udp:{HOST}:{ng_port}",
            daemon=daemon,
        )
        yield Rtpengine(HOST, ng_port, port_min, port_max, daemon)
