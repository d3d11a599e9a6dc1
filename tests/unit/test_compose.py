"""docker-compose.yml, the Dockerfiles and redis.conf agree with each other and with the code.

No Docker engine is needed: the files are parsed, and every command they run is checked
against the real `relayline` argument parser and the real pools file.
"""

import argparse
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.pools import load_pools
from edge.main import create_app
from edge.settings import Settings
from relayline.cli import parser

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILES = sorted((ROOT / "infra" / "docker").glob("*.Dockerfile"))
REDIS = "redis"
SHELLS = ("sh", "/bin/sh", "bash", "/bin/bash")


# --- parsing ---------------------------------------------------------------------------------


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict), f"{COMPOSE_FILE} is not a mapping"
    return loaded


def _services() -> dict[str, dict[str, Any]]:
    services = _compose().get("services")
    assert isinstance(services, dict) and services, "docker-compose.yml defines no services"
    return services


_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_]\w*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}"
    r"|\$(?P<bare>[A-Za-z_]\w*)"
)


def _substitute(text: str, env: Mapping[str, str]) -> str:
    """Expand `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR:?message}` the way compose (at
    load time) and sh (at run time) do; a variable nothing defines fails the test."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        value = env.get(name)
        if value is not None and (value or match.group("op") not in (":-", ":?")):
            return value
        if match.group("op") in ("-", ":-"):
            return match.group("arg")
        if match.group("op") in ("?", ":?"):
            raise MissingVariable(f"{name}: {match.group('arg')}")
        raise AssertionError(f"${name} is used in {text!r} but nothing defines it")

    return _VARIABLE.sub(replace, text)


class MissingVariable(Exception):
    """`${VAR?message}` or `${VAR:?message}` without VAR: compose refuses to start."""


MINIMAL_ENV = {"EDGE_API_KEYS": "key-from-the-shell:operator"}
"""The least a caller must set before `docker compose up`: the file ships no key."""


def _compose_value(value: Any, env: Mapping[str, str] = MINIMAL_ENV) -> str:
    """A compose scalar after interpolation, as if the caller's shell set only `env`: the
    defaults written in the file are what a plain `docker compose up` uses."""
    return _substitute(str(value), env)


def _as_argv(value: Any) -> list[str]:
    """A compose `command`/`entrypoint`: a list, or a string compose splits like a shell."""
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(_compose_value(value))
    assert isinstance(value, list), f"unexpected command {value!r}"
    return [_compose_value(item) for item in value]


def _environment(
    service: Mapping[str, Any], shell: Mapping[str, str] = MINIMAL_ENV
) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env if "=" in item)
    return {
        str(key): _compose_value(value, shell) for key, value in env.items() if value is not None
    }


@dataclass
class Dockerfile:
    path: Path
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    entrypoint_is_shell: bool = False
    stages: int = 0
    commands: list[tuple[str, list[str]]] = field(default_factory=list)

    def argv(
        self, *, entrypoint: list[str] | None = None, cmd: list[str] | None = None
    ) -> list[str]:
        """What a container runs, by Docker's rules: a compose `entrypoint` resets CMD."""
        if entrypoint is not None:
            return entrypoint + (cmd or [])
        if self.entrypoint_is_shell:
            return self.entrypoint
        return self.entrypoint + (self.cmd if cmd is None else cmd)


def _instructions(text: str) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        line = pending + stripped
        pending = ""
        keyword, _, rest = line.partition(" ")
        lines.append((keyword.upper(), rest.strip()))
    return lines


def _exec_or_shell(rest: str) -> tuple[list[str], bool]:
    if rest.startswith("["):
        loaded = yaml.safe_load(rest)  # JSON exec form; JSON is YAML.
        assert isinstance(loaded, list), f"bad exec form {rest!r}"
        return [str(item) for item in loaded], False
    return ["/bin/sh", "-c", rest], True


