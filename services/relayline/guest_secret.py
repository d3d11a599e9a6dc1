"""The secret that signs guest ids in `relayline up`: made once, kept in the state folder.

Kept, not made per start: a guest's identity is its signed cookie, so a new secret after a
restart would turn every guest into a stranger to its own jobs. The file is created with mode
0600 (and put back to 0600 if someone loosened it), since whoever reads it can be any guest.
"""

import os
import secrets
import stat
import sys
from collections.abc import MutableMapping
from pathlib import Path

GUEST_SECRET_FILE = "guest-secret"
ENV_NAME = "EDGE_GUEST_SECRET"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def read_or_create(path: Path) -> str:
    """The secret in `path`, made (64 hex characters, mode 0600) if the file is missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) != 0o600:
            print(f"relayline: {path} was readable by others; set it back to 0600", file=sys.stderr)
            path.chmod(0o600)
        secret = path.read_text().strip()
        if secret:
            return secret
        path.unlink()
        return read_or_create(path)
    secret = secrets.token_hex(32)
    with os.fdopen(descriptor, "w") as file:
        file.write(secret + "\n")
    return secret


def ensure_guest_secret(env: MutableMapping[str, str], state_dir: Path) -> None:
    """Sets EDGE_GUEST_SECRET for the edge when guest mode is on and none was given."""
    if _truthy(env.get("EDGE_GUEST_MODE")) and not env.get(ENV_NAME):
        env[ENV_NAME] = read_or_create(state_dir / GUEST_SECRET_FILE)
