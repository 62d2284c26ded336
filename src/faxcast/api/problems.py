"""Errors as RFC 9457 problem details (application/problem+json), one handler per base class.

Starlette finds a handler by walking the exception's MRO, so the handlers below cover the whole
FaxcastError tree (errors.py). Every problem has `type`, `title`, `status`, `detail` and
`instance`; input problems add `errors`, one entry per field, list entry or document page, each
with a stable `code`, and `errorsTotal` (a list of numbers names its first 100 bad entries
only). Texts are in the Accept-Language's language (French or English, the default), said in
Content-Language. Anything unexpected is a bare 500 that names only a request
id, under which it was logged.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from faxcast.domain.numbers import RecipientListError
from faxcast.errors import (
    AuthError,
    ConflictError,
    DocumentError,
    FaxcastError,
    ForbiddenError,
    InputError,
    MultipleInputError,
    NotFoundError,
    ThrottledError,
)
from faxcast.i18n import (
    Code,
    Message,
    OneOf,
    Translator,
    codes,
    declared,
    negotiate,
    translator,
)

PROBLEM_JSON: Final = "application/problem+json"
INVALID_INPUT: Final = "/problems/invalid-input"
NOT_FOUND: Final = "/problems/not-found"
CONFLICT: Final = "/problems/conflict"
BAD_REQUEST: Final = "/problems/bad-request"
UNAUTHORIZED: Final = "/problems/unauthorized"
FORBIDDEN: Final = "/problems/forbidden"
THROTTLED: Final = "/problems/throttled"

_log = logging.getLogger(__name__)
_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
# FastAPI's locations of a request value; the first item of a validation error's `loc`.
_SOURCES: Final = frozenset({"body", "query", "path", "header", "cookie"})


class ProblemItem(BaseModel):
    """One thing wrong with the input: where (field, list line and column, page) and why."""

    field: str | None = Field(default=None, description="the input at fault, as the API names it")
    line: int | None = Field(
        default=None,
        description="1-based line in a list of numbers; in an array of them, the entry's index + 1",
    )
    column: int | None = Field(default=None, description="1-based column (characters) on that line")
    text: str | None = Field(default=None, description="the entry as typed")
    page: int | None = Field(default=None, description="1-based page of a document")
    code: str | None = Field(
        default=None,
        description=(
            "stable reason code: a document's problem (encrypted …), else the message's code "
            "(numbers.not_a_digit …; for a malformed request, pydantic's error type: "
            "missing, int_parsing …)"
        ),
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
    errors_total: int | None = Field(
        default=None,
        serialization_alias="errorsTotal",
        description="how many problems were found; `errors` lists at most 100 of a list's",
    )
    request_id: str | None = Field(default=None, serialization_alias="requestId")
    code: str | None = Field(
        default=None, description="the stable code of a refusal's reason (404, 409...)"
    )


class BadRequestError(HTTPException):
    """A request the API cannot read at all (such as a missing header), naming what is wrong."""

    def __init__(self, message: Message, *, field: str) -> None:
        super().__init__(400, str(message))
        self.message = message
        self.field = field


def install(app: FastAPI) -> None:
    """Register the handlers: one per base class, found along the exception's MRO."""
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(ConflictError, _conflict)
    app.add_exception_handler(AuthError, _unauthorized)
    app.add_exception_handler(ForbiddenError, _forbidden)
    app.add_exception_handler(ThrottledError, _throttled)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(BadRequestError, _bad_request)
    app.add_exception_handler(HTTPException, _http_exception)
    # FaxError, a damaged blob: faxcast's own, but nothing the caller can fix.
    app.add_exception_handler(FaxcastError, _unexpected)
    app.add_exception_handler(Exception, _unexpected)


def problem_response(
    request: Request, problem: Problem, headers: Mapping[str, str] | None = None
) -> Response:
    """The problem as application/problem+json, its `instance` the request's path, its
    Content-Language the one its texts were written in (negotiated as they were)."""
    if problem.instance is None:
        problem = problem.model_copy(update={"instance": request.url.path})
    return JSONResponse(
        problem.model_dump(mode="json", by_alias=True, exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers={
            **(headers or {}),
            "Content-Language": texts(request).lang,
            "Vary": "Accept-Language",
        },
    )


def texts(request: Request) -> Translator:
    """The texts in the request's Accept-Language."""
    return translator(negotiate(request.headers.get("accept-language")))


async def _input_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InputError)
    t = texts(request)
    # Each error's own message is short (a list's names its first few bad entries only).
    errors = exc.errors if isinstance(exc, MultipleInputError) else (exc,)
    located = tuple(
        codes.INPUT_FIELD(field=error.field.api, message=error.message)
        if error.field
        else error.message
        for error in errors
    )
    detail = t.message(codes.INPUT_SEVERAL(errors=located))
    return _invalid_input(request, t, detail, _items(exc, t), _total(exc))


