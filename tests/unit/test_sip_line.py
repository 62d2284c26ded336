"""A SIP line's settings: defaults, every check naming its field, the hidden password, dialling."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import replace
from typing import Any

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faxcast.domain.codec import Codec
from faxcast.domain.dialling import Dialling, dial_string
from faxcast.domain.models import Line, LineKind, LineSettings
from faxcast.domain.sip_line import (
    PORTS_PER_CHANNEL,
    Password,
    SipLineSettings,
    SipTransport,
    T38Mode,
    check_sip_line,
)
from faxcast.errors import ConfigError, InputError
from faxcast.fields import Field
from faxcast.i18n import Code, codes, translator

SECRET = "s3cret-Pa55"
TRUNK = SipLineSettings(proxy_host="sip.example.net", username="faxcast", password=Password(SECRET))


def problems(sip: SipLineSettings, channels: int = 4) -> list[tuple[Field | None, str]]:
    _, errors = check_sip_line(sip, channel_limit=channels)
    return [(error.field, error.message.code) for error in errors]


def test_the_defaults_are_the_ones_the_issue_asks_for() -> None:
    sip = SipLineSettings(proxy_host="sip.example.net")

    assert (sip.proxy_port, sip.transport, sip.register, sip.register_interval_s) == (
        5060,
        SipTransport.UDP,
        False,
        3600,
    )
    assert (sip.dialling, sip.codecs, sip.t38, sip.ring_timeout_s) == (
        Dialling.E164,
        (Codec.PCMA, Codec.PCMU),
        T38Mode.ACCEPT,
        60,
    )
    assert sip.local_address == "0.0.0.0"
    assert sip.rtp_port_min % 2 == 0
    assert problems(sip) == []


def test_a_valid_trunk_is_trimmed_and_its_host_lowered() -> None:
    typed = replace(
        TRUNK,
        proxy_host="  [2001:DB8::1] ",
        username=" faxcast ",
        from_number=" +33123456789 ",
        display_name=" ACME Fax ",
        international_prefix=" 00 ",
        local_address=" 192.0.2.10 ",
    )

    checked, errors = check_sip_line(typed, channel_limit=8)

    assert errors == []
    assert checked == replace(
        TRUNK,
        proxy_host="2001:db8::1",
        from_number="+33123456789",
        display_name="ACME Fax",
        local_address="192.0.2.10",
    )
    host, _ = check_sip_line(replace(TRUNK, proxy_host="SIP.Example.NET."), channel_limit=1)
    assert host.proxy_host == "sip.example.net."


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"proxy_host": ""}, Field.SIP_PROXY_HOST, codes.SIP_HOST_MISSING),
        ({"proxy_host": "  "}, Field.SIP_PROXY_HOST, codes.SIP_HOST_MISSING),
        ({"proxy_host": "sip example"}, Field.SIP_PROXY_HOST, codes.SIP_HOST_INVALID),
        ({"proxy_host": "-bad.example"}, Field.SIP_PROXY_HOST, codes.SIP_HOST_INVALID),
        ({"proxy_host": "a" * 64 + ".example"}, Field.SIP_PROXY_HOST, codes.SIP_HOST_INVALID),
        ({"proxy_port": 0}, Field.SIP_PROXY_PORT, codes.SIP_PORT_RANGE),
        ({"proxy_port": 65536}, Field.SIP_PROXY_PORT, codes.SIP_PORT_RANGE),
        ({"local_address": "localhost"}, Field.SIP_LOCAL_ADDRESS, codes.SIP_LOCAL_ADDRESS_INVALID),
        ({"username": "fax cast"}, Field.SIP_USERNAME, codes.SIP_USERNAME_INVALID),
        ({"username": "u@host"}, Field.SIP_USERNAME, codes.SIP_USERNAME_INVALID),
        ({"username": "u" * 129}, Field.SIP_USERNAME, codes.SIP_USERNAME_INVALID),
        ({"password": Password("")}, Field.SIP_PASSWORD, codes.SIP_PASSWORD_MISSING),
        ({"password": Password("a\nb")}, Field.SIP_PASSWORD, codes.SIP_PASSWORD_INVALID),
        ({"password": Password("p" * 129)}, Field.SIP_PASSWORD, codes.SIP_PASSWORD_INVALID),
        (
            {"register_interval_s": 59},
            Field.SIP_REGISTER_INTERVAL,
            codes.SIP_REGISTER_INTERVAL_RANGE,
        ),
        ({"from_number": "+33 1 23"}, Field.SIP_FROM_NUMBER, codes.SIP_FROM_NUMBER_INVALID),
        ({"from_number": "fax"}, Field.SIP_FROM_NUMBER, codes.SIP_FROM_NUMBER_INVALID),
        ({"display_name": 'say "hi"'}, Field.SIP_DISPLAY_NAME, codes.SIP_DISPLAY_NAME_INVALID),
        ({"display_name": "x" * 65}, Field.SIP_DISPLAY_NAME, codes.SIP_DISPLAY_NAME_INVALID),
        ({"international_prefix": "+"}, Field.SIP_INTERNATIONAL_PREFIX, codes.SIP_PREFIX_INVALID),
        (
            {"international_prefix": "00000"},
            Field.SIP_INTERNATIONAL_PREFIX,
            codes.SIP_PREFIX_INVALID,
        ),
        ({"ring_timeout_s": 4}, Field.SIP_RING_TIMEOUT, codes.SIP_RING_TIMEOUT_RANGE),
        ({"ring_timeout_s": 301}, Field.SIP_RING_TIMEOUT, codes.SIP_RING_TIMEOUT_RANGE),
        ({"codecs": ()}, Field.SIP_CODECS, codes.SIP_CODECS_EMPTY),
        ({"codecs": (Codec.PCMU, Codec.PCMU)}, Field.SIP_CODECS, codes.SIP_CODECS_REPEATED),
        ({"t38_offer_after_s": -1}, Field.SIP_T38_OFFER_AFTER, codes.SIP_T38_OFFER_AFTER_RANGE),
        ({"t38_offer_after_s": 61}, Field.SIP_T38_OFFER_AFTER, codes.SIP_T38_OFFER_AFTER_RANGE),
        ({"rtp_port_min": 10001}, Field.SIP_RTP_PORT_MIN, codes.SIP_RTP_PORT_ODD),
        ({"rtp_port_min": 1022}, Field.SIP_RTP_PORT_MIN, codes.SIP_RTP_PORT_BOUNDS),
        ({"rtp_port_max": 65536}, Field.SIP_RTP_PORT_MAX, codes.SIP_RTP_PORT_BOUNDS),
        (
            {"rtp_port_min": 20000, "rtp_port_max": 20000},
            Field.SIP_RTP_PORT_MAX,
            codes.SIP_RTP_PORTS_ORDER,
        ),
        (
            {"rtp_port_min": 20000, "rtp_port_max": 20014},
            Field.SIP_RTP_PORT_MAX,
            codes.SIP_RTP_PORTS_TOO_FEW,
        ),
    ],
)
def test_each_bad_setting_is_named_by_its_field(
    change: dict[str, Any], field: Field, code: Code
) -> None:
    assert problems(replace(TRUNK, **change)) == [(field, code.code)]


def test_registering_needs_a_user_and_a_user_needs_a_password() -> None:
    anonymous = SipLineSettings(proxy_host="192.0.2.1", register=True)

    assert problems(anonymous) == [(Field.SIP_USERNAME, codes.SIP_REGISTER_NEEDS_USERNAME.code)]
    assert problems(replace(anonymous, register=False)) == []  # a trunk that trusts our address


def test_every_problem_is_found_at_once() -> None:
    bad = replace(TRUNK, proxy_host="", proxy_port=0, ring_timeout_s=0, rtp_port_min=3)

    assert [field for field, _ in problems(bad)] == [
        Field.SIP_PROXY_HOST,
        Field.SIP_PROXY_PORT,
        Field.SIP_RING_TIMEOUT,
        Field.SIP_RTP_PORT_MIN,
    ]


@given(
    first=st.integers(min_value=512, max_value=32_000).map(lambda n: n * 2),
    size=st.integers(min_value=2, max_value=2_000),
    channels=st.integers(min_value=1, max_value=256),
)
def test_a_port_range_is_enough_exactly_when_it_holds_every_channel(
    first: int, size: int, channels: int
) -> None:
    last = min(first + size - 1, 65_535)
    found = problems(replace(TRUNK, rtp_port_min=first, rtp_port_max=last), channels)

    if last - first + 1 >= PORTS_PER_CHANNEL * channels:
        assert found == []
    else:
        assert found == [(Field.SIP_RTP_PORT_MAX, codes.SIP_RTP_PORTS_TOO_FEW.code)]


def test_the_too_few_ports_message_says_how_many_are_needed() -> None:
    _, [error] = check_sip_line(
        replace(TRUNK, rtp_port_min=10000, rtp_port_max=10009), channel_limit=8
    )

    assert str(error.message) == (
        "the media port range holds 10 ports; a channel limit of 8 needs 32"
    )
    assert translator("fr").message(error.message) == (
        "la plage de ports média compte 10 ports ; une limite de 8 appels simultanés en demande 32"
    )


def test_the_password_never_shows_in_a_repr_a_str_or_a_copy() -> None:
    line = Line(1, 1, "Trunk", LineKind.SIP, "FR", "", "", 4, None, sip=TRUNK)  # type: ignore[arg-type]
    settings = LineSettings("Trunk", LineKind.SIP, "FR", "", "", 4, sip=TRUNK)

    for shown in (
        repr(TRUNK),
        str(TRUNK),
        repr(line),
        repr(settings),
        f"{TRUNK.password}",
        str(dataclasses.asdict(TRUNK)),
        repr(copy.deepcopy(TRUNK)),
        repr(pickle.loads(pickle.dumps(TRUNK))),
    ):
        assert SECRET not in shown
    assert "Password('***')" in repr(TRUNK)
    assert repr(Password()) == "Password('')"
    assert TRUNK.password.reveal() == SECRET
    assert pickle.loads(pickle.dumps(TRUNK)) == TRUNK
    assert Password(SECRET) == TRUNK.password != Password("other")
    assert len({Password(SECRET), TRUNK.password}) == 1
    with pytest.raises(AttributeError):
        TRUNK.password._value = "changed"


def test_a_password_that_cannot_be_opened_is_kept_as_stored_and_never_revealed() -> None:
    stored = "sealed:v1:under-another-key"
    sip = replace(TRUNK, password=Password.unreadable(stored))

    assert sip.password
    assert not sip.password.readable
    assert sip.password.stored == stored
    assert repr(sip.password) == "Password(<unreadable>)"
    assert stored not in repr(sip)
    with pytest.raises(ConfigError) as caught:
        sip.password.reveal()
    assert caught.value.message.code == codes.SIP_PASSWORD_UNREADABLE.code
    assert translator("fr").message(caught.value.message).startswith("le mot de passe SIP de cette")
    assert pickle.loads(pickle.dumps(sip)) == copy.deepcopy(sip) == sip
    assert sip.password != Password(stored)
    # Kept by an edit that does not give a new one: nothing in it to check.
    assert check_sip_line(sip, channel_limit=4)[1] == []


def test_an_error_names_the_field_in_the_api_and_on_the_form() -> None:
    _, [error] = check_sip_line(replace(TRUNK, proxy_port=0), channel_limit=1)

    assert isinstance(error, InputError)
    assert (error.field.api, error.field.form) == ("sip.proxyPort", "proxy_port")  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------ dialling


@pytest.mark.parametrize(
    ("number", "country", "e164", "international", "national"),
    [
        ("+33123456789", "FR", "+33123456789", "0033123456789", "0123456789"),
        ("+33123456789", "BE", "+33123456789", "0033123456789", "0033123456789"),
        ("+390612345678", "IT", "+390612345678", "00390612345678", "0612345678"),  # leading 0
        ("+12015550123", "US", "+12015550123", "0012015550123", "12015550123"),
        ("+14165550123", "US", "+14165550123", "0014165550123", "14165550123"),  # Canada: NANP
        ("+442079460000", "GB", "+442079460000", "00442079460000", "02079460000"),
        ("+74951234567", "RU", "+74951234567", "0074951234567", "84951234567"),
        ("3615", "FR", "3615", "3615", "3615"),  # a short number, kept as dialled
    ],
)
def test_each_rule_dials_the_number_as_the_trunk_expects(
    number: str, country: str, e164: str, international: str, national: str
) -> None:
    dialled = [
        dial_string(number, rule, country=country, international_prefix="00") for rule in Dialling
    ]

    assert dialled == [e164, international, national]
    sip = replace(TRUNK, dialling=Dialling.INTERNATIONAL, international_prefix="011")
    assert sip.dial("+33123456789", country="US") == "01133123456789"


_REGIONS = sorted(
    region
    for region in phonenumbers.SUPPORTED_REGIONS
    if phonenumbers.example_number(region) is not None
)


@st.composite
def e164_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A valid number of some country, as stored (E.164), and that country."""
    region = draw(st.sampled_from(_REGIONS))
    example = phonenumbers.example_number(region)
    assert example is not None
    nsn = phonenumbers.national_significant_number(example)
    # Vary the example's last digits and keep the variant only if it is still a valid number.
    tail = draw(st.text("0123456789", min_size=min(3, len(nsn)), max_size=min(3, len(nsn))))
    varied = phonenumbers.parse(f"+{example.country_code}{nsn[: -len(tail)]}{tail}")
    chosen = varied if phonenumbers.is_valid_number(varied) else example
    return phonenumbers.format_number(chosen, phonenumbers.PhoneNumberFormat.E164), region


@settings(max_examples=300, deadline=None)
@given(e164_numbers(), st.sampled_from(_REGIONS), st.text("0123456789", min_size=1, max_size=4))
def test_every_rule_dials_digits_that_reach_the_same_number(
    stored: tuple[str, str], line_country: str, prefix: str
) -> None:
    number, _ = stored
    e164, international, national = (
        dial_string(number, rule, country=line_country, international_prefix=prefix)
        for rule in Dialling
    )

    assert e164 == number
    assert international == prefix + number[1:]
    assert national.isdigit()
    same_code = phonenumbers.parse(number).country_code == phonenumbers.country_code_for_region(
        line_country
    )
    if not same_code:
        assert national == international
    elif phonenumbers.is_valid_number_for_region(phonenumbers.parse(number), line_country):
        # Dialled from a phone in the line's country, the national digits reach the number.
        assert phonenumbers.parse(national, line_country) == phonenumbers.parse(number)


@given(st.text("0123456789", min_size=3, max_size=17), st.sampled_from(list(Dialling)))
def test_a_number_kept_as_dialled_passes_unchanged(digits: str, rule: Dialling) -> None:
    assert dial_string(digits, rule, country="FR", international_prefix="00") == digits
