"""Commands packed by hiredis' C packer, as redis-py's sync client packs them.

redis-py's asyncio connections pack every command in Python (`pack_command`): an encode and
a bytes join per argument, a measurable share of an edge's CPU per request (a submit sends 28
arguments). With `hiredis` installed, the sync client packs in C and the asyncio one still
does not; `fast_packing` gives a pool's connections the C packer. An argument hiredis does not
take (a memoryview, a type no client should send) goes to redis-py's own packer, which
accepts or refuses it as it always has (`DataError`).
"""

from typing import Any

from hiredis import pack_command
from redis.asyncio.connection import AbstractConnection, ConnectionPool

_CLASSES: dict[type[AbstractConnection], type[AbstractConnection]] = {}


def fast_packing(pool: ConnectionPool) -> ConnectionPool:
    """`pool`, its connections from now on packing with hiredis."""
    if _utf8(pool.connection_kwargs):
        base = pool.connection_class
        if base not in _CLASSES:
            _CLASSES[base] = _packing_in_c(base)
        pool.connection_class = _CLASSES[base]
    return pool


def _utf8(options: dict[str, Any]) -> bool:
    """hiredis encodes text as strict UTF-8: only for connections that would too."""
    encoding = str(options.get("encoding", "utf-8")).lower().replace("_", "-")
    return encoding in ("utf-8", "utf8") and options.get("encoding_errors", "strict") == "strict"


def _packing_in_c(base: type[AbstractConnection]) -> type[AbstractConnection]:
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

    return type(base.__name__, (base,), {"pack_command": pack, "__module__": __name__})