def _invalid_input(
    request: Request,
    t: Translator,
    detail: str,
    items: Sequence[ProblemItem],
    total: int | None = None,
) -> Response:
    return problem_response(
        request,
        Problem(
            type=INVALID_INPUT,
            title=t.message(codes.PROBLEM_INVALID_INPUT()),
            status=422,
            detail=detail,
            errors=list(items),
            errors_total=len(items) if total is None else total,
        ),
    )


def _total(error: InputError) -> int:
    """How many problems an error stands for: a list's bad entries are all counted."""
    if isinstance(error, MultipleInputError):
        return sum(_total(inner) for inner in error.errors)
    if isinstance(error, RecipientListError) and error.problems:
        return error.problem_count
    return 1


def _items(error: InputError, t: Translator) -> list[ProblemItem]:
    """One entry per bad field, list entry or page; nested multiple errors are flattened."""
    if isinstance(error, MultipleInputError):
        return [item for inner in error.errors for item in _items(inner, t)]
    field = error.field.api if error.field else None
    if isinstance(error, RecipientListError) and error.problems:
        return [
            ProblemItem(
                field=field,
                line=problem.line,
                column=problem.column,
                text=problem.text,
                code=problem.reason.code,
                message=t.message(problem.reason),
            )
            for problem in error.problems
        ]
    if isinstance(error, DocumentError):
        return [
            ProblemItem(
                field=field,
                page=error.page,
                code=error.problem.value,
                message=t.message(error.message),
            )
        ]
    return [ProblemItem(field=field, code=error.message.code, message=t.message(error.message))]


async def _not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotFoundError)
    return _simple(request, exc, NOT_FOUND, 404, codes.PROBLEM_NOT_FOUND())


async def _conflict(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConflictError)
    return _simple(request, exc, CONFLICT, 409, codes.PROBLEM_CONFLICT())


async def _unauthorized(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthError)
    return _simple(
        request,
        exc,
        UNAUTHORIZED,
        401,
        codes.PROBLEM_UNAUTHORIZED(),
        {"WWW-Authenticate": "Bearer"},
    )


async def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ForbiddenError)
    return _simple(request, exc, FORBIDDEN, 403, codes.PROBLEM_FORBIDDEN())


async def _throttled(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ThrottledError)
    return _simple(
        request,
        exc,
        THROTTLED,
        429,
        codes.PROBLEM_THROTTLED(),
        {"Retry-After": str(exc.retry_after_s)},
    )


