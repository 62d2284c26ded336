"""Errors as RFC 9457 problem details (application/problem+json), one handler per base class.

Starlette finds a handler by walking the exception's MRO, so the handlers below cover the whole
FaxcastError tree (errors.py). Every problem has `type`, `title`, `status`, `detail` and
`instance`; input problems add `errors`, one entry per field, list entry or document page.
Anything unexpected is a bare 500 that names only a request id, under which it was logged.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from faxcast.domain.numbers import RecipientListError
from faxcast.errors import (
    ConflictError,
    DocumentError,
    FaxcastError,
    InputError,
    MultipleInputError,
    NotFoundError,
)

PROBLEM_JSON: Final = "application/problem+json"
INVALID_INPUT: Final = "/problems/invalid-input"
NOT_FOUND: Final = "/problems/not-found"
CONFLICT: Final = "/problems/conflict"
BAD_REQUEST: Final = "/problems/bad-request"

_log = logging.getLogger(__name__)
_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
# FastAPI's locations of a request value; the first item of a validation error's `loc`.
_SOURCES: Final = frozenset({"body", "query", "path", "header", "cookie"})


class ProblemItem(BaseModel):
    """One thing wrong with the input: where (field, list line and column, page) and why."""

    field: str | None = Field(default=None, description="the input at fault, as the API names it")
    line: int | None = Field(default=None, description="1-based line in a list of numbers")
    column: int | None = Field(default=None, description="1-based column (characters) on that line")
    text: str | None = Field(default=None, description="the entry as typed")
    page: int | None = Field(default=None, description="1-based page of a document")
    code: str | None = Field(
        default=None, description="stable reason code (documents: encrypted …)"
    )
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem; `errors` lists each bad input, `requestId` names a logged failure."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemItem] | None = None
    request_id: str | None = Field(default=None, serialization_alias="requestId")


class BadRequestError(HTTPException):
    """A request the API cannot read at all (such as a missing header), naming what is wrong."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(400, message)
        self.field = field


def rename_fields(request: Request, names: Mapping[str, str]) -> None:
    """Report errors on the fields the services name `names` keys under the API's names."""
    request.state.problem_fields = dict(names)


def install(app: FastAPI) -> None:
    """Register the handlers: one per base class, found along the exception's MRO."""
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(ConflictError, _conflict)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(BadRequestError, _bad_request)
    app.add_exception_handler(HTTPException, _http_exception)
    # FaxError, a damaged blob: faxcast's own, but nothing the caller can fix.
    app.add_exception_handler(FaxcastError, _unexpected)
    app.add_exception_handler(Exception, _unexpected)


def problem_response(
    request: Request, problem: Problem, headers: Mapping[str, str] | None = None
) -> Response:
    """The problem as application/problem+json, its `instance` the request's path."""
    if problem.instance is None:
        problem = problem.model_copy(update={"instance": request.url.path})
    return JSONResponse(
        problem.model_dump(mode="json", by_alias=True, exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


async def _input_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InputError)
    names: Mapping[str, str] = getattr(request.state, "problem_fields", {})

    def named(field: str | None) -> str | None:
        return names.get(field, field) if field else field

    items = [item.model_copy(update={"field": named(item.field)}) for item in _items(exc)]
    # Each error's own message is short (a list's names its first few bad entries only).
    errors = exc.errors if isinstance(exc, MultipleInputError) else (exc,)
    detail = "; ".join(
        f"{named(error.field)}: {error.message}" if error.field else error.message
        for error in errors
    )
    return _invalid_input(request, detail, items)


def _invalid_input(request: Request, detail: str, items: list[ProblemItem]) -> Response:
    return problem_response(
        request,
        Problem(type=INVALID_INPUT, title="Invalid input", status=422, detail=detail, errors=items),
    )


def _items(error: InputError) -> list[ProblemItem]:
    """One entry per bad field, list entry or page; nested multiple errors are flattened."""
    if isinstance(error, MultipleInputError):
        return [item for inner in error.errors for item in _items(inner)]
    if isinstance(error, RecipientListError) and error.problems:
        return [
            ProblemItem(
                field=error.field,
                line=problem.line,
                column=problem.column,
                text=problem.text,
                message=problem.reason,
            )
            for problem in error.problems
        ]
    if isinstance(error, DocumentError):
        return [
            ProblemItem(
                field=error.field, page=error.page, code=error.problem.value, message=error.message
            )
        ]
    return [ProblemItem(field=error.field, message=error.message)]


async def _not_found(request: Request, exc: Exception) -> Response:
    return problem_response(
        request, Problem(type=NOT_FOUND, title="Not found", status=404, detail=str(exc))
    )


async def _conflict(request: Request, exc: Exception) -> Response:
    return problem_response(
        request, Problem(type=CONFLICT, title="Conflict", status=409, detail=str(exc))
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    items = [_validation_item(error) for error in exc.errors()]
    detail = "; ".join(f"{i.field}: {i.message}" if i.field else i.message for i in items)
    return _invalid_input(request, detail, items)


def _validation_item(error: Mapping[str, Any]) -> ProblemItem:
    """A pydantic error as an entry; its location becomes a field path such as `a.b[0]`."""
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "json_invalid":
        position = loc[1] if len(loc) > 1 else "?"
        reason = (error.get("ctx") or {}).get("error", "")
        return ProblemItem(
            message=f"the body is not valid JSON (at character {position}): {reason}".rstrip(": ")
        )
    if loc and loc[0] in _SOURCES:
        if loc == ("body",) and error.get("type") == "missing":
            return ProblemItem(message="the request needs a JSON body")
        loc = loc[1:]
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return ProblemItem(field=path or None, message=str(error.get("msg", "invalid value")))


async def _bad_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadRequestError)
    return problem_response(
        request,
        Problem(
            type=BAD_REQUEST,
            title="Bad request",
            status=exc.status_code,
            detail=exc.detail,
            errors=[ProblemItem(field=exc.field, message=exc.detail)],
        ),
    )


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code < 200 or exc.status_code in {204, 205, 304}:
        return Response(status_code=exc.status_code, headers=headers)
    title = _phrase(exc.status_code)
    detail = exc.detail
    if detail == title:
        # Starlette's own 404 and 405 say no more than the status line; say what was asked.
        if exc.status_code == 404:
            detail = f"nothing at {request.url.path}"
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
    return problem_response(
        request, Problem(title=title, status=exc.status_code, detail=detail), headers
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    given = request.headers.get("x-request-id", "")
    # A caller's id is kept only if it is plain, since it goes into the log line as is.
    request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    _log.error(
        "request %s: %s %s failed", request_id, request.method, request.url.path, exc_info=exc
    )
    return problem_response(
        request,
        Problem(
            title="Internal Server Error",
            status=500,
            detail=f"an unexpected error occurred; it was logged under request id {request_id}",
            request_id=request_id,
        ),
        {"X-Request-Id": request_id},
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problems a route may answer with (the app serves them as
    application/problem+json)."""
    return {status: {"model": Problem, "description": _phrase(status)} for status in statuses}
