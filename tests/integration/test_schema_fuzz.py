"""schemathesis against the app's own OpenAPI document, with a valid token: no 5xx, and every
answer is one the document describes (status code, media type, body, headers)."""

from __future__ import annotations

from typing import Any, Final

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err, Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from faxcast.bootstrap import create_app
from faxcast.services.context import Services
from tests import pdfs
from tests.asgi import SyncAsgiTransport
from tests.identity import new_user

EXAMPLES_PER_OPERATION: Final = 10
CHECKS: Final = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def _existing_ids(svc: Services, bearer: dict[str, str]) -> dict[str, Any]:
    """An account of the admin's with a line, a PDF and a campaign: ids that are found."""
    app = create_app(svc)
    with httpx.Client(transport=SyncAsgiTransport(app), base_url="http://faxcast.test") as http:
        http.headers.update(bearer)
        account = http.post("/telephony", json={"name": "Fuzz"}).json()["id"]
        line = http.get(f"/telephony/{account}/fax").json()[0]["id"]
        document = http.post(
            "/me/document", params={"account": account}, files={"file": ("a.pdf", pdfs.text_pdf())}
        ).json()["id"]
        campaign = http.post(
            f"/telephony/{account}/fax/{line}/campaigns",
            json={
                "name": "Fuzz",
                "documentId": document,
                "sendType": "manual",
                "recipientsList": "+33 1 23 45 67 89",
            },
        ).json()["id"]
    return {
        "account": account,
        "line": line,
        "campaign": campaign,
        "document": document,
        "attempt": 1,
        "page": 1,
    }


@pytest.mark.slow
def test_every_operation_answers_as_its_openapi_document_says(svc: Services) -> None:
    admin = new_user(svc, "fuzzer", {})
    real = _existing_ids(svc, admin.bearer)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(svc))
    results = list(schema.get_all_operations())
    assert not [r.err() for r in results if isinstance(r, Err)]  # the document is valid
    # Deleting goes last, so that the other operations find the campaign.
    operations = sorted(
        (r.ok() for r in results if isinstance(r, Ok)),
        key=lambda operation: operation.method.upper() == "DELETE",
    )
    assert len(operations) > 20
    failures: list[str] = []
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        # Ids of objects that exist, then ids generated at random (mostly not found).
        existing = {n: real[n] for n in names if n in real}
        # Ids of objects that exist, then ids generated at random (mostly not found), then
        # invalid input of every kind.
        runs = [
            (GenerationMode.POSITIVE, existing),
            (GenerationMode.POSITIVE, None),
            (GenerationMode.NEGATIVE, None),
        ]
        for mode, fixed in runs:
            strategy = operation.as_strategy(mode, headers=admin.bearer, path_parameters=fixed)

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def fuzz(case: schemathesis.Case[Any]) -> None:
                response = case.call()
                case.validate_response(response, checks=CHECKS)

            try:
                fuzz()
            except Unsatisfiable:
                # Only a route that takes no input at all has no invalid input to send.
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as failure:
                failures.append(f"{operation.label} ({mode.value}): {failure}")
    assert not failures, "\n\n".join(failures)
