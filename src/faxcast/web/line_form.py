"""A line's form, to create or edit it: what was typed, the errors beside each field, submit().

The form always comes back with its password field empty: a password is never written into a
page. When editing, an empty password keeps the stored one (the service's rule).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Final, TypeVar

from faxcast.config import Settings
from faxcast.domain.codec import Codec
from faxcast.domain.dialling import Dialling
from faxcast.domain.models import Line, LineKind, LineSettings
from faxcast.domain.quality import Quality
from faxcast.domain.sip_line import Password, SipLineSettings, SipTransport, T38Mode
from faxcast.errors import InputError, MultipleInputError
from faxcast.fields import Field
from faxcast.services import accounts
from faxcast.services.context import Services
from faxcast.services.guard import require_admin
from faxcast.web import i18n
from faxcast.web.campaign_form import Errors, FieldError

E = TypeVar("E", bound=enum.Enum)
# The codec preferences the form offers, as "first,second".
CODEC_ORDERS: Final = ("pcma,pcmu", "pcmu,pcma", "pcma", "pcmu")
_INTEGERS: Final = (  # the line's own first, then its trunk's
    "channel_limit",
    "proxy_port",
    "register_interval_s",
    "t38_offer_after_s",
    "ring_timeout_s",
    "rtp_port_min",
    "rtp_port_max",
)


@dataclass
class LineForm:
    """What the user typed (every value as text), shown again after an error."""

    name: str = ""
    kind: str = LineKind.SANDBOX.value
    country: str = ""
    ident: str = ""
    header: str = ""
    channel_limit: str = ""
    quality: str = Quality.NORMAL.value
    max_calls: str = ""  # empty: the server's retry policy
    proxy_host: str = ""
    proxy_port: str = ""
    transport: str = SipTransport.UDP.value
    username: str = ""
    password: str = field(default="", repr=False)
    register: str = ""
    register_interval_s: str = ""
    from_number: str = ""
    display_name: str = ""
    dialling: str = Dialling.E164.value
    international_prefix: str = ""
    codecs: str = CODEC_ORDERS[0]
    t38: str = T38Mode.ACCEPT.value
    t38_offer_after_s: str = ""
    ring_timeout_s: str = ""
    local_address: str = ""
    rtp_port_min: str = ""
    rtp_port_max: str = ""

    @classmethod
    def new(cls, settings: Settings) -> LineForm:
        """A new line's form: the server's country and channel limit, a trunk's defaults."""
        return replace(
            cls.of_sip(SipLineSettings(proxy_host="")),
            country=settings.default_country,
            channel_limit=str(settings.channel_limit),
        )

    @classmethod
    def of_line(cls, line: Line) -> LineForm:
        """A line's form with its settings (and, for a sandbox line, a trunk's defaults)."""
        return replace(
            cls.of_sip(line.sip or SipLineSettings(proxy_host="")),
            name=line.name,
            kind=line.kind.value,
            country=line.country,
            ident=line.ident,
            header=line.header,
            channel_limit=str(line.channel_limit),
            quality=line.quality.value,
            max_calls=str(line.max_calls) if line.max_calls is not None else "",
        )

    @classmethod
    def of_sip(cls, sip: SipLineSettings) -> LineForm:
        """The SIP part of the form, filled with `sip` (never its password)."""
        return cls(
            proxy_host=sip.proxy_host,
            proxy_port=str(sip.proxy_port),
            transport=sip.transport.value,
            username=sip.username,
            register="on" if sip.register else "",
            register_interval_s=str(sip.register_interval_s),
            from_number=sip.from_number,
            display_name=sip.display_name,
            dialling=sip.dialling.value,
            international_prefix=sip.international_prefix,
            codecs=",".join(codec.value for codec in sip.codecs),
            t38=sip.t38.value,
            t38_offer_after_s=str(sip.t38_offer_after_s),
            ring_timeout_s=str(sip.ring_timeout_s),
            local_address=sip.local_address,
            rtp_port_min=str(sip.rtp_port_min),
            rtp_port_max=str(sip.rtp_port_max),
        )

    @classmethod
    def of(cls, values: Mapping[str, str]) -> LineForm:
        """The form from submitted fields; an unticked box is absent, so it is read as such."""
        known = {f.name: values.get(f.name, "") for f in fields(cls)}
        return cls(**known)


