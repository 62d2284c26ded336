"""A SIP trunk line's settings: where its calls go, how it signs in, dials and carries faxes.

`check_sip_line` trims and checks them all at once and names the field of each problem; the
password is a `Password`, which no repr, str or log line ever shows.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Final

from faxcast.domain.codec import Codec
from faxcast.domain.dialling import Dialling, dial_string
from faxcast.errors import ConfigError, InputError
from faxcast.fields import Field
from faxcast.i18n import codes

DEFAULT_SIP_PORT: Final = 5060
DEFAULT_REGISTER_INTERVAL_S: Final = 3600
DEFAULT_RING_TIMEOUT_S: Final = 60
DEFAULT_T38_OFFER_AFTER_S: Final = 4
DEFAULT_LOCAL_ADDRESS: Final = "0.0.0.0"  # every address of the host
DEFAULT_RTP_PORTS: Final = (10000, 20000)
# A call holds an RTP/RTCP pair and a UDPTL pair, each starting on an even port.
PORTS_PER_CHANNEL: Final = 4

REGISTER_INTERVAL_S: Final = (60, 86_400)
RING_TIMEOUT_S: Final = (5, 300)
T38_OFFER_AFTER_S: Final = (0, 60)
RTP_PORTS: Final = (1024, 65_535)
MAX_HOST_LEN: Final = 253
MAX_USERNAME_LEN: Final = 128
MAX_PASSWORD_LEN: Final = 128
MAX_DISPLAY_NAME_LEN: Final = 64

_HOST_LABEL: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# RFC 3261's `user`: unreserved and user-unreserved characters, or %HH escapes.
_USERNAME: Final = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+")
_FROM_NUMBER: Final = re.compile(r"\+?[0-9]{1,20}")
_PREFIX: Final = re.compile(r"[0-9]{1,4}")


class SipTransport(enum.Enum):
    """How SIP messages travel to the proxy (TCP would be another member)."""

    UDP = "udp"


class T38Mode(enum.Enum):
    """Whether a call may switch from audio to T.38, and who asks for it."""

    OFF = "off"  # refuse the far end's re-INVITE to T.38: the fax stays on G.711
    ACCEPT = "accept"  # accept the far end's re-INVITE (the receiving gateway usually sends one)
    OFFER = "offer"  # accept it, and send one ourselves `t38_offer_after_s` after the answer


class Password:
    """A digest password: stored and compared, never shown (repr and str hide it).

    One read back from the store that cannot be opened (the server's secret key changed) is
    `unreadable`: it keeps its stored form, so the line keeps it until someone enters it again,
    and `reveal` raises ConfigError saying so.
    """

    __slots__ = ("_sealed", "_value")
    _value: str
    _sealed: str | None

    def __init__(self, value: str = "") -> None:
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "_sealed", None)

    @classmethod
    def unreadable(cls, stored: str) -> Password:
        """A stored password that cannot be opened, kept as it is stored."""
        password = cls()
        object.__setattr__(password, "_sealed", stored)
        return password

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a Password cannot be changed")

    def __reduce__(self) -> tuple[Callable[[str], Password], tuple[str]]:
        if self._sealed is not None:
            return (Password.unreadable, (self._sealed,))
        return (Password, (self._value,))

    @property
    def readable(self) -> bool:
        """False for a stored password that cannot be opened (enter it again)."""
        return self._sealed is None

    @property
    def stored(self) -> str | None:
        """An unreadable password's stored form, for the store to keep; None otherwise."""
        return self._sealed

    def reveal(self) -> str:
        """The password itself, for the digest and the store only."""
        if self._sealed is not None:
            raise ConfigError(codes.SIP_PASSWORD_UNREADABLE())
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value) or self._sealed is not None

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Password)
            and other._value == self._value
            and other._sealed == self._sealed
        )

    def __hash__(self) -> int:
        return hash((Password, self._value, self._sealed))

    def __repr__(self) -> str:
        if self._sealed is not None:
            return "Password(<unreadable>)"
        return "Password('***')" if self._value else "Password('')"

    __str__ = __repr__


