import stat
from pathlib import Path

from relayline.guest_secret import GUEST_SECRET_FILE, ensure_guest_secret


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_made_once_with_mode_0600_and_reused_after_a_restart(tmp_path: Path) -> None:
    first: dict[str, str] = {"EDGE_GUEST_MODE": "true"}
    ensure_guest_secret(first, tmp_path / "state")
    path = tmp_path / "state" / GUEST_SECRET_FILE
    assert len(first["EDGE_GUEST_SECRET"]) == 64 and mode(path) == 0o600
    second: dict[str, str] = {"EDGE_GUEST_MODE": "true"}
    ensure_guest_secret(second, tmp_path / "state")
    assert second["EDGE_GUEST_SECRET"] == first["EDGE_GUEST_SECRET"]


def test_loosened_permissions_are_put_back(tmp_path: Path) -> None:
    ensure_guest_secret({"EDGE_GUEST_MODE": "true"}, tmp_path)
    path = tmp_path / GUEST_SECRET_FILE
    path.chmod(0o644)
    env = {"EDGE_GUEST_MODE": "1"}
    ensure_guest_secret(env, tmp_path)
    assert mode(path) == 0o600 and env["EDGE_GUEST_SECRET"] == path.read_text().strip()


def test_a_given_secret_or_no_guest_mode_leaves_everything_alone(tmp_path: Path) -> None:
    given = {"EDGE_GUEST_MODE": "true", "EDGE_GUEST_SECRET": "mine" * 8}
    ensure_guest_secret(given, tmp_path)
    assert given["EDGE_GUEST_SECRET"] == "mine" * 8
    keys_only = {"EDGE_GUEST_MODE": "false"}
    ensure_guest_secret(keys_only, tmp_path)
    assert "EDGE_GUEST_SECRET" not in keys_only
    assert not (tmp_path / GUEST_SECRET_FILE).exists()
