"""What a `faxcast` command loads: `--help` no database or PDF library, `campaign ls` on an
up-to-date database no PDF library, Alembic or web framework; an older database is migrated.

Behaviours, not timings: the start-up times are bench/cli.py's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from faxcast.store import migrate, revisions
from faxcast.store.database import create_engine_for, database_url_for
from tests.e2e.processes import COMMAND_TIMEOUT_S, faxcast_env, run_faxcast

# Runs the command as `faxcast` does, then writes the names of every module it loaded.
_PROBE = """
import json, sys
from faxcast.cli.main import main
try:
    main(sys.argv[2:])
finally:
    with open(sys.argv[1], "w") as out:
        json.dump(sorted(sys.modules), out)
"""


def _loaded(tmp_path: Path, *args: str) -> tuple[str, set[str]]:
    """The command's stdout and the modules it loaded, run in a new interpreter."""
    out = tmp_path / "modules.json"
    run = subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), *args],
        env=faxcast_env(tmp_path / "data"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
    )
    assert run.returncode == 0, (run.stdout, run.stderr)
    return run.stdout, set(json.loads(out.read_text()))


def _line(tmp_path: Path) -> str:
    """A fresh data folder with an account and its line; the line's id."""
    env, data = faxcast_env(tmp_path / "data"), tmp_path / "data"
    assert run_faxcast("account", "create", "acme", env=env, cwd=tmp_path).returncode == 0
    listed = run_faxcast("line", "ls", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert (data / "faxcast.db").is_file()
    return listed.stdout.split("\t")[0]


def test_help_lists_every_command_without_loading_the_database_or_pdf_libraries(
    tmp_path: Path,
) -> None:
    shown, loaded = _loaded(tmp_path, "--help")
    for command in ("account", "campaign", "line", "send", "serve", "worker", "phone-network"):
        assert f"\n  {command} " in shown
    assert "Fax campaigns: one document, many numbers." in shown
    assert not loaded & {"sqlalchemy", "numpy", "pypdfium2", "PIL", "alembic", "fastapi"}
    assert not {name for name in loaded if name.startswith("faxcast.services")}


def test_campaign_ls_on_an_up_to_date_database_loads_no_pdf_library_alembic_or_web(
    tmp_path: Path,
) -> None:
    line = _line(tmp_path)
    shown, loaded = _loaded(tmp_path, "campaign", "ls", "--line", line)
    assert shown.startswith("id\treference\tstate")
    assert "sqlalchemy" in loaded  # it did read the database
    assert not loaded & {"numpy", "pypdfium2", "PIL", "alembic", "fastapi", "uvicorn"}
    assert not {name for name in loaded if name.startswith(("faxcast.fax", "faxcast.sip"))}


def test_a_command_on_an_older_database_migrates_it_first(tmp_path: Path) -> None:
    line = _line(tmp_path)
    engine = create_engine_for(database_url_for(tmp_path / "data"))
    try:
        migrate.downgrade(engine, "0012")
        assert revisions.current_revision(engine) == "0012"
        shown, loaded = _loaded(tmp_path, "campaign", "ls", "--line", line)
        assert shown.startswith("id\treference\tstate")
        assert "alembic" in loaded
        assert revisions.current_revision(engine) == revisions.head_revision()
    finally:
        engine.dispose()
