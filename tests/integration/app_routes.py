"""The app's routes as the sweeps read them: from the OpenAPI document and the route table.

Web pages are not in the OpenAPI document, so both are read; a route added later is found
without editing the tests that use this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount, Route

from faxcast.web.rendering import HtmlRoute
from tests.integration.two_accounts import Tenant

# Answer without credentials, by design; every other route needs a token or a session.
PUBLIC: Final = frozenset(
    {
        "/healthz",
        "/readyz",
        "/metrics",
        "/sign-in",
        "/setup/{token}",
        "/lang/{code}",
        "/static",
        "/openapi.json",
    }
)
# Path parameters that are not an object's id, and the value the sweep gives them.
OTHER_PARAMS: Final = {"page": "1", "code": "en"}
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


@dataclass(frozen=True)
class Endpoint:
    """One method of one route: a web page (or form) or an API operation."""

    method: str
    path: str
    web: bool

    @property
    def params(self) -> list[str]:
        """The path's parameters, in order."""
        return _PARAM.findall(self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every route of the app (the API's as its OpenAPI document lists them), but mounts."""
    found: list[Endpoint] = []
    for route in iter_route_contexts(app.routes):
        original = route.original_route
        if isinstance(original, Mount):
            assert route.path in PUBLIC, f"mount {route.path} is not known to be public"
            continue
        assert isinstance(original, APIRoute | Route), f"a route of an unknown kind: {original}"
        assert route.path is not None
        for method in sorted((route.methods or set()) - {"HEAD"}):
            found.append(Endpoint(method, route.path, isinstance(original, HtmlRoute)))
    document = app.openapi()
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    served = {(e.method, e.path) for e in found}
    assert documented <= served, documented - served
    assert PUBLIC - {"/static"} <= {e.path for e in found}, "the allowlist names a lost route"
    return found


def own_path(endpoint: Endpoint, tenant: Tenant) -> str:
    """The endpoint's path with the tenant's own ids; a parameter it cannot fill fails the test
    (a new kind of id goes into Tenant.ids, so that new routes are swept too)."""
    values = {**OTHER_PARAMS, **{k: str(v) for k, v in tenant.first_ids().items()}}
    unknown = [p for p in endpoint.params if p not in values]
    assert not unknown, f"{endpoint}: the sweeps cannot fill {unknown}"
    return endpoint.path.format(**values)
