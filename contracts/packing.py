"""Connections that pack commands in C and write them without a task of their own.

- **Packing.** redis-py's asyncio connections pack every command in Python (`pack_command`):
  an encode and a bytes join per argument, a measurable share of an edge's CPU per request (a
  submit sends 28 arguments). With `hiredis` installed, the sync client packs in C and the
  asyncio one still does not; these connections use the C packer. An argument hiredis does
  not take (a memoryview, a type no client should send) goes to redis-py's own packer, which
  accepts or refuses it as it always has (`DataError`).
- **Writing.** redis-py 8 gives every connection a `socket_timeout` (5 s) and sends each
  command through `asyncio.wait_for`, which on Python 3.11 wraps the write in a task of its
  own: a task, a timer and one more turn of the event loop per command, for a write that
  almost always goes to the socket at once. These connections write the command and return
  when the transport took all of it; only when some of it is left in the transport's buffer
  (the socket is full) do they wait for it as redis-py does, with its timeout and its errors.

- **Reading.** redis-py reads every answer under an `asyncio.timeout` of its own (a timer set
  and cancelled, and a few frames): a pipeline of N commands sets N of them, though once the
  first answer came the others are almost always in the parser's buffer already. These
  connections take an answer the parser already holds whole at once; an answer not all
  there yet is waited for as redis-py waits, with its timeout and its errors. What redis-py's
  parser does with what it read (an error answer raised, a push message handled and the next
  answer read, a connection error, the next health check's time) is done the same. A
  connection class with a read of its own (Sentinel's, which turns a READONLY answer into a
  lost master) keeps it.
- **Making one.** redis-py reads its own package metadata for every connection it makes, to
  name itself to the server (`CLIENT SETINFO`): about a millisecond each, which a burst of
  commands that needs new connections paid once per connection. These read it once.

`fast_connections` gives a pool's connections all four (the C packer only where the pool
encodes text as strict UTF-8, as hiredis does).
"""

import asyncio
import functools
from typing import Any

from hiredis import pack_command
from redis._parsers.hiredis import NOT_ENOUGH_DATA, _AsyncHiredisParser
from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.driver_info import DriverInfo
from redis.exceptions import ConnectionError, ResponseError
from redis.utils import get_lib_version

_CLASSES: dict[tuple[type[AbstractConnection], bool], type[AbstractConnection]] = {}


def fast_connections(pool: ConnectionPool) -> ConnectionPool:
    """`pool`, its connections from now on writing without a task, and packing with hiredis
    where their encoding is hiredis' own."""
    pool.connection_class = fast_class(pool.connection_class, pool.connection_kwargs)
    return pool


def fast_class(base: type[AbstractConnection], options: dict[str, Any]) -> type[AbstractConnection]:
    """`base` made fast, for connections made with `options` (a pool's `connection_kwargs`)."""
    key = (base, _utf8(options))
    if key not in _CLASSES:
        _CLASSES[key] = _fast(*key)
    return _CLASSES[key]


def _utf8(options: dict[str, Any]) -> bool:
    """hiredis encodes text as strict UTF-8: only for connections that would too."""
    encoding = str(options.get("encoding", "utf-8")).lower().replace("_", "-")
    return encoding in ("utf-8", "utf8") and options.get("encoding_errors", "strict") == "strict"


@functools.cache
def _lib_version() -> str:
    """What redis-py names itself to the server (`CLIENT SETINFO`), read once: redis-py reads
    its package metadata again for every connection it makes (about a millisecond each), a
    cost a burst of new connections paid many times over."""
    return str(get_lib_version())  # type: ignore[no-untyped-call]


def _health_check_due(connection: AbstractConnection) -> bool:
    """Whether redis-py's send would PING first (`check_health`)."""
    return bool(connection.health_check_interval) and (
        asyncio.get_running_loop().time() > connection.next_health_check
    )


