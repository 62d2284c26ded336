"""The REST API (FastAPI): `create_app(services)` builds it; nothing happens at import."""

from faxcast.api.app import create_app

__all__ = ["create_app"]
