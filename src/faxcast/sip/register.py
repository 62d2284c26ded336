"""REGISTER (RFC 3261 section 10): a client binding kept fresh, a small registrar, a line probe.

`Registration` re-REGISTERs at half the granted expiry (sooner after a failure) with one
Call-ID and rising CSeq; `probe()` answers "test this line" with a plain `ProbeResult`.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
from dataclasses import dataclass

from faxcast.sip.digest import Credentials, DigestVerifier, Verdict
from faxcast.sip.message import SipRequest, SipResponse
from faxcast.sip.transaction import ServerTransaction, make_response, new_tag
from faxcast.sip.transport import Address
from faxcast.sip.ua import RequestResult, UserAgent
from faxcast.sip.uri import NameAddr, SipUri

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegisterResult:
    """One REGISTER's outcome; `expires_s` is what the registrar granted (None if refused)."""

    status: int | None
    phrase: str
    expires_s: int | None
    round_trip_ms: float | None
    challenged: bool = False

    @property
    def ok(self) -> bool:
        """Whether the registrar accepted the binding."""
        return self.status is not None and 200 <= self.status < 300


def _granted(response: SipResponse, contact: SipUri, asked: int) -> int:
    for address in response.contacts:
        if address.uri.host == contact.host and address.uri.port == contact.port:
            value = next((v for k, v in address.params if k.lower() == "expires"), None)
            if value is not None and value.isdigit():
                return int(value)
    header = response.headers.get("Expires")
    return int(header) if header is not None and header.isdigit() else asked


class Registration:
    """A binding of `aor` to this user agent, refreshed until `stop()`."""

    def __init__(
        self,
        ua: UserAgent,
        aor: SipUri,
        *,
        registrar: Address | None = None,
        credentials: Credentials | None = None,
        expires_s: int = 3600,
        retry_s: float = 30.0,
    ) -> None:
        self.ua = ua
        self.aor = aor
        self.registrar = registrar
        self.credentials = credentials
        self.expires_s = expires_s
        self.retry_s = retry_s
        self.last: RegisterResult | None = None
        self._call_id = f"{secrets.token_hex(10)}@{ua.address[0]}"
        self._cseq = 0
        self._task: asyncio.Task[None] | None = None

    async def register(self, expires_s: int | None = None) -> RegisterResult:
        """Send one REGISTER (answering a digest challenge) and return what came back."""
        asked = self.expires_s if expires_s is None else expires_s
        result = await self.ua.request(
            "REGISTER",
            SipUri(host=self.aor.host, port=self.aor.port),
            proxy=self.registrar,
            credentials=self.credentials,
            from_=NameAddr(self.aor),
            to=NameAddr(self.aor),
            call_id=self._call_id,
            cseq=self._cseq + 1,
            headers=(("Expires", str(asked)),),
        )
        self._cseq = result.last_cseq
        self.last = _result(result, self.ua.contact(self.aor.user), asked)
        return self.last

    async def start(self) -> RegisterResult:
        """Register now, then keep refreshing in the background."""
        first = await self.register()
        self._task = asyncio.ensure_future(self._refresh(first))
        return first

    async def _refresh(self, result: RegisterResult) -> None:
        while True:
            if result.ok and result.expires_s:
                await asyncio.sleep(max(result.expires_s / 2, 1.0))
            else:
                await asyncio.sleep(self.retry_s)
            result = await self.register()
            if not result.ok:
                log.info("REGISTER of %s failed: %s %s", self.aor, result.status, result.phrase)

    async def stop(self) -> None:
        """Stop refreshing and remove the binding (REGISTER with Expires: 0)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.register(0)


def _result(result: RequestResult, contact: SipUri, asked: int) -> RegisterResult:
    response = result.response
    if response is None:
        return RegisterResult(None, "no response", None, None)
    ok = 200 <= response.status < 300
    expires = _granted(response, contact, asked) if ok else None
    return RegisterResult(
        response.status, response.reason, expires, result.round_trip_ms, result.challenged
    )


class AuthCheck(enum.Enum):
    """What a probe learnt about the line's credentials."""

    NOT_ASKED = "not_asked"  # the peer did not challenge
    ACCEPTED = "accepted"
    REFUSED = "refused"  # wrong or missing credentials


@dataclass(frozen=True)
class ProbeResult:
    """The answer to "test this line"."""

    reachable: bool
    auth: AuthCheck
    status: int | None
    phrase: str
    round_trip_ms: float | None


async def probe(
    ua: UserAgent,
    aor: SipUri,
    *,
    proxy: Address | None = None,
    credentials: Credentials | None = None,
    register: bool = False,
) -> ProbeResult:
    """OPTIONS to the proxy (or REGISTER, then unregister) and a plain verdict."""
    if register:
        registration = Registration(ua, aor, registrar=proxy, credentials=credentials, expires_s=60)
        registered = await registration.register()
        if registered.ok:
            await registration.register(0)  # a test, not a registration: leave no binding
        status, phrase, challenged = registered.status, registered.phrase, registered.challenged
        round_trip_ms = registered.round_trip_ms
    else:
        domain = SipUri(host=aor.host, port=aor.port)
        result = await ua.request("OPTIONS", domain, proxy=proxy, credentials=credentials)
        response, round_trip_ms, challenged = (
            result.response,
            result.round_trip_ms,
            result.challenged,
        )
        status, phrase = (response.status, response.reason) if response else (None, "no response")
    if status is None:
        return ProbeResult(False, AuthCheck.NOT_ASKED, None, phrase, None)
    if not challenged:
        auth = AuthCheck.NOT_ASKED
    elif status in (401, 403, 407):
        auth = AuthCheck.REFUSED
    else:
        auth = AuthCheck.ACCEPTED
    return ProbeResult(True, auth, status, phrase, round_trip_ms)


class Registrar:
    """A minimal registrar for tests and the virtual phone network: digest, then bindings."""

    def __init__(self, verifier: DigestVerifier | None = None, max_expires_s: int = 3600) -> None:
        self.verifier = verifier
        self.max_expires_s = max_expires_s
        self.bindings: dict[str, SipUri] = {}
        self.registers: list[SipRequest] = []

    def __call__(self, request: SipRequest, transaction: ServerTransaction) -> None:
        """Handle a REGISTER (as a `UserAgent` `on_request` handler); other methods get 405."""
        if request.method != "REGISTER":
            transaction.respond(make_response(request, 405, to_tag=new_tag()))
            return
        self.registers.append(request)
        if self.verifier is not None:
            verdict = self.verifier.check(request)
            if verdict is not Verdict.ACCEPTED:
                response = make_response(request, 401, to_tag=new_tag())
                stale = verdict is Verdict.STALE
                response.headers.add("WWW-Authenticate", self.verifier.challenge(stale=stale))
                transaction.respond(response)
                return
        asked = request.headers.get("Expires")
        expires = min(int(asked), self.max_expires_s) if asked and asked.isdigit() else 3600
        aor = str(request.to.uri)
        response = make_response(request, 200, to_tag=new_tag())
        if expires == 0:
            self.bindings.pop(aor, None)
        elif request.contacts:
            contact = request.contacts[0].uri
            self.bindings[aor] = contact
            response.headers.add("Contact", f"<{contact}>;expires={expires}")
        transaction.respond(response)
