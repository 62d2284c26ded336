"""Digest authentication: RFC 7616/2617/2069 vectors, challenge parsing, the verifier."""

from __future__ import annotations

import pytest

from faxcast.sip.digest import (
    Challenge,
    Credentials,
    DigestClient,
    DigestVerifier,
    Verdict,
    choose_challenge,
    digest_response,
    parse_auth_params,
)
from faxcast.sip.errors import SipSyntaxError
from faxcast.sip.message import SipRequest
from faxcast.sip.uri import SipUri

RFC7616 = {
    "username": "Mufasa",
    "realm": "http-auth@example.org",
    "password": "Circle of Life",
    "method": "GET",
    "uri": "/dir/index.html",
    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "qop": "auth",
    "nc": "00000001",
    "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
}


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_rfc7616_section_3_9_1_vectors(algorithm: str, expected: str) -> None:
    assert digest_response(algorithm=algorithm, **RFC7616) == expected


def test_rfc2617_qop_auth_vector() -> None:
    response = digest_response(
        algorithm="MD5",
        username="Mufasa",
        realm="testrealm@host.com",
        password="Circle Of Life",
        method="GET",
        uri="/dir/index.html",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert response == "6629fae49393a05397450978507c4ef1"


def test_rfc2069_vector_without_qop() -> None:
    response = digest_response(
        algorithm="MD5",
        username="Mufasa",
        realm="testrealm@host.com",
        password="CircleOfLife",
        method="GET",
        uri="/dir/index.html",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
    )
    assert response == "1949323746fe6a43ef61f9606e7febea"


def test_rfc3665_challenge_is_parsed() -> None:
    challenge = Challenge.parse(
        'Digest realm="atlanta.example.com", qop="auth", '
        'nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5'
    )
    assert challenge == Challenge(
        realm="atlanta.example.com",
        nonce="f84f1cec41e6cbe5aea9c8e88d359",
        algorithm="MD5",
        qop=("auth",),
        opaque="",
        stale=False,
    )


def test_quoted_values_with_commas_and_escapes() -> None:
    params = parse_auth_params(r'Digest realm="a, \"b\"", nonce=x, qop="auth,auth-int"')
    assert params == {"realm": 'a, "b"', "nonce": "x", "qop": "auth,auth-int"}


@pytest.mark.parametrize(
    "value",
    ['Basic realm="x"', 'Digest realm="x"', "Digest realm", 'Digest realm="x, nonce="y"'],
)
def test_unusable_challenges_are_refused(value: str) -> None:
    with pytest.raises(SipSyntaxError):
        Challenge.parse(value)


def test_the_strongest_known_challenge_is_chosen() -> None:
    values = [
        'Basic realm="r"',
        'Digest realm="r", nonce="1", algorithm=SHA-512-256, qop="auth"',
        'Digest realm="r", nonce="2", algorithm=MD5, qop="auth"',
        'Digest realm="r", nonce="3", algorithm=SHA-256, qop="auth"',
        'Digest realm="r", nonce="4", qop="auth-int"',
    ]
    chosen = choose_challenge(values)
    assert chosen is not None
    assert chosen.nonce == "3"
    assert choose_challenge(values[:2]) is None


def test_nc_counts_uses_of_one_nonce_and_restarts_with_a_new_one() -> None:
    client = DigestClient(Credentials("alice", "pw"))
    first = Challenge("r", "n1", qop=("auth",))
    headers = [client.authorization(first, "INVITE", "sip:b@h") for _ in range(2)]
    headers.append(client.authorization(Challenge("r", "n2", qop=("auth",)), "BYE", "sip:b@h"))
    assert [parse_auth_params(h)["nc"] for h in headers] == ["00000001", "00000002", "00000001"]
    assert 'opaque="' not in headers[0]
    with_opaque = client.authorization(Challenge("r", "n3", opaque="o"), "INVITE", "sip:b@h")
    assert 'opaque="o"' in with_opaque
    assert "qop=" not in with_opaque


def test_credentials_never_show_the_password() -> None:
    assert "pw" not in repr(Credentials("alice", "pw"))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def authorised_request(verifier: DigestVerifier, username: str, password: str) -> SipRequest:
    challenge = Challenge.parse(verifier.challenge())
    request = SipRequest(method="INVITE", uri=SipUri("example.com", "fax"))
    client = DigestClient(Credentials(username, password))
    request.headers.add("Authorization", client.authorization(challenge, "INVITE", "sip:x@y"))
    return request


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_the_verifier_accepts_refuses_and_finds_stale_nonces(algorithm: str) -> None:
    clock = Clock()
    verifier = DigestVerifier(
        "faxcast.test", {"alice": "pw"}, algorithm=algorithm, nonce_lifetime_s=60, now=clock
    )
    good = authorised_request(verifier, "alice", "pw")
    assert verifier.check(good) is Verdict.ACCEPTED
    assert verifier.check(authorised_request(verifier, "alice", "nope")) is Verdict.WRONG
    assert verifier.check(authorised_request(verifier, "mallory", "pw")) is Verdict.WRONG
    assert verifier.check(SipRequest(method="INVITE")) is Verdict.MISSING
    clock.now += 61
    assert verifier.check(good) is Verdict.STALE
    assert "stale=true" in verifier.challenge(stale=True)


def test_the_verifier_refuses_a_nonce_it_did_not_sign() -> None:
    verifier = DigestVerifier("faxcast.test", {"alice": "pw"})
    other = DigestVerifier("faxcast.test", {"alice": "pw"})
    assert verifier.check(authorised_request(other, "alice", "pw")) is Verdict.WRONG
