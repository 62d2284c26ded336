"""The isolation sweep: every route of the app, read from the app itself, with another account's
ids answers 404 and shows nothing of theirs; without credentials, 401 or the sign-in page.

An admin and a member sweep; a member's refusal of an admin's action (403) is accepted only
where their own ids get it too, so that it tells nothing about the other account.

The routes come from the OpenAPI document and the app's route table (the web pages are not in
the document), so a route added later is swept without editing this file; a path parameter the
sweep does not know how to fill fails it rather than being skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests import pdfs
from tests.integration.app_routes import OTHER_PARAMS, PUBLIC, Endpoint, endpoints, own_path
from tests.integration.two_accounts import PROBLEM, START, Site, Tenant, site

__all__ = ["site"]  # the fixture, imported for pytest

_SEPARATORS = re.compile(r"[\s.\-\u00a0\u202f]")


def leaks(response: httpx.Response, tenant: Tenant) -> list[str]:
    """The tenant's distinctive strings found in the response's body or headers."""
    text = response.content.decode("latin-1") + "\n" + str(response.headers)
    # Case-folded, and again with the separators a page may group numbers with left out.
    seen = (text.casefold(), _SEPARATORS.sub("", text).casefold())
    marks = [m.casefold() for m in tenant.marks]
    return [m for m in marks if any(m in s or _SEPARATORS.sub("", m) in s for s in seen)]


def example(schema: dict[str, Any], document: dict[str, Any]) -> Any:
    """A plain valid value of `schema`: its first example, else built from its type."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return example(document["components"]["schemas"][name], document)
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [s for s in schema.get(key, []) if s.get("type") != "null"]
        if options:
            return example(options[0], document)
    kind = schema.get("type")
    if kind == "object":
        required = set(schema.get("required", []))
        return {
            name: example(sub, document)
            for name, sub in schema.get("properties", {}).items()
            if name in required
        }
    if kind == "string":
        return START.isoformat() if schema.get("format") == "date-time" else "sweep"
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    return None


@dataclass
class Sweep:
    """Requests with one account's credentials and ids of another, and what they answered."""

    site: Site
    http: httpx.Client
    csrf: str
    member: bool
    failures: list[str]

    def bodies(self, endpoint: Endpoint, own: Tenant) -> dict[str, Any]:
        """The request's body: a valid one where the sweep knows it, so that only ids are wrong."""
        if endpoint.web:
            return {"headers": {"X-CSRF-Token": self.csrf}, "data": {}}
        document = self.site.app.openapi()
        operation = document["paths"][endpoint.path][endpoint.method.lower()]
        content = operation.get("requestBody", {}).get("content", {})
        lines = f"/telephony/{own.account}/fax"
        known: dict[tuple[str, str], Any] = {
            ("PUT", "/telephony/{account}/fax/{line}/settings"): self.http.get(
                f"{lines}/{own.line}/settings"
            ).json(),
            ("POST", "/telephony/{account}/fax/{line}/campaigns"): {
                "name": "Sweep",
                "documentId": own.pdf,
                "sendType": "manual",
                "recipientsType": "list",
                "recipientsList": "+33 1 23 45 67 89",
            },
        }
        known[("POST", "/telephony/{account}/fax/{line}/campaigns/check")] = known[
            ("POST", "/telephony/{account}/fax/{line}/campaigns")
        ]
        if (endpoint.method, endpoint.path) in known:
            return {"json": known[(endpoint.method, endpoint.path)]}
        if "application/json" in content:
            return {"json": example(content["application/json"]["schema"], document)}
        if "multipart/form-data" in content:
            schema = content["multipart/form-data"]["schema"]
            if "$ref" in schema:
                name = schema["$ref"].rsplit("/", 1)[-1]
                schema = document["components"]["schemas"][name]
            files = {
                name: ("sweep.pdf", pdfs.text_pdf(), "application/pdf")
                for name, sub in schema.get("properties", {}).items()
                if sub.get("format") == "binary" or sub.get("contentMediaType")
            }
            return {"files": files}
        return {}

    def expect_not_found(
        self,
        endpoint: Endpoint,
        path: str,
        own: Tenant,
        other: Tenant,
        params: dict[str, str] | None = None,
    ) -> None:
        """`path` names another's object: 404, in the route's form, with nothing of theirs."""
        answer = self.http.request(
            endpoint.method, path, params=params, **self.bodies(endpoint, own)
        )
        where = f"{endpoint.method} {path}{'?' + str(params) if params else ''}"
        if answer.status_code == 403 and self.member and self.refused_anyway(endpoint, own):
            pass  # a member's refusal of an admin's action, whichever the ids: it tells nothing
        elif answer.status_code != 404:
            self.failures.append(f"{where}: {answer.status_code} {answer.text[:120]!r}")
        elif not answer.headers["content-type"].startswith(
            "text/html" if endpoint.web else PROBLEM
        ):
            self.failures.append(f"{where}: 404 as {answer.headers['content-type']}")
        if found := leaks(answer, other):
            self.failures.append(f"{where}: shows {found}")

    def refused_anyway(self, endpoint: Endpoint, own: Tenant) -> bool:
        """Whether the caller is refused the endpoint with their own ids as well (403)."""
        path = own_path(endpoint, own)
        return (
            self.http.request(endpoint.method, path, **self.bodies(endpoint, own)).status_code
            == 403
        )


