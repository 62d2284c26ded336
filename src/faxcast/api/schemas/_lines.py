"""Fax lines and their settings: what the API reads and writes.

A `sip` line has its trunk's settings in `sip` (null for a sandbox line). The trunk's password
is write-only: it is taken in `sip.password` and never returned (`sip.passwordSet` says whether
one is stored); on an edit, an absent or empty password keeps the stored one.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr

from faxcast.api.schemas._base import Form, Schema, UtcTime
from faxcast.domain import models
from faxcast.domain import sip_line as sip
from faxcast.domain.codec import Codec
from faxcast.domain.dialling import Dialling
from faxcast.domain.quality import Quality
from faxcast.i18n import Translator
from faxcast.services import line_check
from faxcast.sip.register import AuthCheck

# A line's own defaults for its campaigns, as a creation and an update both take them.
DefaultQuality = Annotated[
    Quality, Field(description="a new campaign's quality when it names none")
]
MaxCalls = Annotated[
    int | None,
    Field(
        description="tries per number at most, 1 to 9 (the provider's faxMaxCall); null: the "
        "server's retry policy"
    ),
]


class _SipFields(Schema):
    """A SIP trunk's settings but its password; absent ones take the defaults shown."""

    proxy_host: str = Field(description="the carrier's SIP proxy (registrar): a host name or IP")
    proxy_port: int = sip.DEFAULT_SIP_PORT
    transport: sip.SipTransport = sip.SipTransport.UDP
    username: str = Field(default="", description="digest user name; empty: no authentication")
    # Not `register`, which pydantic's models have (from ABCMeta); the same name on the wire.
    registers: bool = Field(default=False, alias="register", description="REGISTER with the proxy")
    register_interval_s: int = Field(default=sip.DEFAULT_REGISTER_INTERVAL_S, description="s")
    from_number: str = Field(default="", description="caller id (From user); empty: username")
    display_name: str = ""
    dialling: Dialling = Field(
        default=Dialling.E164,
        description=(
            "e164: +33123456789; international: the prefix then the E.164 digits; national: "
            "numbers of the line's country with its trunk prefix (0123456789), others as "
            "international"
        ),
    )
    international_prefix: str = "00"
    codecs: list[Codec] = Field(
        default=[Codec.PCMA, Codec.PCMU], description="in order of preference"
    )
    t38: sip.T38Mode = Field(
        default=sip.T38Mode.ACCEPT,
        description=(
            "off: stay on G.711; accept: accept the far end's re-INVITE to T.38; offer: "
            "accept it and send one after t38OfferAfterS seconds"
        ),
    )
    t38_offer_after_s: int = sip.DEFAULT_T38_OFFER_AFTER_S
    ring_timeout_s: int = sip.DEFAULT_RING_TIMEOUT_S
    local_address: str = Field(
        default=sip.DEFAULT_LOCAL_ADDRESS, description="0.0.0.0: every address of the host"
    )
    rtp_port_min: int = Field(
        default=sip.DEFAULT_RTP_PORTS[0],
        description=f"even; {sip.PORTS_PER_CHANNEL} ports per channel (RTP and UDPTL)",
    )
    rtp_port_max: int = sip.DEFAULT_RTP_PORTS[1]


class SipSettingsInput(_SipFields, Form):
    """A SIP trunk's settings as a client sends them (unknown fields refused, as in every Form)."""

    password: SecretStr | None = Field(
        default=None,
        description="digest password, write-only; on an edit, absent or empty keeps the stored one",
    )

    def settings(self) -> sip.SipLineSettings:
        """The domain's settings, unchecked (the service checks them)."""
        return sip.SipLineSettings(
            proxy_host=self.proxy_host,
            proxy_port=self.proxy_port,
            transport=self.transport,
            username=self.username,
            password=sip.Password(self.password.get_secret_value() if self.password else ""),
            register=self.registers,
            register_interval_s=self.register_interval_s,
            from_number=self.from_number,
            display_name=self.display_name,
            dialling=self.dialling,
            international_prefix=self.international_prefix,
            codecs=tuple(self.codecs),
            t38=self.t38,
            t38_offer_after_s=self.t38_offer_after_s,
            ring_timeout_s=self.ring_timeout_s,
            local_address=self.local_address,
            rtp_port_min=self.rtp_port_min,
            rtp_port_max=self.rtp_port_max,
        )


