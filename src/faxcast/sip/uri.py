"""SIP URIs and name-addrs (RFC 3261 section 19.1, 20.10): `"Name" <sip:user@host:port;p>;tag=x`."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace

from faxcast.sip.errors import SipSyntaxError

Params = tuple[tuple[str, str | None], ...]
"""`;name=value` parameters in order; a bare `;lr` has the value None."""

_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9])?\.?")
_USER = re.compile(r"[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+")
_PARAM_VALUE = re.compile(r"[A-Za-z0-9\-_.!~*'()\[\]/:&+$%]*")


def get_param(params: Params, name: str) -> str | None:
    """The value of a parameter (names compare case-insensitively); None when absent or bare."""
    lowered = name.lower()
    for key, value in params:
        if key.lower() == lowered:
            return value
    return None


def has_param(params: Params, name: str) -> bool:
    """Whether the parameter is present, bare or with a value."""
    lowered = name.lower()
    return any(key.lower() == lowered for key, _ in params)


def with_param(params: Params, name: str, value: str | None) -> Params:
    """The parameters with `name` set to `value` (replaced in place, or added at the end)."""
    lowered = name.lower()
    if has_param(params, name):
        return tuple((k, value) if k.lower() == lowered else (k, v) for k, v in params)
    return (*params, (name, value))


def format_params(params: Params) -> str:
    """`;a=1;lr` for these parameters."""
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params)


def parse_params(text: str, what: str) -> Params:
    """Parameters written `;a=1;b` (the text starts after the first `;`)."""
    params: list[tuple[str, str | None]] = []
    for raw in split_outside_quotes(text, ";"):
        part = raw.strip()
        if not part:
            raise SipSyntaxError(f"empty parameter in {what}")
        name, sep, value = part.partition("=")
        name = name.strip()
        if not _TOKEN.fullmatch(name):
            raise SipSyntaxError(f"bad parameter name {name!r} in {what}")
        if not sep:
            params.append((name, None))
            continue
        value = value.strip()
        if not (value.startswith('"') and value.endswith('"') and len(value) >= 2) and not (
            _PARAM_VALUE.fullmatch(value)
        ):
            raise SipSyntaxError(f"bad value for parameter {name!r} in {what}")
        params.append((name, value))
    return tuple(params)


def split_outside_quotes(text: str, separator: str) -> list[str]:
    """Split on `separator` where it is not inside a quoted string or `<...>`."""
    parts: list[str] = []
    start = 0
    quoted = False
    angle = False
    i = 0
    while i < len(text):
        char = text[i]
        if quoted:
            if char == "\\":
                i += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "<":
            angle = True
        elif char == ">":
            angle = False
        elif char == separator and not angle:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    if quoted:
        raise SipSyntaxError("unterminated quoted string")
    parts.append(text[start:])
    return parts


def format_host(host: str) -> str:
    """An IPv6 address in brackets, any other host as it is."""
    return f"[{host}]" if ":" in host else host


def parse_hostport(text: str, what: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]` or `[v6]:port`; the host comes back without brackets."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise SipSyntaxError(f"unclosed IPv6 reference in {what}")
        host, rest = text[1:end], text[end + 1 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise SipSyntaxError(f"bad IPv6 address in {what}") from None
    else:
        host, colon, port_text = text.partition(":")
        rest = colon + port_text
        if not _HOSTNAME.fullmatch(host):
            raise SipSyntaxError(f"bad host {host!r} in {what}")
    if not rest:
        return host, None
    if not rest.startswith(":") or not rest[1:].isdigit() or len(rest) > 6:
        raise SipSyntaxError(f"bad port in {what}")
    port = int(rest[1:])
    if port > 65535:
        raise SipSyntaxError(f"port {port} out of range in {what}")
    return host, port


@dataclass(frozen=True)
class SipUri:
    """A `sip:` or `sips:` URI; `user` and `password` are kept escaped as written."""

    host: str
    user: str | None = None
    port: int | None = None
    params: Params = ()
    headers: str | None = None
    password: str | None = None
    scheme: str = "sip"

    @classmethod
    def parse(cls, text: str) -> SipUri:
        """Parse a SIP URI, or raise SipSyntaxError."""
        scheme, colon, rest = text.strip().partition(":")
        if not colon or scheme.lower() not in ("sip", "sips"):
            raise SipSyntaxError(f"not a sip: URI: {text[:80]!r}")
        rest, question, headers = rest.partition("?")
        user: str | None = None
        password: str | None = None
        if "@" in rest:
            userinfo, _, rest = rest.rpartition("@")
            user, has_password, secret = userinfo.partition(":")
            password = secret if has_password else None
            if not _USER.fullmatch(user) or not _USER.fullmatch(password or "x"):
                raise SipSyntaxError("bad user part in URI")
        hostport, semi, params_text = rest.partition(";")
        host, port = parse_hostport(hostport, "URI")
        params = parse_params(params_text, "URI") if semi else ()
        return cls(
            host=host,
            user=user,
            port=port,
            params=params,
            headers=headers if question else None,
            password=password,
            scheme=scheme.lower(),
        )

    def __str__(self) -> str:
        userinfo = ""
        if self.user is not None:
            secret = f":{self.password}" if self.password is not None else ""
            userinfo = f"{self.user}{secret}@"
        port = f":{self.port}" if self.port is not None else ""
        headers = f"?{self.headers}" if self.headers is not None else ""
        host = format_host(self.host)
        return f"{self.scheme}:{userinfo}{host}{port}{format_params(self.params)}{headers}"

    def param(self, name: str) -> str | None:
        """A URI parameter's value."""
        return get_param(self.params, name)

    def with_param(self, name: str, value: str | None) -> SipUri:
        """This URI with a parameter set."""
        return replace(self, params=with_param(self.params, name, value))