def variants(endpoint: Endpoint, own: Tenant, other: Tenant) -> Iterator[str]:
    """The endpoint's path with the other tenant's ids: all of them, then one at a time among
    the caller's own (the other's line in the caller's account, and so on)."""
    ids = [p for p in endpoint.params if p not in OTHER_PARAMS]
    theirs = other.first_ids()
    mine = own.first_ids()
    seen: set[str] = set()
    mappings = [theirs] + [{**mine, p: v} for p in ids for v in other.ids[p]]
    for mapping in mappings:
        path = endpoint.path.format(**OTHER_PARAMS, **{k: str(v) for k, v in mapping.items()})
        if path not in seen:
            seen.add(path)
            yield path


def unknown_params(routes: list[Endpoint], tenant: Tenant) -> list[str]:
    """Routes with a path parameter the sweep cannot fill: they must fail it, never be skipped."""
    return [
        f"{e}: {p}"
        for e in routes
        for p in e.params
        if p not in OTHER_PARAMS and p not in tenant.ids
    ]


@pytest.mark.parametrize("role", ["admin", "member"])
def test_another_accounts_ids_are_not_found_on_every_route(site: Site, role: str) -> None:
    routes = endpoints(site.app)
    assert len([e for e in routes if e.web]) > 20
    assert len([e for e in routes if not e.web]) > 20
    assert not unknown_params(routes, site.alpha)
    swept = [e for e in routes if e.path not in PUBLIC]
    own = site.alpha if role == "admin" else site.alpha.as_member()
    with site.client(site.alpha.admin if role == "admin" else site.alpha.member) as http:
        sweep = Sweep(site, http, site.csrf_token(http), role == "member", [])
        # Positive control: the caller's own ids reach their objects (or, for a member, an
        # admin's page refuses them), so every 404 below is about whose ids they are, not
        # about ids the sweep got wrong.
        reached = {200} if role == "admin" else {200, 403}
        for endpoint in swept:
            if endpoint.method == "GET" and endpoint.params:
                path = own_path(endpoint, own)
                answer = http.get(path)
                if answer.status_code not in reached:
                    sweep.failures.append(f"own {path}: {answer.status_code}")
        for endpoint in swept:
            for path in variants(endpoint, own, site.bravo):
                if endpoint.params:
                    sweep.expect_not_found(endpoint, path, own, site.bravo)
            if not endpoint.params and endpoint.method == "GET":
                # Lists and pages of the caller's own: nothing of the other account in them.
                answer = http.get(endpoint.path)
                found = leaks(answer, site.bravo)
                if answer.status_code >= 400 or found:
                    sweep.failures.append(f"{endpoint}: {answer.status_code}, shows {found}")
        # An id in the query (such as the account an upload goes to) is checked the same way.
        document = site.app.openapi()
        for endpoint in [e for e in routes if not e.web and e.path not in PUBLIC]:
            operation = document["paths"][endpoint.path][endpoint.method.lower()]
            for parameter in operation.get("parameters", []):
                name = parameter["name"]
                if parameter["in"] == "query" and name in site.bravo.ids:
                    path = own_path(endpoint, own)
                    for value in site.bravo.ids[name]:
                        sweep.expect_not_found(
                            endpoint, path, site.alpha, site.bravo, params={name: str(value)}
                        )
        # Public pages show nothing of anyone's either.
        for endpoint in [e for e in routes if e.path in PUBLIC and e.method == "GET"]:
            path = endpoint.path.format(**OTHER_PARAMS, token="x" * 43)
            if found := leaks(http.get(path), site.bravo):
                sweep.failures.append(f"{endpoint}: shows {found}")
    assert not sweep.failures, "\n".join(sweep.failures)
    # Nothing of bravo's was changed by the sweep's POSTs, PUTs and DELETEs.
    with site.client(site.bravo.admin) as http:
        campaign = f"/telephony/{site.bravo.account}/fax/{site.bravo.line}/campaigns"
        found = http.get(f"{campaign}/{site.bravo.campaign}").json()
        assert (found["name"], found["state"]) == ("bravo-campaign-name", "finished")
        assert http.get(f"{campaign}").json()["count"] == 1
        lines = http.get(f"/telephony/{site.bravo.account}/fax").json()
        assert sorted(line["name"] for line in lines) == ["Sandbox", "bravo-line-name"]
        assert len(http.get("/me/document").json()) == 2