class SipSettings(_SipFields):
    """A SIP trunk's settings as the API shows them: all but the password."""

    password_set: bool = Field(description="whether a password is stored (it is never shown)")

    @classmethod
    def of(cls, settings: sip.SipLineSettings) -> SipSettings:
        """The settings of a line, without its password."""
        return cls(
            proxy_host=settings.proxy_host,
            proxy_port=settings.proxy_port,
            transport=settings.transport,
            username=settings.username,
            register=settings.register,
            register_interval_s=settings.register_interval_s,
            from_number=settings.from_number,
            display_name=settings.display_name,
            dialling=settings.dialling,
            international_prefix=settings.international_prefix,
            codecs=list(settings.codecs),
            t38=settings.t38,
            t38_offer_after_s=settings.t38_offer_after_s,
            ring_timeout_s=settings.ring_timeout_s,
            local_address=settings.local_address,
            rtp_port_min=settings.rtp_port_min,
            rtp_port_max=settings.rtp_port_max,
            password_set=bool(settings.password),
        )


class LineCreate(Form):
    """A new fax line; absent optional fields take the server's defaults."""

    name: str = Field(examples=["Sales line"])
    kind: models.LineKind = models.LineKind.SANDBOX
    country: str | None = Field(
        default=None, description="ISO 3166 alpha-2, for national numbers", examples=["FR"]
    )
    ident: str = Field(default="", description="station identifier sent to the far end (TSI)")
    header: str = Field(default="", description="header line printed on top of every page")
    channel_limit: int | None = Field(default=None, description="most calls at once on this line")
    quality: DefaultQuality = Quality.NORMAL
    max_calls: MaxCalls = None
    sip: SipSettingsInput | None = Field(default=None, description="required for a sip line")


class LineSettingsUpdate(Form):
    """A line's settings, replaced as a whole; a line's kind cannot change."""

    name: str
    kind: models.LineKind | None = None
    country: str
    ident: str
    header: str
    channel_limit: int
    quality: DefaultQuality = Quality.NORMAL
    max_calls: MaxCalls = None
    sip: SipSettingsInput | None = None


class LineSettings(Schema):
    """What a user sets on a line."""

    name: str
    kind: models.LineKind
    country: str
    ident: str
    header: str
    channel_limit: int
    quality: Quality
    max_calls: int | None
    sip: SipSettings | None

    @classmethod
    def of(cls, line: models.Line) -> LineSettings:
        """The settings of a line."""
        return cls.model_validate(_settings_of(line))


class Line(LineSettings):
    """A fax line of an account."""

    id: int
    account_id: int
    created_at: UtcTime

    @classmethod
    def of(cls, line: models.Line) -> Line:
        """The schema of a read model."""
        placed = {"id": line.id, "account_id": line.account_id, "created_at": line.created_at}
        return cls.model_validate(_settings_of(line) | placed)


def _settings_of(line: models.Line) -> dict[str, object]:
    return {
        "name": line.name,
        "kind": line.kind,
        "country": line.country,
        "ident": line.ident,
        "header": line.header,
        "channel_limit": line.channel_limit,
        "quality": line.quality,
        "max_calls": line.max_calls,
        "sip": SipSettings.of(line.sip) if line.sip else None,
    }


class LineCheck(Schema):
    """The answer to « Tester cette ligne »: OPTIONS (or REGISTER) to the line's proxy."""

    reachable: bool
    authentication: AuthCheck = Field(description="not_asked, accepted or refused")
    status: int | None = Field(description="the proxy's SIP status; null without an answer")
    round_trip_ms: float | None
    message: str = Field(description="the verdict for people, in the Accept-Language")

    @classmethod
    def of(cls, check: line_check.LineCheck, texts: Translator) -> LineCheck:
        """The API's view of a line test."""
        return cls(
            reachable=check.reachable,
            authentication=check.authentication,
            status=check.status,
            round_trip_ms=check.round_trip_ms,
            message=texts.message(check.message),
        )