@dataclass(frozen=True)
class NameAddr:
    """A From, To, Contact, Route or Record-Route value: optional display name, URI, parameters."""

    uri: SipUri
    display: str | None = None
    params: Params = field(default=())

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        """Parse `"Name" <uri>;p=v`, `Name <uri>` or a bare `uri;p=v` (`;p` is the header's)."""
        text = text.strip()
        display: str | None = None
        if "<" in text or text.startswith('"'):
            if text.startswith('"'):
                end = _closing_quote(text)
                display = text[: end + 1]
                text = text[end + 1 :].lstrip()
                if not text.startswith("<"):
                    raise SipSyntaxError("quoted display name without <uri>")
            open_at = text.find("<")
            if open_at < 0:
                raise SipSyntaxError("missing <uri>")
            name = text[:open_at].strip()
            if name:
                if display is not None or not all(_TOKEN.fullmatch(w) for w in name.split()):
                    raise SipSyntaxError("bad display name")
                display = name
            close_at = text.find(">", open_at)
            if close_at < 0:
                raise SipSyntaxError("unclosed <uri>")
            uri = SipUri.parse(text[open_at + 1 : close_at])
            rest = text[close_at + 1 :].strip()
        else:
            uri_text, _, after = text.partition(";")
            uri = SipUri.parse(uri_text)
            rest = ";" + after if after else ""
        if rest and not rest.startswith(";"):
            raise SipSyntaxError("text after <uri> is not a parameter")
        params = parse_params(rest[1:], "address") if rest else ()
        return cls(uri=uri, display=display, params=params)

    def __str__(self) -> str:
        display = f"{self.display} " if self.display else ""
        return f"{display}<{self.uri}>{format_params(self.params)}"

    @property
    def tag(self) -> str | None:
        """The `tag` parameter that names one side of a dialog."""
        return get_param(self.params, "tag")

    def with_tag(self, tag: str) -> NameAddr:
        """This address with its tag set."""
        return replace(self, params=with_param(self.params, "tag", tag))


def _closing_quote(text: str) -> int:
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    raise SipSyntaxError("unterminated display name")
