"""The README's examples of a first campaign run as written, on a fresh data folder.

Each ```sh block of the README's "A first campaign" section runs in bash (`-e`), from a folder
laid out as a checkout (`src` and `.venv` linked to this one's), with no FAXCAST_* variable set:
the command-line block with no server, the API block with `faxcast serve` running. The only
change made to the text is the server's address: the test's server listens on a free port, not
on 8080.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.processes import (
    HOST,
    Server,
    background,
    faxcast_env,
    free_port,
    log_tail,
    wait_until,
)

REPOSITORY = Path(__file__).resolve().parents[2]
BLOCK_TIMEOUT_S = 180.0

pytestmark = pytest.mark.slow


def section_blocks(title: str) -> list[str]:
    """The ```sh blocks of the README's section `title` (up to the next heading)."""
    text = (REPOSITORY / "README.md").read_text()
    section = text.split(f"\n## {title}\n", 1)[1]
    section = re.split(r"\n#{2,3} ", section, maxsplit=1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


def run_block(block: str, cwd: Path, log: Path) -> str:
    """Run a block as a user would paste it in bash; its output, or the test fails."""
    env = faxcast_env(cwd / "unused")
    del env["FAXCAST_DATA_DIR"]  # the blocks say where their data goes
    done = subprocess.run(
        ["bash", "-e", "-c", block],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
        check=False,
    )
    log.write_text(done.stdout + done.stderr)
    assert done.returncode == 0, (
        f"the block failed:\n{block}\n--- output ---\n{done.stdout}{done.stderr}"
    )
    return done.stdout


def test_the_first_campaign_examples_run_as_written(tmp_path: Path) -> None:
    command_line, api = section_blocks("A first campaign")
    (tmp_path / "src").symlink_to(REPOSITORY / "src")
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))

    out = run_block(command_line, tmp_path, tmp_path / "cli.log")
    assert "delivered 2, failed 0, to do 0, total 2" in out  # `send`, both numbers
    assert "Relance" in out  # created, listed and shown, then stopped and deleted

    port = free_port()
    url = f"http://{HOST}:{port}"
    assert api.count("http://127.0.0.1:8080") == 1
    env = faxcast_env(tmp_path / "faxcast-data")
    log = tmp_path / "serve.log"
    with background("serve", "--port", str(port), env=env, cwd=tmp_path, log=log) as process:
        server = Server(process, port, log, env)
        wait_until(
            lambda: True if server.answers() else None,
            timeout=60, what="faxcast serve", alive=process, log=log,
        )  # fmt: skip
        out = run_block(api.replace("http://127.0.0.1:8080", url), tmp_path, tmp_path / "api.log")
        server.http.close()
    detail = json.loads(out.strip().splitlines()[-1])
    assert detail["campaign"]["state"] == "finished", log_tail(log)
    assert detail["campaign"]["outcome"] == "partial"  # 01 23 45 04 04 does not exist
    assert (detail["campaign"]["countSuccess"], detail["campaign"]["countFailed"]) == (1, 1)