@dataclass(frozen=True)
class SipLineSettings:
    """How a `sip` line reaches its trunk; the defaults suit most carriers."""

    proxy_host: str
    proxy_port: int = DEFAULT_SIP_PORT
    transport: SipTransport = SipTransport.UDP
    username: str = ""  # empty: the trunk trusts our address, no digest
    password: Password = field(default_factory=Password)
    register: bool = False
    register_interval_s: int = DEFAULT_REGISTER_INTERVAL_S
    from_number: str = ""  # our caller id; empty: the username
    display_name: str = ""
    dialling: Dialling = Dialling.E164
    international_prefix: str = "00"
    codecs: tuple[Codec, ...] = (Codec.PCMA, Codec.PCMU)
    t38: T38Mode = T38Mode.ACCEPT
    t38_offer_after_s: int = DEFAULT_T38_OFFER_AFTER_S
    ring_timeout_s: int = DEFAULT_RING_TIMEOUT_S
    local_address: str = DEFAULT_LOCAL_ADDRESS
    rtp_port_min: int = DEFAULT_RTP_PORTS[0]
    rtp_port_max: int = DEFAULT_RTP_PORTS[1]

    def dial(self, number: str, *, country: str) -> str:
        """What this line dials for a stored recipient number; `country` is the line's."""
        return dial_string(
            number, self.dialling, country=country, international_prefix=self.international_prefix
        )


def check_sip_line(
    sip: SipLineSettings, *, channel_limit: int
) -> tuple[SipLineSettings, list[InputError]]:
    """The settings with blanks trimmed and the host in lower case, and every problem found.

    `channel_limit` is the line's: the RTP port range must hold that many calls.
    """
    trimmed = replace(
        sip,
        proxy_host=_host(sip.proxy_host.strip()),
        username=sip.username.strip(),
        from_number=sip.from_number.strip(),
        display_name=sip.display_name.strip(),
        international_prefix=sip.international_prefix.strip(),
        local_address=sip.local_address.strip(),
    )
    errors = [
        *_address_errors(trimmed),
        *_account_errors(trimmed),
        *_dialling_errors(trimmed),
        *_media_errors(trimmed),
        *_port_errors(trimmed, channel_limit),
    ]
    return trimmed, errors


def _host(host: str) -> str:
    """A host as stored: lower case, an IPv6 address without its brackets."""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.lower()


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_host(host: str) -> bool:
    if _is_ip(host):
        return True
    labels = host.removesuffix(".").split(".")
    return len(host) <= MAX_HOST_LEN and all(_HOST_LABEL.fullmatch(label) for label in labels)


def _address_errors(sip: SipLineSettings) -> list[InputError]:
    errors = []
    if not sip.proxy_host:
        errors.append(InputError(codes.SIP_HOST_MISSING(), field=Field.SIP_PROXY_HOST))
    elif not _is_host(sip.proxy_host):
        errors.append(
            InputError(codes.SIP_HOST_INVALID(host=sip.proxy_host), field=Field.SIP_PROXY_HOST)
        )
    if not 1 <= sip.proxy_port <= 65_535:
        errors.append(InputError(codes.SIP_PORT_RANGE(), field=Field.SIP_PROXY_PORT))
    if not _is_ip(sip.local_address):
        errors.append(
            InputError(
                codes.SIP_LOCAL_ADDRESS_INVALID(address=sip.local_address),
                field=Field.SIP_LOCAL_ADDRESS,
            )
        )
    return errors


