"""HTTP digest for SIP (RFC 7616, RFC 2617, RFC 3261 section 22): answer 401/407, or demand it.

The client side answers `WWW-Authenticate`/`Proxy-Authenticate` with MD5 or SHA-256, with
`qop=auth` (counting `nc` per nonce) or without qop. The verifier issues signed nonces that
expire (answered `stale=true`), so a test peer can demand authentication without keeping state.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from faxcast.sip.errors import SipSyntaxError
from faxcast.sip.message import SipRequest
from faxcast.sip.uri import split_outside_quotes

_HASHES: Mapping[str, Callable[[bytes], hashlib._Hash]] = {
    "MD5": hashlib.md5,
    "SHA-256": hashlib.sha256,
}
# Strongest first: when a server offers several challenges the client takes the first it knows.
ALGORITHMS = ("SHA-256", "SHA-256-sess", "MD5", "MD5-sess")
MAX_AUTH_PARAMS = 32


@dataclass(frozen=True)
class Credentials:
    """A SIP account's digest user name and password."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=<hidden>)"


@dataclass(frozen=True)
class Challenge:
    """One parsed `Digest` challenge."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False

    @classmethod
    def parse(cls, value: str) -> Challenge:
        """Parse a `WWW-Authenticate` or `Proxy-Authenticate` value."""
        params = parse_auth_params(value)
        if "realm" not in params or "nonce" not in params:
            raise SipSyntaxError("digest challenge without realm or nonce")
        qop = tuple(q.strip().lower() for q in params.get("qop", "").split(",") if q.strip())
        return cls(
            realm=params["realm"],
            nonce=params["nonce"],
            algorithm=params.get("algorithm", "MD5"),
            qop=qop,
            opaque=params.get("opaque"),
            stale=params.get("stale", "").lower() == "true",
        )

    @property
    def supported(self) -> bool:
        """Whether this client can answer it (a known algorithm; qop absent or offering auth)."""
        return self.algorithm.upper() in (a.upper() for a in ALGORITHMS) and (
            not self.qop or "auth" in self.qop
        )


def parse_auth_params(value: str) -> dict[str, str]:
    """`Digest a="x", b=y` as a dict with lowercase names and unquoted values."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        raise SipSyntaxError(f"authentication scheme {scheme[:20]!r} is not Digest")
    parts = split_outside_quotes(rest, ",")
    if len(parts) > MAX_AUTH_PARAMS:
        raise SipSyntaxError("too many digest parameters")
    params: dict[str, str] = {}
    for part in parts:
        name, equals, raw = part.strip().partition("=")
        if not equals or not name.strip():
            raise SipSyntaxError("digest parameter without a value")
        params[name.strip().lower()] = _unquote(raw.strip())
    return params


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw.startswith('"') and raw.endswith('"'):
        inner = raw[1:-1]
        out: list[str] = []
        i = 0
        while i < len(inner):
            if inner[i] == "\\" and i + 1 < len(inner):
                i += 1
            out.append(inner[i])
            i += 1
        return "".join(out)
    if '"' in raw:
        raise SipSyntaxError("badly quoted digest parameter")
    return raw


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def choose_challenge(values: list[str]) -> Challenge | None:
    """The strongest challenge this client can answer among a response's header values."""
    parsed: list[Challenge] = []
    for value in values:
        try:
            parsed.append(Challenge.parse(value))
        except SipSyntaxError:
            continue  # another scheme (Basic, Bearer) or a broken one: try the others
    usable = [c for c in parsed if c.supported]
    order = [a.upper() for a in ALGORITHMS]
    usable.sort(key=lambda c: order.index(c.algorithm.upper()))
    return usable[0] if usable else None


