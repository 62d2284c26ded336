"""Probes and metrics for the operator: unauthenticated, cheap, outside the OpenAPI document."""

from __future__ import annotations

import asyncio
from typing import Final

from fastapi import APIRouter, Request, Response

from faxcast.api.deps import AppServicesDep
from faxcast.api.problems import Problem, problem_response, texts
from faxcast.i18n import codes
from faxcast.services import health, metrics

NOT_READY: Final = "/problems/not-ready"
# A probe must answer within its own timeout, even when the database hangs.
READY_TIMEOUT_S: Final = 2.0

router = APIRouter(tags=["monitoring"], include_in_schema=False)


@router.get("/healthz")
def healthz() -> Response:
    """The process answers (liveness)."""
    return Response("ok\n", media_type="text/plain")


@router.get("/readyz")
async def readyz(request: Request, svc: AppServicesDep) -> Response:
    """The database answers and its schema is at the migrations' head, else a 503 problem."""
    try:
        problem = await asyncio.wait_for(asyncio.to_thread(health.not_ready, svc), READY_TIMEOUT_S)
    except TimeoutError:
        problem = codes.NOT_READY_DATABASE(error="TimeoutError")
    if problem is None:
        return Response("ready\n", media_type="text/plain")
    t = texts(request)
    return problem_response(
        request,
        Problem(
            type=NOT_READY,
            title=t.message(codes.PROBLEM_NOT_READY()),
            status=503,
            detail=t.message(problem),
        ),
    )


@router.get("/metrics")
def prometheus(request: Request, svc: AppServicesDep) -> Response:
    """The Prometheus exposition: this process's counters, the system's calls and queue."""
    body, content_type = metrics.exposition(svc, request.headers.get("accept"))
    return Response(body, media_type=content_type)