def _account_errors(sip: SipLineSettings) -> list[InputError]:
    errors = []
    if sip.username and not (
        len(sip.username) <= MAX_USERNAME_LEN and _USERNAME.fullmatch(sip.username)
    ):
        errors.append(
            InputError(codes.SIP_USERNAME_INVALID(max=MAX_USERNAME_LEN), field=Field.SIP_USERNAME)
        )
    # An unreadable password stays as stored until entered again: nothing in it to check.
    secret = sip.password.reveal() if sip.password.readable else None
    if secret is not None and (len(secret) > MAX_PASSWORD_LEN or not secret.isprintable()):
        errors.append(
            InputError(codes.SIP_PASSWORD_INVALID(max=MAX_PASSWORD_LEN), field=Field.SIP_PASSWORD)
        )
    elif sip.username and not sip.password:
        errors.append(InputError(codes.SIP_PASSWORD_MISSING(), field=Field.SIP_PASSWORD))
    if sip.register and not sip.username:
        errors.append(InputError(codes.SIP_REGISTER_NEEDS_USERNAME(), field=Field.SIP_USERNAME))
    low, high = REGISTER_INTERVAL_S
    if not low <= sip.register_interval_s <= high:
        errors.append(
            InputError(
                codes.SIP_REGISTER_INTERVAL_RANGE(min=low, max=high),
                field=Field.SIP_REGISTER_INTERVAL,
            )
        )
    return errors


def _dialling_errors(sip: SipLineSettings) -> list[InputError]:
    errors = []
    if sip.from_number and not _FROM_NUMBER.fullmatch(sip.from_number):
        errors.append(InputError(codes.SIP_FROM_NUMBER_INVALID(), field=Field.SIP_FROM_NUMBER))
    name = sip.display_name
    if len(name) > MAX_DISPLAY_NAME_LEN or not name.isprintable() or '"' in name or "\\" in name:
        errors.append(
            InputError(
                codes.SIP_DISPLAY_NAME_INVALID(max=MAX_DISPLAY_NAME_LEN),
                field=Field.SIP_DISPLAY_NAME,
            )
        )
    if not _PREFIX.fullmatch(sip.international_prefix):
        errors.append(InputError(codes.SIP_PREFIX_INVALID(), field=Field.SIP_INTERNATIONAL_PREFIX))
    low, high = RING_TIMEOUT_S
    if not low <= sip.ring_timeout_s <= high:
        errors.append(
            InputError(
                codes.SIP_RING_TIMEOUT_RANGE(min=low, max=high), field=Field.SIP_RING_TIMEOUT
            )
        )
    return errors


def _media_errors(sip: SipLineSettings) -> list[InputError]:
    errors = []
    if not sip.codecs:
        errors.append(InputError(codes.SIP_CODECS_EMPTY(), field=Field.SIP_CODECS))
    elif len(set(sip.codecs)) != len(sip.codecs):
        errors.append(InputError(codes.SIP_CODECS_REPEATED(), field=Field.SIP_CODECS))
    low, high = T38_OFFER_AFTER_S
    if not low <= sip.t38_offer_after_s <= high:
        errors.append(
            InputError(
                codes.SIP_T38_OFFER_AFTER_RANGE(min=low, max=high),
                field=Field.SIP_T38_OFFER_AFTER,
            )
        )
    return errors


def _port_errors(sip: SipLineSettings, channel_limit: int) -> list[InputError]:
    low, high = RTP_PORTS
    first, last = sip.rtp_port_min, sip.rtp_port_max
    errors = []
    for port, at in ((first, Field.SIP_RTP_PORT_MIN), (last, Field.SIP_RTP_PORT_MAX)):
        if not low <= port <= high:
            errors.append(InputError(codes.SIP_RTP_PORT_BOUNDS(min=low, max=high), field=at))
    if errors:
        return errors
    if first % 2:
        errors.append(InputError(codes.SIP_RTP_PORT_ODD(port=first), field=Field.SIP_RTP_PORT_MIN))
    if last <= first:
        errors.append(InputError(codes.SIP_RTP_PORTS_ORDER(), field=Field.SIP_RTP_PORT_MAX))
    elif last - first + 1 < PORTS_PER_CHANNEL * channel_limit:
        errors.append(
            InputError(
                codes.SIP_RTP_PORTS_TOO_FEW(
                    ports=last - first + 1,
                    channels=channel_limit,
                    needed=PORTS_PER_CHANNEL * channel_limit,
                ),
                field=Field.SIP_RTP_PORT_MAX,
            )
        )
    return errors