def _simple(
    request: Request,
    exc: FaxcastError,
    kind: str,
    status: int,
    title: Message,
    headers: Mapping[str, str] | None = None,
) -> Response:
    t = texts(request)
    return problem_response(
        request,
        Problem(
            type=kind,
            title=t.message(title),
            status=status,
            detail=t.message(exc.message),
            code=exc.message.code,
        ),
        headers,
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    t = texts(request)
    items = [_validation_item(error, t) for error in exc.errors()]
    located = tuple(
        codes.INPUT_FIELD(field=item.field, message=item.message) if item.field else item.message
        for item in items
    )
    return _invalid_input(request, t, t.message(codes.INPUT_SEVERAL(errors=located)), items)


def _validation_item(error: Mapping[str, Any], t: Translator) -> ProblemItem:
    """A pydantic error as an entry; its location becomes a field path such as `a.b[0]`.

    The text is faxcast's, never pydantic's wording. The entry's code is pydantic's error type
    (stable across pydantic 2, and finer than the text: int_type and int_parsing read alike), or
    faxcast's own code when a schema's validator raised it."""
    loc = tuple(error.get("loc", ()))
    kind = str(error.get("type", ""))
    if kind == "json_invalid":
        position = loc[1] if len(loc) > 1 else "?"
        reason = str((error.get("ctx") or {}).get("error", ""))
        message = codes.BODY_NOT_JSON(position=str(position), reason=reason)
        return ProblemItem(code=message.code, message=t.message(message).rstrip(": "))
    if loc and loc[0] in _SOURCES:
        if loc == ("body",) and kind == "missing":
            return ProblemItem(
                code=codes.BODY_MISSING.code, message=t.message(codes.BODY_MISSING())
            )
        loc = loc[1:]
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    line = ctx.get("line")
    return ProblemItem(
        field=path or None,
        line=line if isinstance(line, int) else None,
        code=kind or None,
        message=t.message(_validation_message(kind, ctx)),
    )


def _validation_message(kind: str, ctx: Mapping[str, Any]) -> Message:
    """Faxcast's text for a pydantic error type; "invalid value" for one not listed."""
    own = _DECLARED.get(kind)
    if own is not None and own.params == set(ctx):
        return own(**ctx)
    simple = _PYDANTIC_TYPES.get(kind)
    if simple is not None:
        return simple()
    limit = _PYDANTIC_LIMITS.get(kind)
    if limit is not None and limit[1] in ctx:
        return limit[0](limit=str(ctx[limit[1]]))
    if kind in {"enum", "literal_error"}:
        # pydantic's `expected` quotes each value and joins them in English: "'a', 'b' or 'c'".
        allowed = tuple(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        if allowed:
            return codes.VALUE_NOT_ONE_OF(allowed=OneOf(allowed))
    return codes.VALUE_INVALID()


# Pydantic's error types (https://docs.pydantic.dev/latest/errors/validation_errors/) that the
# API's schemas can raise, and faxcast's text for each.
_PYDANTIC_TYPES: Final[Mapping[str, Code]] = {
    "missing": codes.VALUE_MISSING,
    "extra_forbidden": codes.VALUE_UNKNOWN,
    "string_type": codes.VALUE_NOT_TEXT,
    "string_unicode": codes.VALUE_NOT_TEXT,
    "int_type": codes.VALUE_NOT_INTEGER,
    "int_parsing": codes.VALUE_NOT_INTEGER,
    "int_from_float": codes.VALUE_NOT_INTEGER,
    "int_parsing_size": codes.VALUE_NOT_INTEGER,
    "float_type": codes.VALUE_NOT_NUMBER,
    "float_parsing": codes.VALUE_NOT_NUMBER,
    "finite_number": codes.VALUE_NOT_NUMBER,
    "bool_type": codes.VALUE_NOT_BOOLEAN,
    "bool_parsing": codes.VALUE_NOT_BOOLEAN,
    "datetime_type": codes.VALUE_NOT_DATETIME,
    "datetime_parsing": codes.VALUE_NOT_DATETIME,
    "datetime_from_date_parsing": codes.VALUE_NOT_DATETIME,
    "datetime_object_invalid": codes.VALUE_NOT_DATETIME,
    "timezone_aware": codes.VALUE_NEEDS_OFFSET,
    "model_type": codes.VALUE_NOT_OBJECT,
    "model_attributes_type": codes.VALUE_NOT_OBJECT,
    "dict_type": codes.VALUE_NOT_OBJECT,
    "list_type": codes.VALUE_NOT_LIST,
}
# Types whose text names a limit, and the `ctx` entry holding it.
_PYDANTIC_LIMITS: Final[Mapping[str, tuple[Code, str]]] = {
    "string_too_short": (codes.VALUE_TEXT_TOO_SHORT, "min_length"),
    "string_too_long": (codes.VALUE_TEXT_TOO_LONG, "max_length"),
    "too_short": (codes.VALUE_TOO_FEW, "min_length"),
    "too_long": (codes.VALUE_TOO_MANY, "max_length"),
    "greater_than_equal": (codes.VALUE_AT_LEAST, "ge"),
    "less_than_equal": (codes.VALUE_AT_MOST, "le"),
    "greater_than": (codes.VALUE_MORE_THAN, "gt"),
    "less_than": (codes.VALUE_LESS_THAN, "lt"),
}
# Faxcast's codes a schema's validator raises as the error's type (api/schemas/_campaigns.py).
_DECLARED: Final[Mapping[str, Code]] = {code.code: code for code in declared()}


async def _bad_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadRequestError)
    t = texts(request)
    message = t.message(exc.message)
    return problem_response(
        request,
        Problem(
            type=BAD_REQUEST,
            title=t.message(codes.PROBLEM_BAD_REQUEST()),
            status=exc.status_code,
            detail=message,
            errors=[ProblemItem(field=exc.field, code=exc.message.code, message=message)],
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
        t = texts(request)
        path = request.url.path
        if exc.status_code == 404:
            detail = t.message(codes.NOTHING_AT(path=path))
        elif exc.status_code == 405:
            detail = t.message(codes.METHOD_NOT_ALLOWED(method=request.method, path=path))
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
    t = texts(request)
    return problem_response(
        request,
        Problem(
            title=t.message(codes.PROBLEM_UNEXPECTED()),
            status=500,
            detail=t.message(codes.UNEXPECTED_LOGGED(request_id=request_id)),
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