def _env_pairs(rest: str) -> dict[str, str]:
    tokens = shlex.split(rest)
    if len(tokens) >= 2 and "=" not in tokens[0]:  # legacy `ENV KEY value`
        return {tokens[0]: " ".join(tokens[1:])}
    return dict(token.split("=", 1) for token in tokens)


def _parse_dockerfile(path: Path) -> Dockerfile:
    """The final stage's ENV, ENTRYPOINT and CMD; every stage's CMD/ENTRYPOINT in `commands`."""
    result = Dockerfile(path)
    for keyword, rest in _instructions(path.read_text()):
        if keyword == "FROM":
            result = Dockerfile(path, stages=result.stages + 1, commands=result.commands)
        elif keyword == "ENV":
            result.env.update(_env_pairs(rest))
        elif keyword == "ENTRYPOINT":
            result.entrypoint, result.entrypoint_is_shell = _exec_or_shell(rest)
            result.cmd = []
            result.commands.append((keyword, result.entrypoint))
        elif keyword == "CMD":
            result.cmd = _exec_or_shell(rest)[0]
            result.commands.append((keyword, result.cmd))
    return result


def _dockerfile_of(service: Mapping[str, Any]) -> Path | None:
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        return ROOT / build / "Dockerfile"
    context = ROOT / str(build.get("context", "."))
    return context / str(build.get("dockerfile", "Dockerfile"))


def _unshell(argv: list[str], env: Mapping[str, str] | None) -> list[str]:
    """`sh -c "exec relayline ..."` as the argv the shell finally runs. With `env`, variables
    are expanded from it; without, they are left as written."""
    if len(argv) >= 3 and argv[0] in SHELLS and argv[1] == "-c":
        script = argv[2] if env is None else _substitute(argv[2], env)
        assert not re.search(r"[;&|`]|\$\(", script), f"not one plain command: {script!r}"
        words = shlex.split(script)
        return words[1:] if words[:1] == ["exec"] else words
    return argv


def _relayline_args(argv: list[str], where: str) -> list[str]:
    names = [Path(word).name for word in argv]
    assert "relayline" in names, f"{where} runs {argv}, not the `relayline` command"
    start = names.index("relayline")
    assert start == 0, f"{where} runs {argv[:start]} before `relayline`"
    return argv[start + 1 :]


def _subcommands() -> set[str]:
    actions = [
        action for action in parser()._actions if isinstance(action, argparse._SubParsersAction)
    ]
    assert actions, "relayline.cli.parser() defines no subcommands"
    return {name for action in actions for name in action.choices}


def _parse(args: list[str], where: str) -> argparse.Namespace:
    try:
        return parser().parse_args(args)
    except SystemExit:
        pytest.fail(f"{where}: `relayline {shlex.join(args)}` is rejected by relayline.cli")


def _is_worker(name: str, service: Mapping[str, Any]) -> bool:
    dockerfile = _dockerfile_of(service)
    return name.startswith("worker") or (dockerfile is not None and "worker" in dockerfile.name)


def _redis_conf_mount(service: Mapping[str, Any]) -> tuple[Path, str]:
    """The host file and container path of the redis.conf mounted into the redis service."""
    for volume in service.get("volumes") or []:
        source, target = (
            (str(volume["source"]), str(volume["target"]))
            if isinstance(volume, dict)
            else tuple(str(volume).split(":")[:2])
        )
        if source.startswith((".", "/")) and source.endswith(".conf"):
            return (ROOT / source).resolve(), target
    pytest.fail("the redis service mounts no .conf file")


def _redis_conf(path: Path) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        words = shlex.split(line, comments=True)
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


# --- tests -----------------------------------------------------------------------------------


