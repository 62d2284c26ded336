"""Kamailio as the carrier's proxy in tests: Digest authentication, registrar, record-routing.

`kamailio_proxy(...)` writes a config to a temp dir, runs `kamailio -DD -E` on a free
127.0.0.1 UDP port and stops it (by process group) when the block ends. Requests from the line
(any source but the target) must authenticate as the static user: 407 for INVITE, OPTIONS and
the rest, 401 for REGISTER, as trunks do. Authenticated REGISTERs are saved in memory (usrloc);
an OPTIONS to the proxy itself is answered 200; other requests go to `target`, record-routed.
Requests from the target (the phone network) need no credentials and go to the registered
contact of their Request-URI's user. In-dialog requests from either side follow their Route set.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.peers.daemons import (
    HOST,
    Daemon,
    free_udp_port,
    require_binary,
    running_daemon,
    wait_until,
)

START_TIMEOUT_S = 10.0
MODULES_DIR = "/usr/lib/x86_64-linux-gnu/kamailio/modules"
DEFAULT_REALM = "kamailio.test"


@dataclass(frozen=True)
class KamailioProxy:
    """A running Kamailio: where to send requests and which credentials it accepts."""

    host: str
    port: int
    realm: str
    username: str
    password: str
    target: tuple[str, int]
    daemon: Daemon

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def uri(self) -> str:
        return f"sip:{self.host}:{self.port}"


def kamailio_config(
    *,
    port: int,
    target: tuple[str, int],
    username: str,
    password: str,
    realm: str = DEFAULT_REALM,
    qop: bool = True,
    algorithm: str = "MD5",
    runtime_dir: Path,
) -> str:
    """The kamailio.cfg text of the proxy described in this module's docstring."""
    target_host, target_port = target
    challenge_flags = "1" if qop else "0"
    return f"""#!KAMAILIO
debug=2
log_stderror=yes
log_prefix="{{$mt $rm $ci}} "
children=2
disable_tcp=yes
auto_aliases=no
listen=udp:{HOST}:{port}
rundir="{runtime_dir}"
server_header="Server: kamailio (faxcast tests)"
sip_warning=0

mpath="{MODULES_DIR}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "sanity.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"

modparam("usrloc", "db_mode", 0)
modparam("rr", "append_fromtag", 1)
modparam("auth", "secret", "{secrets.token_hex(16)}")
modparam("auth", "algorithm", "{algorithm}")
modparam("auth", "qop", "{"auth" if qop else ""}")
modparam("registrar", "max_expires", 3600)

request_route {{
    xlog("L_INFO", "request $rm $ru from $si:$sp\\n");
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (!sanity_check("1511", "7")) {{
        xlog("L_WARN", "malformed request from $si:$sp\\n");
        exit;
    }}
    if (has_totag()) {{
        route(WITHINDLG);
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            route(RELAY);
        }}
        exit;
    }}
    if (is_method("ACK")) {{
        # An ACK without To tag belongs to a negative reply that tm already acknowledged.
        t_check_trans();
        exit;
    }}
    t_check_trans();
    if ($si == "{target_host}" && $sp == {target_port}) {{
        route(FROMNETWORK);
        exit;
    }}
    route(AUTH);
    if (is_method("REGISTER")) {{
        if (!save("location")) {{
            sl_reply_error();
        }}
        exit;
    }}
    if (is_method("OPTIONS") && uri == myself && $rU == $null) {{
        sl_send_reply("200", "OK");
        exit;
    }}
    if (is_method("INVITE|SUBSCRIBE")) {{
        record_route();
    }}
    $du = "sip:{target_host}:{target_port}";
    route(RELAY);
}}

route[AUTH] {{
    if (is_method("REGISTER")) {{
        if ($au != "{username}" || !pv_www_authenticate("{realm}", "{password}", "0")) {{
            www_challenge("{realm}", "{challenge_flags}");
            exit;
        }}
    }} else {{
        if ($au != "{username}" || !pv_proxy_authenticate("{realm}", "{password}", "0")) {{
            proxy_challenge("{realm}", "{challenge_flags}");
            exit;
        }}
    }}
    consume_credentials();
}}

route[FROMNETWORK] {{
    if (!lookup("location")) {{
        sl_send_reply("404", "Not Registered");
        exit;
    }}
    if (is_method("INVITE")) {{
        record_route();
    }}
    route(RELAY);
}}

route[WITHINDLG] {{
    if (loose_route()) {{
        route(RELAY);
        exit;
    }}
    if (is_method("ACK")) {{
        if (t_check_trans()) {{
            route(RELAY);
        }}
        exit;
    }}
    sl_send_reply("404", "Not Here");
}}

route[RELAY] {{
    if (!t_relay()) {{
        sl_reply_error();
    }}
}}
"""


def sip_ping(address: tuple[str, int], timeout_s: float = 0.5) -> bytes | None:
    """Send an OPTIONS to `address`; the first datagram it answers with, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
        host, target_port = address
        request = (
            f"OPTIONS sip:{host}:{target_port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {HOST}:{port};branch=z9hG4bK{secrets.token_hex(8)};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@{HOST}>;tag={secrets.token_hex(4)}\r\n"
            f"To: <sip:{host}:{target_port}>\r\n"
            f"Call-ID: {secrets.token_hex(8)}@{HOST}\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        sock.sendto(request.encode(), address)
        sock.settimeout(timeout_s)
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


@contextmanager
def kamailio_proxy(
    workdir: Path,
    *,
    target: tuple[str, int],
    username: str = "faxcast",
    password: str = "s3cret",
    realm: str = DEFAULT_REALM,
    qop: bool = True,
    algorithm: str = "MD5",
) -> Iterator[KamailioProxy]:
    """Run Kamailio on a free 127.0.0.1 port until the block ends; see the module docstring.

    The config and the log (`kamailio.log`) stay in `workdir`; waits at most START_TIMEOUT_S
    for it to answer an OPTIONS.
    """
    binary = require_binary("kamailio", "kamailio")
    workdir.mkdir(parents=True, exist_ok=True)
    runtime_dir = workdir / "run"
    runtime_dir.mkdir(exist_ok=True)
    port = free_udp_port()
    config = workdir / "kamailio.cfg"
    config.write_text(
        kamailio_config(
            port=port,
            target=target,
            username=username,
            password=password,
            realm=realm,
            qop=qop,
            algorithm=algorithm,
            runtime_dir=runtime_dir,
        )
    )
    argv = [binary, "-f", str(config), "-DD", "-E", "-m", "32", "-M", "4", "-w", str(workdir)]
    with running_daemon("kamailio", argv, workdir / "kamailio.log", cwd=workdir) as daemon:
        wait_until(
            lambda: sip_ping((HOST, port)),
            timeout_s=START_TIMEOUT_S,
            what=f"Kamailio to answer on udp:{HOST}:{port}",
            daemon=daemon,
        )
        yield KamailioProxy(HOST, port, realm, username, password, target, daemon)
