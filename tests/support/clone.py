"""A documented command run as a newcomer runs it: in a fresh clone of the committed HEAD,
from the environment of a fresh shell, stopped as a terminal stops it (a signal to the
process group), and checked to leave nothing behind."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.wait import wait_for

REPOSITORY = Path(__file__).resolve().parents[2]
# What this test run set for itself, not what a user's shell has.
_NOT_A_USERS = ("EDGE_", "WORKER_", "RELAYLINE_", "REDIS_URL", "TEST_REDIS_URL", "PYTEST_")
_MAKE_VARIABLES = ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES", "VIRTUAL_ENV")


def fresh_clone(parent: Path) -> Path:
    clone = parent / "relayline"
    subprocess.run(["git", "clone", "--quiet", str(REPOSITORY), str(clone)], check=True)
    return clone


def fresh_shell_environment() -> dict[str, str]:
    """This machine's environment without what the test runner (make, pytest, its venv) added."""
    venv_bin = str(Path(sys.executable).parent)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_NOT_A_USERS) and key not in _MAKE_VARIABLES
    }
    path = env.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(os.pathsep)
    env["PATH"] = os.pathsep.join(entry for entry in path if entry != venv_bin)
    return env


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def processes_of(folder: Path) -> list[str]:
    """`pid: command` of every process running from `folder` or with it on its command line."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            cwd = os.readlink(proc / "cwd")
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if cwd.startswith(str(folder)) or str(folder) in command:
                found.append(f"{proc.name}: {command.strip()}")
    return found


@dataclass
class Command:
    """A command started in its own process group, its output in a log file."""

    popen: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.popen.poll() is None

    def terminate_group(self) -> None:
        """What a terminal does on a hang-up, or a process manager on stop: SIGTERM to the
        command's whole process group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)


@contextlib.contextmanager
def started(
    command: list[str], cwd: Path, env: dict[str, str], log_path: Path
) -> Iterator[Command]:
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Command(popen, log_path)
    try:
        yield running
    finally:
        if running.running():
            running.terminate_group()
            try:
                popen.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(popen.pid, signal.SIGKILL)
                popen.wait()


def wait_gone(folder: Path, ports: list[int], timeout: float) -> None:
    """Every process of `folder` has exited and nothing listens on `ports` any more."""
    try:
        wait_for(
            lambda: not processes_of(folder) and not any(port_in_use(port) for port in ports),
            timeout=timeout,
            what=f"every process of {folder} to exit and ports {ports} to be free",
        )
    except TimeoutError as exc:
        busy = [port for port in ports if port_in_use(port)]
        left = processes_of(folder)
        raise AssertionError(f"{exc}; still running: {left}; ports in use: {busy}") from None
