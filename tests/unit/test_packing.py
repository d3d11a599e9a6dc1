"""`contracts.packing`: hiredis packs every command exactly as redis-py's Python packer does,
and refuses what it refuses. (Its writes, against a real server: in
tests/integration/test_connect.py.)"""

from importlib import metadata
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.asyncio.sentinel import SentinelManagedConnection, SentinelManagedSSLConnection
from redis.driver_info import DriverInfo
from redis.exceptions import DataError

from contracts.connect import connect
from contracts.packing import fast_class, fast_connections

COMMANDS: list[tuple[Any, ...]] = [
    ("GET", "k"),
    ("EVALSHA", "a" * 40, 2, "rl:{0}:job:1", "rl:{0}:events:1", "x", 0, -1, 2**63, 2**64),
    ("SET", "k", 0.1, 1e308, -0.0, 1.5e-7),
    ("SET", "kéy", "välue ✓ \U0001f600", b"\x00\xff raw", bytearray(b"ba")),
    ("SET", "k", memoryview(b"a view"), "x" * 100_000),
    ("CONFIG GET", "maxmemory"),
    (b"CLIENT SETNAME", b"relayline"),
]


def _packers() -> tuple[Connection, Connection]:
    plain = Redis().connection_pool
    fast = fast_connections(Redis().connection_pool)
    assert fast.connection_class is not Connection
    return plain.make_connection(), fast.make_connection()  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("command", COMMANDS)
def test_hiredis_packs_as_redis_py_does(command: tuple[Any, ...]) -> None:
    plain, fast = _packers()
    assert b"".join(fast.pack_command(*command)) == b"".join(plain.pack_command(*command))
    pipeline = [command, ("PING",), command]
    assert b"".join(fast.pack_commands(pipeline)) == b"".join(plain.pack_commands(pipeline))


@pytest.mark.parametrize("value", [None, True, {"a": 1}, [1], object()])
def test_what_redis_py_refuses_is_refused(value: Any) -> None:
    plain, fast = _packers()
    with pytest.raises(DataError):
        plain.pack_command("SET", "k", value)
    with pytest.raises(DataError):
        fast.pack_command("SET", "k", value)


def test_a_lone_surrogate_is_refused_alike() -> None:
    plain, fast = _packers()
    with pytest.raises(UnicodeEncodeError):
        plain.pack_command("SET", "k", "\ud800")
    with pytest.raises(UnicodeEncodeError):
        fast.pack_command("SET", "k", "\ud800")


def test_the_services_clients_pack_in_c() -> None:
    client = connect("redis://127.0.0.1:1/0", max_connections=4)
    assert isinstance(client, Redis)
    assert client.connection_pool.connection_class.__module__ == "contracts.packing"
    other = fast_connections(Redis(encoding="latin-1").connection_pool)
    assert "pack_command" not in vars(other.connection_class)  # hiredis encodes as UTF-8 only
    assert "send_packed_command" in vars(other.connection_class)


@pytest.mark.parametrize(
    "connection_class", [Connection, SSLConnection, UnixDomainSocketConnection]
)
def test_a_connection_names_itself_as_redis_py_does_without_reading_package_metadata(
    connection_class: type[Connection], monkeypatch: pytest.MonkeyPatch
) -> None:
    options: dict[str, Any] = (
        {"path": "/tmp/redis.sock"}
        if issubclass(connection_class, UnixDomainSocketConnection)
        else {}
    )
    plain = connection_class(**options).driver_info
    fast_class(connection_class, {})(**options)  # the version is read once, here if not before
    reads: list[str] = []
    real = metadata.version

    def version(name: str) -> str:
        reads.append(name)
        return real(name)

    monkeypatch.setattr(metadata, "version", version)
    made = [fast_class(connection_class, {})(**options) for _ in range(20)]
    assert reads == []  # redis-py's own connection reads it every time (about 1 ms)
    assert all(connection.driver_info == plain for connection in made)
    assert plain == DriverInfo(name="redis-py", lib_version=real("redis"))
    named = fast_class(connection_class, {})(**options, driver_info=DriverInfo(name="mine"))
    assert named.driver_info is not None and named.driver_info.name == "mine"  # given: kept


def test_a_connection_that_reads_its_own_way_keeps_its_read() -> None:
    """Answers already received are read without a timer (`contracts.packing`) only on
    connections that read as redis-py's base connection does: a Sentinel-managed one turns
    a READONLY answer into a lost master (and drops the connection), which an answer taken
    from the buffer would skip."""
    for plain in (Connection, SSLConnection, UnixDomainSocketConnection):
        assert fast_class(plain, {}).read_response is not plain.read_response
    for sentinel in (SentinelManagedConnection, SentinelManagedSSLConnection):
        assert fast_class(sentinel, {}).read_response is sentinel.read_response