def _held(connection: AbstractConnection, disable_decoding: bool) -> Any:
    """The next answer if the connection's parser holds it whole, else `NOT_ENOUGH_DATA`
    (nothing taken: the parser keeps what it has)."""
    parser = connection._parser
    if type(parser) is not _AsyncHiredisParser or not parser._connected:
        return NOT_ENOUGH_DATA
    reader = parser._reader
    if reader is None:
        return NOT_ENOUGH_DATA
    return reader.gets(False) if disable_decoding else reader.gets()


def _broken(response: Any) -> bool:
    """An answer redis-py's parser raises: the connection broke."""
    return isinstance(response, ConnectionError) or (
        isinstance(response, list) and bool(response) and isinstance(response[0], ConnectionError)
    )


def _pushed(parser: Any, response: Any) -> bool:
    """A push message (RESP3), which redis-py's parser hands to its handlers."""
    push = parser._hiredis_PushNotificationType
    return push is not None and isinstance(response, push)


def _fast(base: type[AbstractConnection], packing: bool) -> type[AbstractConnection]:
    def pack(self: AbstractConnection, *args: Any) -> list[bytes]:
        command = args[0]
        if isinstance(command, str):
            args = (*command.encode().split(), *args[1:])
        elif b" " in command:
            args = (*command.split(), *args[1:])
        try:
            return [pack_command(args)]
        except TypeError:
            return base.pack_command(self, *args)

    async def send_packed_command(
        self: AbstractConnection, command: Any, check_health: bool = True
    ) -> None:
        writer = self._writer
        if (
            isinstance(command, list)
            and writer is not None
            and self.is_connected
            and not (check_health and _health_check_due(self))
            and not writer.transport.is_closing()
        ):
            writer.writelines(command)
            if writer.transport.get_write_buffer_size():  # wait for the rest as redis-py does
                await base.send_packed_command(self, [], check_health=False)  # (sent: no PING)
            return
        await base.send_packed_command(self, command, check_health)

    async def read_response(
        self: AbstractConnection,
        disable_decoding: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 (redis-py's signature)
        *,
        disconnect_on_error: bool = True,
        push_request: bool | None = False,
    ) -> Any:
        response = NOT_ENOUGH_DATA
        if timeout is None and not push_request:  # a timeout of the caller's: redis-py's way
            try:
                response = _held(self, disable_decoding)
                if response is not NOT_ENOUGH_DATA:
                    if _broken(response):
                        raise response[0] if isinstance(response, list) else response
                    if _pushed(self._parser, response):  # not asked for: the answer is next
                        await self._parser.handle_push_response(response)  # type: ignore[attr-defined]
                        response = NOT_ENOUGH_DATA
            except BaseException:  # as redis-py's read: the connection is not used again
                if disconnect_on_error:
                    await self.disconnect(nowait=True)
                raise
        if response is NOT_ENOUGH_DATA:
            return await base.read_response(
                self,
                disable_decoding,
                timeout,
                disconnect_on_error=disconnect_on_error,
                push_request=push_request,
            )
        if self.health_check_interval:
            loop_time = asyncio.get_running_loop().time()
            self.next_health_check = loop_time + self.health_check_interval
        if isinstance(response, ResponseError):
            raise response from None
        return response

    def __init__(self: AbstractConnection, *args: Any, **kwargs: Any) -> None:
        if not {"driver_info", "lib_name", "lib_version"} & kwargs.keys():
            kwargs["driver_info"] = DriverInfo(name="redis-py", lib_version=_lib_version())
        base.__init__(self, *args, **kwargs)

    methods: dict[str, Any] = {
        "__init__": __init__,
        "send_packed_command": send_packed_command,
        "__module__": __name__,
    }
    if base.read_response is AbstractConnection.read_response:
        # Not for a class that reads its own way: a Sentinel-managed connection turns a
        # READONLY answer into a lost master, which an answer taken here would skip.
        methods["read_response"] = read_response
    if packing:
        methods["pack_command"] = pack
    return type(base.__name__, (base,), methods)
