"""Secrets handed to users (set-up links, session cookies, API tokens): random, kept hashed."""

from __future__ import annotations

import hashlib
import secrets
from typing import Final

MAX_CHARS: Final = 128  # longer than any secret made here: not looked up at all


def new_secret(prefix: str = "") -> str:
    """A new secret: 256 random bits, URL-safe, after `prefix`."""
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What is stored of a secret: its SHA-256 (the secret is random, so no slow hash is needed)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def plausible(secret: str | None) -> bool:
    """Whether `secret` may be one of ours, worth a lookup."""
    return bool(secret) and len(secret or "") <= MAX_CHARS
