"""Two versions of the services in one benchmark run: this checkout, and an older commit
extracted with `git archive` and put first on its processes' PYTHONPATH (which wins over the
editable install). Checks that each version's processes import the code they claim to."""

import argparse
import io
import os
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tests.bench.stats import BenchFailure
from tests.support.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
"""This checkout."""
PACKAGES = ("contracts", "edge", "worker", "relayline")
PROBE = f"import importlib\nfor name in {PACKAGES}: print(importlib.import_module(name).__file__)"
"""Prints where a process imports each of the services' packages from."""


@dataclass(frozen=True)
class Code:
    """A version of the services: the tree its edge and workers import from."""

    name: str
    tree: Path

    def env(self) -> dict[str, str]:
        """What a process of this version adds to its environment."""
        # PYTHONSAFEPATH: `python -m` would otherwise put the current folder (a checkout)
        # ahead of PYTHONPATH, and its `contracts` would shadow the tree's.
        paths = os.pathsep.join([str(self.tree), str(self.tree / "services")])
        return {"PYTHONPATH": paths, "PYTHONSAFEPATH": "1"}


def checkout(name: str) -> Code:
    return Code(name, ROOT)


def old_commit(name: str, commit: str, into: Path) -> Code:
    """The tree of `commit` of this checkout's repository, extracted into `into`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True)
    if archive.returncode != 0:
        raise BenchFailure(f"git archive {commit}: {archive.stderr.decode(errors='replace')}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return Code(name, into.resolve())


def check_imports(stack: Stack, code: Code) -> None:
    """A process started by `stack` with `code.env()` imports every package from its tree."""
    found = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=stack.env(code.env()),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    stray = [path for path in found if not Path(path).resolve().is_relative_to(code.tree)]
    if len(found) != len(PACKAGES) or stray:
        raise BenchFailure(f"{code.name}: expected imports from {code.tree}, got {found}")


@dataclass(frozen=True)
class Comparison:
    """A benchmark run that measures this checkout, and `before`'s services when given
    (`--before COMMIT`, `make bench BENCH_BEFORE=COMMIT`)."""

    module: str
    before: str | None
    began: float
    load: str
    date: str

    @classmethod
    def from_arguments(cls, module: str, description: str | None) -> "Comparison":
        parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
        parser.add_argument(
            "--before", metavar="COMMIT", help="also measure this commit's services"
        )
        return cls(
            module,
            parser.parse_args().before,
            time.monotonic(),
            ", ".join(f"{n:.2f}" for n in os.getloadavg()),
            datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )

    def versions(self, workdir: Path) -> list[Code]:
        """`before`'s services (if given), then this checkout's."""
        if self.before is None:
            return [checkout("this checkout")]
        older = old_commit(self.before, self.before, workdir / "before-tree")
        return [older, checkout("this checkout")]

    def facts(self) -> dict[str, str]:
        command = f"`make bench` (`.venv/bin/python -m {self.module}`)"
        if self.before:
            command = (
                f"`make bench BENCH_BEFORE={self.before}` "
                f"(`.venv/bin/python -m {self.module} --before {self.before}`)"
            )
        return {
            "Command": command,
            "Date": self.date,
            "Wall time of the run": f"{time.monotonic() - self.began:.0f} s",
            "Load average when it began (1, 5, 15 min)": self.load,
        }