def digest_response(
    *,
    algorithm: str,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: str = "",
    cnonce: str = "",
) -> str:
    """The `response` value of RFC 7616 section 3.4.1 (qop `auth` or none)."""
    base = algorithm.upper().removesuffix("-SESS")
    if base not in _HASHES:
        raise SipSyntaxError(f"digest algorithm {algorithm[:20]!r} is not supported")

    def h(text: str) -> str:
        return _HASHES[base](text.encode()).hexdigest()

    ha1 = h(f"{username}:{realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    ha2 = h(f"{method}:{uri}")
    if qop:
        return h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return h(f"{ha1}:{nonce}:{ha2}")


class DigestClient:
    """Builds Authorization headers, counting `nc` for each nonce it reuses."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self._counts: dict[str, int] = {}

    def authorization(self, challenge: Challenge, method: str, uri: str) -> str:
        """The `Authorization`/`Proxy-Authorization` value answering this challenge."""
        qop = "auth" if challenge.qop else None
        count = self._counts.get(challenge.nonce, 0) + 1
        self._counts = {challenge.nonce: count}  # only the latest nonce is worth counting
        nc = f"{count:08x}"
        cnonce = secrets.token_hex(8)
        response = digest_response(
            algorithm=challenge.algorithm,
            username=self.credentials.username,
            realm=challenge.realm,
            password=self.credentials.password,
            method=method,
            uri=uri,
            nonce=challenge.nonce,
            qop=qop,
            nc=nc,
            cnonce=cnonce,
        )
        parts = [
            f"username={_quote(self.credentials.username)}",
            f"realm={_quote(challenge.realm)}",
            f"nonce={_quote(challenge.nonce)}",
            f"uri={_quote(uri)}",
            f"response={_quote(response)}",
            f"algorithm={challenge.algorithm}",
        ]
        if challenge.opaque is not None:
            parts.append(f"opaque={_quote(challenge.opaque)}")
        if qop:
            parts += [f"qop={qop}", f"nc={nc}", f"cnonce={_quote(cnonce)}"]
        return "Digest " + ", ".join(parts)


class Verdict(enum.Enum):
    """What a verifier thinks of a request's credentials."""

    ACCEPTED = "accepted"
    MISSING = "missing"
    WRONG = "wrong"
    STALE = "stale"


class DigestVerifier:
    """The server side: issues challenges and checks answers against a table of users."""

    def __init__(
        self,
        realm: str,
        users: Mapping[str, str],
        *,
        algorithm: str = "MD5",
        qop: bool = True,
        nonce_lifetime_s: float = 300.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.realm = realm
        self.users = dict(users)
        self.algorithm = algorithm
        self.qop = qop
        self.nonce_lifetime_s = nonce_lifetime_s
        self._now = now
        self._secret = secrets.token_bytes(16)

    def challenge(self, *, stale: bool = False) -> str:
        """A `WWW-Authenticate`/`Proxy-Authenticate` value with a fresh nonce."""
        parts = [
            f"realm={_quote(self.realm)}",
            f"nonce={_quote(self._nonce())}",
            f"algorithm={self.algorithm}",
        ]
        if self.qop:
            parts.append('qop="auth"')
        if stale:
            parts.append("stale=true")
        return "Digest " + ", ".join(parts)

    def check(self, request: SipRequest, header: str = "Authorization") -> Verdict:
        """Whether the request's credentials (in `header`) answer one of our challenges."""
        for value in request.headers.values(header):
            try:
                params = parse_auth_params(value)
            except SipSyntaxError:
                continue
            if params.get("realm") == self.realm:
                return self._check(request.method, params)
        return Verdict.MISSING

    def _check(self, method: str, params: dict[str, str]) -> Verdict:
        password = self.users.get(params.get("username", ""))
        nonce = params.get("nonce", "")
        if password is None or not self._signed(nonce):
            return Verdict.WRONG
        qop = params.get("qop")
        if self.qop and qop != "auth":
            return Verdict.WRONG
        try:
            expected = digest_response(
                algorithm=params.get("algorithm", "MD5"),
                username=params["username"],
                realm=self.realm,
                password=password,
                method=method,
                uri=params.get("uri", ""),
                nonce=nonce,
                qop=qop,
                nc=params.get("nc", ""),
                cnonce=params.get("cnonce", ""),
            )
        except SipSyntaxError:
            return Verdict.WRONG
        if not hmac.compare_digest(expected, params.get("response", "")):
            return Verdict.WRONG
        issued = int(nonce.split(".")[0], 16) / 1000
        if self._now() - issued > self.nonce_lifetime_s:
            return Verdict.STALE
        return Verdict.ACCEPTED

    def _nonce(self) -> str:
        stamp = f"{int(self._now() * 1000):x}"
        return f"{stamp}.{self._sign(stamp)}"

    def _sign(self, stamp: str) -> str:
        return hmac.new(self._secret, stamp.encode(), hashlib.sha256).hexdigest()[:32]

    def _signed(self, nonce: str) -> bool:
        stamp, _, signature = nonce.partition(".")
        try:
            int(stamp, 16)
        except ValueError:
            return False
        return hmac.compare_digest(self._sign(stamp), signature)
