"""Settings: defaults are the domain's; the secret key is configured or kept in the data folder."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import SecretStr

from faxcast.config import SECRET_KEY_FILE, Settings, secret_key
from faxcast.documents import DocumentLimits
from faxcast.domain.numbers import DEFAULT_MAX_RECIPIENTS
from faxcast.domain.retry import RetryPolicy
from faxcast.errors import ConfigError

CONFIGURED = "k" * 40


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FAXCAST_"):
            monkeypatch.delenv(name)


def test_default_settings_are_the_domains_defaults(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)

    assert settings.retry_policy == RetryPolicy()
    assert settings.document_limits == DocumentLimits()
    assert settings.max_recipients == DEFAULT_MAX_RECIPIENTS


def test_without_a_configured_key_one_is_made_in_the_data_folder_owner_only(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"

    key = secret_key(Settings(data_dir=data_dir))

    kept = data_dir / SECRET_KEY_FILE
    assert len(key) >= 32
    assert kept.read_bytes().strip() == key
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert [p.name for p in data_dir.iterdir()] == [SECRET_KEY_FILE]  # no temporary file left


def test_the_kept_key_is_reused_after_a_restart(tmp_path: Path) -> None:
    first = secret_key(Settings(data_dir=tmp_path))

    assert secret_key(Settings(data_dir=tmp_path)) == first


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "fresh")

    with ThreadPoolExecutor(max_workers=16) as pool:
        keys = set(pool.map(lambda _: secret_key(settings), range(64)))

    assert len(keys) == 1
    assert [p.name for p in settings.data_dir.iterdir()] == [SECRET_KEY_FILE]


def test_a_configured_key_wins_and_nothing_is_written(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key=SecretStr(CONFIGURED))

    assert secret_key(settings) == CONFIGURED.encode()
    assert not (tmp_path / SECRET_KEY_FILE).exists()


def test_the_key_is_read_from_the_environment_and_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAXCAST_SECRET_KEY", CONFIGURED)
    settings = Settings(data_dir=tmp_path)

    assert secret_key(settings) == CONFIGURED.encode()
    assert CONFIGURED not in repr(settings)
    assert CONFIGURED not in str(settings.model_dump())


def test_a_short_key_is_refused_without_being_shown(tmp_path: Path) -> None:
    short = "s3cr3t-but-short"

    with pytest.raises(ConfigError, match="at least 32 characters") as refused:
        secret_key(Settings(data_dir=tmp_path, secret_key=SecretStr(short)))

    assert short not in str(refused.value)


def test_an_emptied_key_file_is_refused_rather_than_replaced(tmp_path: Path) -> None:
    (tmp_path / SECRET_KEY_FILE).write_bytes(b"\n")

    with pytest.raises(ConfigError, match="delete the file"):
        secret_key(Settings(data_dir=tmp_path))


def test_a_data_folder_that_cannot_keep_a_key_says_to_configure_one(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")

    with pytest.raises(ConfigError, match="set FAXCAST_SECRET_KEY"):
        secret_key(Settings(data_dir=not_a_folder))
