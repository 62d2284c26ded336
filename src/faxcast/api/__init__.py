"""The REST API (FastAPI): `create_api(services)` builds it; nothing happens at import."""

from faxcast.api.app import create_api

__all__ = ["create_api"]
