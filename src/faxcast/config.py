"""Settings, read once from the environment (FAXCAST_*) with embedded defaults."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path
from typing import Final, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from faxcast.domain.document_limits import DocumentLimits
from faxcast.domain.numbers import DEFAULT_MAX_RECIPIENTS
from faxcast.domain.retry import RetryPolicy
from faxcast.errors import ConfigError
from faxcast.i18n import codes

SECRET_KEY_FILE: Final = "secret_key"
"""Where in the data folder the secret key is kept when FAXCAST_SECRET_KEY is not set."""
SECRET_KEY_MIN_CHARS: Final = 32
DEFAULT_COUNTRY: Final = "FR"
DEFAULT_CHANNEL_LIMIT: Final = 4
REQUEST_MARGIN_BYTES: Final = 2 * 1024 * 1024
"""Room beside the largest document in a request: the new-campaign form's other fields (a list
of numbers, or a .txt file of them) and the multipart framing."""
# The limits and waits are the domain's and the documents layer's own defaults, declared there.
_DOCUMENT_DEFAULTS: Final = DocumentLimits()
_RETRY_DEFAULTS: Final = RetryPolicy()


class Settings(BaseSettings):
    """Everything an operator may set; the defaults run a single-host server on SQLite."""

    model_config = SettingsConfigDict(env_prefix="FAXCAST_", frozen=True)

    data_dir: Path = Field(default=Path("faxcast-data"))
    database_url: str | None = None
    blob_store: str = "files"
    host: str = "127.0.0.1"
    port: int = 8080
    default_country: str = DEFAULT_COUNTRY
    default_timezone: str = "Europe/Paris"
    # The language of a new account's faxes (their header line), as its time zone is theirs.
    default_language: Literal["en", "fr"] = "fr"
    max_pages: int = _DOCUMENT_DEFAULTS.max_pages
    max_document_bytes: int = _DOCUMENT_DEFAULTS.max_bytes
    render_memory_bytes: int = _DOCUMENT_DEFAULTS.render_memory_bytes
    render_timeout_s: float = _DOCUMENT_DEFAULTS.render_timeout_s
    render_children: int = Field(default=_DOCUMENT_DEFAULTS.render_children, ge=1)
    max_recipients: int = DEFAULT_MAX_RECIPIENTS
    channel_limit: int = DEFAULT_CHANNEL_LIMIT
    sandbox_realtime: bool = False
    worker_poll_s: float = 0.5
    worker_max_calls: int = 16
    # Above 0, the worker's event loop (which paces every call's media) runs round-robin at
    # this real-time priority, as media servers are run; it needs root or CAP_SYS_NICE.
    media_priority: int = Field(default=0, ge=0, le=99)
    # A claim's lease: a worker that has not renewed it for this long may be calling no more
    # (it hangs up first), and its call is recovered. Renewed every heartbeat_s (at most a
    # third of it); a result that cannot be written is tried again, waiting up to
    # record_retry_max_s between tries.
    dead_worker_s: float = 30.0
    heartbeat_s: float = 5.0
    record_retry_max_s: float = 5.0
    retry_busy_s: float = _RETRY_DEFAULTS.busy_wait_s
    retry_no_answer_s: float = _RETRY_DEFAULTS.no_answer_wait_s
    retry_congestion_s: float = _RETRY_DEFAULTS.congestion_wait_s
    retry_no_fax_s: float = _RETRY_DEFAULTS.no_fax_wait_s
    retry_transfer_s: float = _RETRY_DEFAULTS.transfer_wait_s
    kill_time_s: float = _RETRY_DEFAULTS.kill_time_s
    # Sign-in: a session ends after session_idle_s without a request, and session_max_s after
    # sign-in whatever; sign-ins are refused for sign_in_window_s once a login had
    # sign_in_login_failures refused ones in that window, or an address sign_in_address_failures.
    session_idle_s: float = Field(default=2 * 3600, gt=0)
    session_max_s: float = Field(default=12 * 3600, gt=0)
    sign_in_window_s: float = Field(default=15 * 60, gt=0)
    sign_in_login_failures: int = Field(default=5, ge=1)
    sign_in_address_failures: int = Field(default=20, ge=1)
    setup_link_s: float = Field(default=24 * 3600, gt=0)
    # Where users reach the server, for the set-up links printed and shown (default: host:port).
    public_url: str | None = None
    # Signs what the server hands out (the web forms' CSRF cookies) and seals the secrets it
    # stores (SIP passwords). Unset, a key is made in the data folder on first start; hosts that
    # share one database but not a data folder must set it.
    secret_key: SecretStr | None = None

    @property
    def document_limits(self) -> DocumentLimits:
        """The PDF limits as the documents layer takes them."""
        return DocumentLimits(
            max_pages=self.max_pages,
            max_bytes=self.max_document_bytes,
            render_memory_bytes=self.render_memory_bytes,
            render_timeout_s=self.render_timeout_s,
            render_children=self.render_children,
        )

    @property
    def max_request_bytes(self) -> int:
        """The largest request body accepted: a document and the rest of the form around it."""
        return self.max_document_bytes + REQUEST_MARGIN_BYTES

    @property
    def base_url(self) -> str:
        """The server's address as users reach it, without a trailing slash."""
        return self.public_url.rstrip("/") if self.public_url else http_url(self.host, self.port)

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


def http_url(host: str, port: int) -> str:
    """http://host:port, with an IPv6 host in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def secret_key(settings: Settings) -> bytes:
    """FAXCAST_SECRET_KEY, else the key kept in the data folder, made there on first start."""
    if settings.secret_key is None:
        return _kept_key(settings.data_dir / SECRET_KEY_FILE)
    key = settings.secret_key.get_secret_value().strip()
    if len(key) < SECRET_KEY_MIN_CHARS:
        raise ConfigError(codes.SECRET_KEY_SHORT(limit=SECRET_KEY_MIN_CHARS))
    return key.encode()


def _kept_key(path: Path) -> bytes:
    try:
        if not path.exists():
            _make_key(path)
        key = path.read_bytes().strip()
    except OSError as error:
        raise ConfigError(
            codes.SECRET_KEY_UNKEPT(path=str(path), reason=error.strerror or str(error))
        ) from error
    if len(key) < SECRET_KEY_MIN_CHARS:
        raise ConfigError(codes.SECRET_KEY_FILE_SHORT(path=str(path), limit=SECRET_KEY_MIN_CHARS))
    return key


def _make_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole beside it (mkstemp: owner-only), then linked into place. A link never
    # replaces a file, so of processes starting together the first wins and all read its key.
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    finally:
        os.unlink(temp)
