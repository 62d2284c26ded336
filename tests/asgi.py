"""The faxcast app in-process over httpx, for tests that speak HTTP without a server."""

from __future__ import annotations

import anyio
import httpx
from fastapi import FastAPI

from faxcast.bootstrap import create_app
from faxcast.services.context import Services
from tests.identity import as_tester


class SyncAsgiTransport(httpx.BaseTransport):
    """Each request through the ASGI app in its own event loop; a sync stand-in for TestClient.

    fastapi.testclient warns on import that it wants httpx2, and warnings are errors here.
    """

    def __init__(self, app: FastAPI, *, raise_app_exceptions: bool = True) -> None:
        self._asgi = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` to the app and return its whole response."""

        async def send() -> httpx.Response:
            response = await self._asgi.handle_async_request(request)
            body = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=body)

        return anyio.run(send)


def api_client(
    svc: Services, *, raise_app_exceptions: bool = True, signed_in: bool = True
) -> httpx.Client:
    """A client for a fresh app over `svc`, acting as the tests' admin of every account
    (tests.identity) unless `signed_in` is False."""
    transport = SyncAsgiTransport(create_app(svc), raise_app_exceptions=raise_app_exceptions)
    client = httpx.Client(transport=transport, base_url="http://faxcast.test")
    if signed_in:
        as_tester(svc, client)
    return client
