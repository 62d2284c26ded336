"""CLI start-up: `faxcast --help` and `faxcast campaign ls` against a bare `python -c pass`.

Run by hand, from the repository root, with the venv that has faxcast installed (its `faxcast`
script beside the interpreter):

    python bench/cli.py [--repeat N] [--base REF]

Each command runs as a user runs it: the venv's `faxcast` script, a new process each time, with
PYTHONPATH at this checkout's src (so an editable install of another checkout does not count):

    python -c pass                 the interpreter's own start-up, the floor
    libraries alone                python -c "import click, phonenumbers, pydantic_settings,
                                   sqlalchemy.dialects.postgresql": the third-party part of
                                   `campaign ls`, which no change in faxcast takes away
    faxcast --help                 target under 0.3 s
    faxcast campaign ls --line 1   target under 0.6 s; on a fresh data folder (SQLite) with one
                                   account and its sandbox line, made by `faxcast account create`
                                   before timing, so the database is at the newest schema

Every command runs once untimed (compiles the .pyc files, fills the page cache), then N times
(default 9), the cases interleaved so that the machine's load falls on all of them alike; the
figures are the median and the least wall time (time.perf_counter around the child), and the
median's ratio to `python -c pass`'s. With --base REF, the same commands also run against a git
worktree of REF (the C modules, which git does not hold, copied in beside), interleaved with
this checkout's, on its own fresh data folder: the "before" column. The load average is printed
before and after: on a loaded machine the figures move with it.

Exit 0 whatever the times (a measurement), 1 if a command fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
C_MODULES: Final = (
    "faxcast/fax/_spandsp.abi3.so",
    "faxcast/documents/_tiffg4.abi3.so",
    "faxcast/sip/_rtp.abi3.so",
)
LIBRARIES: Final = "import click, phonenumbers, pydantic_settings, sqlalchemy.dialects.postgresql"
"""What `campaign ls` cannot do without: its settings, database and numbers libraries (the
tables' PostgreSQL index options load that dialect on SQLite too)."""
TARGETS_S: Final = {"faxcast --help": 0.3, "faxcast campaign ls": 0.6}


@dataclass
class Checkout:
    """One version of faxcast to time: its src folder and a data folder of its own."""

    label: str
    src: Path
    data_dir: Path
    line: str = ""
    times: dict[str, list[float]] = field(default_factory=dict)

    def cases(self, faxcast: Path) -> dict[str, list[str]]:
        """The commands timed, by name."""
        return {
            "python -c pass": [sys.executable, "-c", "pass"],
            "libraries alone": [sys.executable, "-c", LIBRARIES],
            "faxcast --help": [str(faxcast), "--help"],
            "faxcast campaign ls": [str(faxcast), "campaign", "ls", "--line", self.line],
        }

    def env(self) -> dict[str, str]:
        """The environment its commands run in: no FAXCAST_* but its data folder, C locale."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAXCAST_")}
        env.update(PYTHONPATH=str(self.src), FAXCAST_DATA_DIR=str(self.data_dir), LANG="C.UTF-8")
        env.pop("LC_ALL", None)
        env.pop("LANGUAGE", None)
        return env


def main(argv: Sequence[str] | None = None) -> int:
    """Time the commands and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="timed runs per command")
    parser.add_argument("--base", help="git ref to time too, as the 'before' column")
    args = parser.parse_args(argv)
    faxcast = Path(sys.executable).parent / "faxcast"
    if not faxcast.is_file():
        print(f"no faxcast script beside {sys.executable}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="faxcast-bench-cli-") as scratch:
        base = Path(scratch)
        checkouts = [Checkout("this checkout", ROOT / "src", base / "data-now")]
        with _worktree(args.base, base / "base") as before_src:
            if before_src is not None:
                checkouts.insert(0, Checkout(f"{args.base}", before_src, base / "data-base"))
            return _run(checkouts, faxcast, args.repeat)


def _run(checkouts: list[Checkout], faxcast: Path, repeat: int) -> int:
    load_before = os.getloadavg()
    for checkout in checkouts:
        checkout.line = _prepare(checkout, faxcast)
        for command in checkout.cases(faxcast).values():
            _timed(command, checkout)  # untimed: .pyc files and page cache
    for _ in range(repeat):
        for checkout in checkouts:
            for name, command in checkout.cases(faxcast).items():
                checkout.times.setdefault(name, []).append(_timed(command, checkout))
    _report(checkouts, load_before, os.getloadavg(), repeat)
    return 0


def _prepare(checkout: Checkout, faxcast: Path) -> str:
    """A fresh data folder with one account and its line; the line's id."""
    env = checkout.env()
    _check([str(faxcast), "account", "create", "bench"], env)
    return _check([str(faxcast), "line", "ls"], env).splitlines()[0].split("\t")[0]


def _check(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def _timed(command: list[str], checkout: Checkout) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=checkout.env(), capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr!r}")
    return elapsed


@contextmanager
def _worktree(ref: str | None, path: Path) -> Iterator[Path | None]:
    """A detached git worktree of `ref` with this checkout's C modules, removed after."""
    if ref is None:
        yield None
        return
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(path), ref],
        check=True,
    )
    try:
        for module in C_MODULES:
            shutil.copy2(ROOT / "src" / module, path / "src" / module)
        yield path / "src"
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False
        )


def _report(
    checkouts: list[Checkout],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
    repeat: int,
) -> None:
    print(f"python: {sys.executable} ({sys.version.split()[0]}), {repeat} timed runs each")
    print(f"load average before: {_load(load_before)}; after: {_load(load_after)}")
    for checkout in checkouts:
        floor = statistics.median(checkout.times["python -c pass"])
        print(f"\n{checkout.label} ({checkout.src})")
        print(f"{'command':<22} {'median s':>9} {'least s':>8} {'x python':>9}  target")
        for name, times in checkout.times.items():
            median = statistics.median(times)
            target = TARGETS_S.get(name)
            verdict = (
                ""
                if target is None
                else f"< {target} s " + ("met" if median < target else "MISSED")
            )
            print(f"{name:<22} {median:>9.3f} {min(times):>8.3f} {median / floor:>9.1f}  {verdict}")


def _load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{value:.2f}" for value in load)


if __name__ == "__main__":
    sys.exit(main())
