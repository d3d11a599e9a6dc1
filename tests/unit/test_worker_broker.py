"""`worker.broker`: the single-server broker's connections are `contracts.packing`'s (they
write without a task of their own), of the kind its URL names."""

import pytest
from redis.asyncio.connection import (
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
)

from worker.broker import broker_for


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("redis://127.0.0.1:6379/0", Connection),
        ("rediss://127.0.0.1:6379/0", SSLConnection),
        ("unix:///run/redis.sock", UnixDomainSocketConnection),
    ],
)
def test_the_brokers_connections_write_without_a_task(url: str, kind: type) -> None:
    options = broker_for(url).config.connection._options
    connection_class = options["connection_class"]
    assert connection_class.__module__ == "contracts.packing"
    assert connection_class.__mro__[1] is kind
    assert "send_packed_command" in vars(connection_class)
