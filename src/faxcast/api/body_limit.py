"""Request bodies limited while they stream in: a pure ASGI middleware, and the API's 413.

A body that declares a larger Content-Length is refused before a byte of it is read; one that
does not (chunked) is counted as it arrives and refused as soon as it passes the limit, so no
form parser ever buffers or spools more than the limit to memory or disk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from fastapi import Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from faxcast.api.problems import Problem, problem_response, texts
from faxcast.i18n import Message as Text
from faxcast.i18n import codes, megabytes, size_over_limit

TOO_LARGE: Final = "/problems/too-large"

Refusal = Callable[[Request, int | None], Response]
"""The 413 answer to a request whose body declared that many bytes (None: it did not say),
in the form (problem+json or page) its client reads."""


class _BodyTooLargeError(Exception):
    """The body passed the limit while it was read; the middleware answers instead."""


class BodyLimit:
    """Refuse request bodies larger than `limit` bytes with `refuse`'s 413, while streaming."""

    def __init__(self, app: ASGIApp, *, limit: int, refuse: Refusal) -> None:
        self.app = app
        self.limit = limit
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with its body counted; answer 413 once it is too large."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared > self.limit:
            await self.refuse(Request(scope), declared)(scope, receive, send)
            return
        received = 0
        exceeded = started = False

        async def counted() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    exceeded = True
                    raise _BodyTooLargeError
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # the app's answer to the failed read: the 413 replaces it
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            # Whatever the app made of the failed read (FastAPI turns it into a 400).
            if not exceeded or started:
                raise
        if exceeded and not started:
            # A body sent in chunks is not read to its end: its size stays unknown.
            await self.refuse(Request(scope), None)(scope, receive, send)


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0  # the server refuses a malformed length itself
    return 0


def too_large_message(size: int | None, *, limit: int, document_limit: int) -> Text:
    """What a 413 says: the limits, and the body's size when it declared one."""
    document_mb = megabytes(document_limit)
    if size is None:
        return codes.REQUEST_TOO_LARGE(limit_mb=megabytes(limit), document_mb=document_mb)
    size_mb, limit_mb = size_over_limit(size, limit)
    return codes.REQUEST_SIZE_TOO_LARGE(size_mb=size_mb, limit_mb=limit_mb, document_mb=document_mb)


def too_large_problem(request: Request, message: Text) -> Response:
    """The API's 413: problem+json in the request's language."""
    t = texts(request)
    return problem_response(
        request,
        Problem(
            type=TOO_LARGE,
            title=t.message(codes.PROBLEM_TOO_LARGE()),
            status=413,
            detail=t.message(message),
        ),
        {"Connection": "close"},
    )