def test_redis_has_a_healthcheck_and_a_volume() -> None:
    redis = _services()[REDIS]
    test = redis.get("healthcheck", {}).get("test")
    assert test, "redis has no healthcheck"
    joined = " ".join(test) if isinstance(test, list) else str(test)
    assert "redis-cli" in joined and "ping" in joined.lower(), f"redis healthcheck is {test!r}"
    data_mounts = [str(v) for v in redis.get("volumes") or [] if str(v).endswith(":/data")]
    assert data_mounts, "redis keeps /data in no volume: the AOF is lost with the container"


def test_redis_runs_the_mounted_conf_with_aof_and_noeviction() -> None:
    redis = _services()[REDIS]
    host_conf, container_conf = _redis_conf_mount(redis)
    assert host_conf.is_file(), f"redis mounts {host_conf}, which does not exist"
    argv = _as_argv(redis.get("entrypoint")) + _as_argv(redis.get("command"))
    assert argv[:1] == ["redis-server"] and container_conf in argv, (
        f"redis runs {argv}, not redis-server with the mounted {container_conf}"
    )

    conf = _redis_conf(host_conf)
    assert conf.get("appendonly") == ["yes"], "redis.conf: appendonly is not yes"
    assert conf.get("appendfsync") == ["everysec"], "redis.conf: appendfsync is not everysec"
    assert conf.get("maxmemory-policy") == ["noeviction"], "redis.conf: eviction would drop jobs"
    assert conf.get("maxmemory"), "redis.conf: no maxmemory"
    assert conf.get("dir") == ["/data"], "redis.conf: data is not written to the /data volume"


def test_every_service_but_redis_waits_for_a_healthy_redis() -> None:
    for name, service in _services().items():
        if name == REDIS:
            continue
        depends_on = service.get("depends_on")
        assert isinstance(depends_on, dict) and REDIS in depends_on, (
            f"{name} does not depend on redis with a condition"
        )
        assert depends_on[REDIS].get("condition") == "service_healthy", (
            f"{name} starts before redis is healthy"
        )


def test_edge_has_a_healthcheck_and_listens_where_it_is_published() -> None:
    edge = _services()["edge"]
    test = edge.get("healthcheck", {}).get("test")
    assert test, "edge has no healthcheck"
    assert "/healthz" in " ".join(test if isinstance(test, list) else [test])

    path = _dockerfile_of(edge)
    assert path is not None, "edge is not built from this repo"
    dockerfile = _parse_dockerfile(path)
    argv = dockerfile.argv(
        entrypoint=_as_argv(edge["entrypoint"]) if "entrypoint" in edge else None,
        cmd=_as_argv(edge["command"]) if "command" in edge else None,
    )
    args = _parse(_relayline_args(_unshell(argv, dockerfile.env), "edge"), "edge")
    assert args.command == "edge"
    assert args.host == "0.0.0.0", "the edge listens on localhost: unreachable from outside"
    published = [str(port).rsplit(":", 1)[-1] for port in edge.get("ports") or []]
    assert str(args.port) in published, f"edge listens on {args.port}, publishes {published}"


def test_worker_services_are_scalable() -> None:
    workers = {name: s for name, s in _services().items() if _is_worker(name, s)}
    assert workers, "docker-compose.yml has no worker service"
    for name, service in workers.items():
        assert "container_name" not in service, f"{name} has a container_name: cannot --scale"
        assert not service.get("ports"), f"{name} publishes host ports: cannot --scale"


def test_every_default_pool_has_a_worker_service() -> None:
    served = set()
    for name, service in _services().items():
        if _is_worker(name, service):
            served.add(_environment(service).get("POOL"))
    missing = {pool.name for pool in load_pools().pools.values() if pool.default} - served
    assert not missing, f"pools with no worker service in docker-compose.yml: {sorted(missing)}"