def submit(
    svc: Services, account_id: int, line: Line | None, form: LineForm, *, lang: str
) -> Line | Errors:
    """Create the line (`line` is None) or change it; or say what is wrong with every field,
    and then store nothing."""
    # A member is refused (403) whatever they typed, not told first what is wrong with it.
    require_admin(svc, account_id)
    t = i18n.translator(lang)
    errors = Errors()
    kind = line.kind if line else _choice(LineKind, form.kind, "kind", errors, t)
    trunk = kind is LineKind.SIP
    # A sandbox line's form has no trunk fields (or hidden ones): they are not read.
    numbers: dict[str, int] = {}
    for name in _INTEGERS if trunk else _INTEGERS[:1]:
        try:
            numbers[name] = int(getattr(form, name).strip())
        except ValueError:
            errors.add(name, FieldError(t("err.whole_number")))
    # A form without the field (written by hand, or older) keeps the line's quality.
    kept = line.quality if line else Quality.NORMAL
    quality = _choice(Quality, form.quality, "quality", errors, t) if form.quality else kept
    max_calls: int | None = None
    if form.max_calls.strip():
        try:
            max_calls = int(form.max_calls.strip())
        except ValueError:
            errors.add("max_calls", FieldError(t("err.whole_number")))
    transport = dialling = t38 = codecs = None
    if trunk:
        transport = _choice(SipTransport, form.transport, "transport", errors, t)
        dialling = _choice(Dialling, form.dialling, "dialling", errors, t)
        t38 = _choice(T38Mode, form.t38, "t38", errors, t)
        if form.codecs in CODEC_ORDERS:
            codecs = tuple(Codec(value) for value in form.codecs.split(","))
        else:
            errors.add("codecs", FieldError(t("err.choice")))
    defaults = SipLineSettings(proxy_host=form.proxy_host)
    # A field the form could not read is already marked: the service checks the others, with
    # a default standing in for it.
    sip = SipLineSettings(
        proxy_host=form.proxy_host,
        proxy_port=numbers.get("proxy_port", defaults.proxy_port),
        transport=transport or defaults.transport,
        username=form.username,
        password=Password(form.password),
        register=bool(form.register),
        register_interval_s=numbers.get("register_interval_s", defaults.register_interval_s),
        from_number=form.from_number,
        display_name=form.display_name,
        dialling=dialling or defaults.dialling,
        international_prefix=form.international_prefix,
        codecs=codecs or defaults.codecs,
        t38=t38 or defaults.t38,
        t38_offer_after_s=numbers.get("t38_offer_after_s", defaults.t38_offer_after_s),
        ring_timeout_s=numbers.get("ring_timeout_s", defaults.ring_timeout_s),
        local_address=form.local_address,
        rtp_port_min=numbers.get("rtp_port_min", defaults.rtp_port_min),
        rtp_port_max=numbers.get("rtp_port_max", defaults.rtp_port_max),
    )
    settings = LineSettings(
        name=form.name,
        kind=kind or LineKind.SANDBOX,
        country=form.country,
        ident=form.ident,
        header=form.header,
        channel_limit=numbers.get("channel_limit", 1),
        sip=sip if trunk else None,
        quality=quality or Quality.NORMAL,
        max_calls=max_calls,
    )
    try:
        if errors:
            accounts.check_line_settings(
                accounts.with_password_kept(line, settings) if line else settings
            )
            return errors
        if line is None:
            return accounts.create_line(svc, account_id, settings)
        return accounts.update_line(svc, account_id, line.id, settings)
    except InputError as failure:
        for found in failure.errors if isinstance(failure, MultipleInputError) else (failure,):
            errors.add(
                _form_field(found.field), FieldError(i18n.sentence(t.message(found.message)))
            )
        return errors


def _choice(kind: type[E], value: str, name: str, errors: Errors, t: i18n.Translator) -> E | None:
    try:
        return kind(value)
    except ValueError:
        errors.add(name, FieldError(t("err.choice")))
        return None


def _form_field(at: Field | None) -> str:
    return at.form if at is not None and at.form is not None else "form"
