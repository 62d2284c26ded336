"""Settings, read once from the environment (FAXCAST_*) with embedded defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from faxcast.documents import DocumentLimits
from faxcast.domain.retry import RetryPolicy


class Settings(BaseSettings):
    """Everything an operator may set; the defaults run a single-host server on SQLite."""

    model_config = SettingsConfigDict(env_prefix="FAXCAST_", frozen=True)

    data_dir: Path = Field(default=Path("faxcast-data"))
    database_url: str | None = None
    blob_store: str = "files"
    host: str = "127.0.0.1"
    port: int = 8080
    default_country: str = "FR"
    default_timezone: str = "Europe/Paris"
    max_pages: int = 50
    max_document_bytes: int = 20 * 1024 * 1024
    max_recipients: int = 10_000
    channel_limit: int = 4
    sandbox_realtime: bool = False
    worker_poll_s: float = 0.5
    worker_max_calls: int = 16
    dead_worker_s: float = 30.0
    retry_busy_s: float = 180.0
    retry_no_answer_s: float = 300.0
    retry_congestion_s: float = 60.0
    retry_no_fax_s: float = 300.0
    retry_transfer_s: float = 60.0
    kill_time_s: float = 3 * 3600.0

    @property
    def document_limits(self) -> DocumentLimits:
        """The PDF limits as the documents layer takes them."""
        return DocumentLimits(max_pages=self.max_pages, max_bytes=self.max_document_bytes)

    @property
    def retry_policy(self) -> RetryPolicy:
        """DESIGN.md's retry policy with this deployment's waits."""
        return RetryPolicy(
            busy_wait_s=self.retry_busy_s,
            no_answer_wait_s=self.retry_no_answer_s,
            congestion_wait_s=self.retry_congestion_s,
            no_fax_wait_s=self.retry_no_fax_s,
            transfer_wait_s=self.retry_transfer_s,
            kill_time_s=self.kill_time_s,
        )