def test_every_referenced_dockerfile_exists() -> None:
    for name, service in _services().items():
        dockerfile = _dockerfile_of(service)
        if dockerfile is None:
            assert service.get("image"), f"{name} has neither build nor image"
            continue
        assert dockerfile.is_file(), f"{name} builds {dockerfile}, which does not exist"


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda path: path.name)
def test_dockerfile_commands_name_real_subcommands(path: Path) -> None:
    dockerfile = _parse_dockerfile(path)
    assert dockerfile.commands, f"{path.name} has no CMD or ENTRYPOINT"
    argv = _unshell(dockerfile.argv(), env=None)
    args = _relayline_args(argv, path.name)
    assert args and args[0] in _subcommands(), (
        f"{path.name} runs `relayline {shlex.join(args)}`: no such subcommand "
        f"(relayline.cli has {sorted(_subcommands())})"
    )


def test_every_service_runs_a_real_entry_point() -> None:
    pools = load_pools().pools
    for name, service in _services().items():
        if name == REDIS:
            continue  # checked against its conf above
        path = _dockerfile_of(service)
        assert path is not None, f"{name} is not built from this repo"
        dockerfile = _parse_dockerfile(path)
        argv = dockerfile.argv(
            entrypoint=_as_argv(service["entrypoint"]) if "entrypoint" in service else None,
            cmd=_as_argv(service["command"]) if "command" in service else None,
        )
        env = {**dockerfile.env, **_environment(service)}
        args = _parse(_relayline_args(_unshell(argv, env), name), name)
        assert args.command in _subcommands()
        if args.command == "worker":
            assert args.pool, f"{name} runs a worker without --pool"
            assert args.pool in pools, (
                f"{name} serves pool {args.pool!r}, not in contracts/pools.toml ({sorted(pools)})"
            )
        if _is_worker(name, service):
            assert args.command == "worker", f"{name} runs `relayline {args.command}`"


# --- keys and guest mode ---------------------------------------------------------------------

GUEST_SECRET = "g" * 64


def _edge_settings(shell: Mapping[str, str]) -> Settings:
    env = _environment(_services()["edge"], shell)
    return Settings(
        api_keys=env.get("EDGE_API_KEYS", ""),
        guest_mode=env.get("EDGE_GUEST_MODE", "false"),
        guest_secret=env.get("EDGE_GUEST_SECRET", ""),
        allowed_hosts=env.get("EDGE_ALLOWED_HOSTS", "localhost"),
    )


def test_compose_refuses_to_start_without_keys_and_says_how() -> None:
    with pytest.raises(MissingVariable, match="EDGE_API_KEYS") as refused:
        _environment(_services()["edge"], shell={})
    assert "EDGE_GUEST_MODE" in str(refused.value), "the message does not name guest mode"


def test_compose_ships_no_default_key() -> None:
    raw = str(_services()["edge"]["environment"]["EDGE_API_KEYS"])
    assert ":-" not in raw and not raw.startswith("${EDGE_API_KEYS-"), raw
    for name, service in _services().items():
        for key, value in (service.get("environment") or {}).items():
            if "KEY" in str(key) or "SECRET" in str(key):
                default = re.search(r":?-([^}]*)}", str(value))
                assert not (default and default.group(1)), f"{name}.{key} ships a default"


@pytest.mark.parametrize(
    ("shell", "starts"),
    [
        ({"EDGE_API_KEYS": "k1:alice"}, True),
        ({"EDGE_API_KEYS": ""}, False),  # no key and no guest mode: nobody could use it
        ({"EDGE_API_KEYS": "", "EDGE_GUEST_MODE": "true"}, False),  # guests need a secret
        ({"EDGE_API_KEYS": "", "EDGE_GUEST_MODE": "true", "EDGE_GUEST_SECRET": GUEST_SECRET}, True),
    ],
)
def test_the_edge_starts_only_with_keys_or_explicit_guest_mode(
    shell: dict[str, str], starts: bool
) -> None:
    settings = _edge_settings(shell)
    if starts:
        create_app(settings)
    else:
        with pytest.raises((RuntimeError, ValueError)):
            create_app(settings)