def test_without_credentials_every_route_but_the_public_ones_refuses(site: Site) -> None:
    routes = endpoints(site.app)
    failures: list[str] = []
    bogus_token = {"Authorization": "Bearer fxc_" + "A" * 43}
    with (
        site.client(None) as anonymous,
        site.client(site.alpha.admin, session=False) as token_only,
        site.client(None) as session_only,
        site.client(None) as bogus,
    ):
        session_only.cookies.set("faxcast_session", site.alpha.admin.session)
        bogus.headers.update(bogus_token)
        bogus.cookies.set("faxcast_session", "B" * 43)
        for endpoint in routes:
            path = own_path(endpoint, site.alpha) if endpoint.params else endpoint.path
            if endpoint.path in PUBLIC:
                path = endpoint.path.format(**OTHER_PARAMS, token="x" * 43)
                answer = anonymous.request(endpoint.method, path)
                if answer.status_code in (401, 500) or "/sign-in?" in answer.headers.get(
                    "location", ""
                ):
                    failures.append(f"public {endpoint}: {answer.status_code}")
                continue
            # The API takes only a token, the pages only a session (a cookie would let another
            # site's form act through the API).
            clients = [anonymous, bogus, session_only if not endpoint.web else token_only]
            for client in clients:
                answer = client.request(endpoint.method, path)
                who = "nobody" if client is anonymous else "wrong credentials"
                if endpoint.web:
                    location = answer.headers.get("location", "")
                    if answer.status_code != 303 or not location.startswith("/sign-in?next="):
                        failures.append(f"{who} {endpoint.method} {path}: {answer.status_code}")
                elif (
                    answer.status_code != 401
                    or answer.headers["content-type"] != PROBLEM
                    or answer.headers.get("www-authenticate") != "Bearer"
                ):
                    failures.append(f"{who} {endpoint.method} {path}: {answer.status_code}")
                if found := leaks(answer, site.alpha):
                    failures.append(f"{who} {endpoint.method} {path}: shows {found}")
            if endpoint.web and endpoint.method == "GET":
                # A page's own refresh (app.js) is told 401, and reloads into the sign-in page.
                answer = anonymous.get(path, headers={"X-Requested-With": "fetch"})
                if answer.status_code != 401:
                    failures.append(f"fetch {path}: {answer.status_code}")
    assert not failures, "\n".join(failures)
