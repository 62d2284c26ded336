"""The FastAPI application, built on demand from Services by the composition root."""

from __future__ import annotations

from importlib import metadata
from typing import Any, Final

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.types import ASGIApp

from faxcast.api import problems
from faxcast.api.problems import problem_responses
from faxcast.api.routes import ROUTERS, monitoring
from faxcast.api.security_headers import SecurityHeaders
from faxcast.services.context import Services

DESCRIPTION: Final = """\
Send one PDF to many fax numbers and follow every delivery. The resource model is the telecom
provider's: accounts under `/telephony`, their fax lines under `/telephony/{account}/fax`, a
line's campaigns under `.../fax/{line}/campaigns`, the caller's documents under `/me/document`;
an account's users and audit log under `/telephony/{account}/users` and `.../audit`, the caller
and their API tokens under `/me` and `/me/token`.

**Who calls.** Every route but the probes needs an API token, sent as `Authorization: Bearer
fxc_…` (made with `faxcast token create` or on the web page « Jetons d'API »): none, or one that
is unknown, revoked or expired, is a 401. A token acts for its user: `/telephony` lists their
accounts, `/me/document` holds the documents of all of them. An account that is not theirs, and
everything in it, is not found (404, never 403); a member's attempt at an admin's action (lines,
users, the audit log) is a 403.

**Errors** are RFC 9457 problem details (`application/problem+json`): `type`, `title`, `status`,
`detail`, `instance`, and for bad input an `errors` list with one entry per problem, naming the
`field`, and for a list of numbers the `line`, `column` and `text` of each bad entry (for a
document, its `page`), with a stable `code` (`numbers.not_a_digit`; for a document its problem,
such as `encrypted`). Texts are in English, or in French for `Accept-Language: fr`. Another
account's objects are not found (404); an action the campaign's state does not allow is a 409.
Bad input is refused before anything is stored.
"""


class _FaxcastApi(FastAPI):
    """FastAPI whose OpenAPI document says that error responses are problem+json, and whose
    every response carries the security headers."""

    def build_middleware_stack(self) -> ASGIApp:
        """Starlette's stack inside SecurityHeaders: added as a middleware it would sit inside
        ServerErrorMiddleware, and an unexpected error's 500 would go out without them."""
        return SecurityHeaders(super().build_middleware_stack())

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document, built once."""
        if self.openapi_schema is None:
            schema = get_openapi(
                title=self.title,
                version=self.version,
                description=self.description,
                routes=self.routes,
            )
            for path_item in schema.get("paths", {}).values():
                for operation in path_item.values():
                    if "requestBody" in operation:
                        # A body that cannot be read at all (JSON not in UTF-8, say) is a 400.
                        operation["responses"].setdefault("400", _problem("Bad Request"))
                    for code, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if code[0] in "45" and "application/json" in content:
                            content[problems.PROBLEM_JSON] = content.pop("application/json")
            self.openapi_schema = schema
        return self.openapi_schema


def create_api(svc: Services) -> FastAPI:
    """The API over `svc`: routes, problem handlers and its OpenAPI document at /openapi.json."""
    app = _FaxcastApi(
        title="faxcast",
        version=_version(),
        description=DESCRIPTION,
        generate_unique_id_function=_operation_id,
        # FastAPI's pages for it load their scripts from a CDN and run inline ones: none here.
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = svc
    problems.install(app)
    for router in ROUTERS:
        needs_token = router is not monitoring.router
        app.include_router(router, responses=problem_responses(401) if needs_token else None)
    return app


def _problem(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {"description": description, "content": {problems.PROBLEM_JSON: {"schema": schema}}}


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


def _version() -> str:
    try:
        return metadata.version("faxcast")
    except metadata.PackageNotFoundError:
        return "0.0.0"
