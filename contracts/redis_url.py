"""What a Redis URL names: one server, a Sentinel-watched master, or a Redis Cluster.

    redis://[[user]:password@]host[:port][/db]           one server (redis-py's own syntax)
    rediss://...                                         the same over TLS
    unix://[[user]:password@]/path/to/socket[?db=n]      one server on a Unix socket
    redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db]
    redis+cluster://[[user]:password@]host[:port][,host[:port]...]
    rediss+cluster://...                                 the cluster over TLS

Sentinels default to port 26379, cluster nodes to 6379. An IPv6 address goes in brackets
(`[::1]:6379`). The credentials are those of the data nodes (Sentinels are asked without
them) and are percent-decoded; in the multi-host forms everything up to the last `@` is the
credentials, so a password may hold `@`, `/`, `:`, `?` or `#` as it is. Errors say what is
wrong and which form was expected; they never repeat the credentials.
"""

import ipaddress
import re
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import unquote, urlsplit

SINGLE_SCHEMES = ("redis", "rediss", "unix")
SENTINEL_SCHEMES = ("redis+sentinel",)
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SCHEMES = SINGLE_SCHEMES + SENTINEL_SCHEMES + CLUSTER_SCHEMES
SENTINEL_PORT = 26379
CLUSTER_PORT = 6379

_HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,252})")
_SERVICE = re.compile(r"[A-Za-z0-9._-]{1,128}")
_NUMBER = re.compile(r"[0-9]{1,10}")
_FORMS = {
    "redis+sentinel": "redis+sentinel://[:password@]host:port[,host:port...]/service[/db]",
    "redis+cluster": "redis+cluster://[:password@]host:port[,host:port...]",
    "rediss+cluster": "rediss+cluster://[:password@]host:port[,host:port...]",
}


class Deployment(StrEnum):
    SINGLE = "single"
    SENTINEL = "sentinel"
    CLUSTER = "cluster"


@dataclass(frozen=True)
class RedisTarget:
    deployment: Deployment
    hosts: tuple[tuple[str, int], ...] = ()  # sentinels or cluster seeds; empty for SINGLE
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    service_name: str = ""
    db: int = 0
    ssl: bool = False


def parse_redis_url(url: str) -> RedisTarget:
    """The target `url` names; ValueError, naming the expected form, when it is malformed."""
    scheme, separator, rest = url.partition("://")
    scheme = scheme.lower()
    if not separator or scheme not in SCHEMES:
        raise ValueError(
            f"a Redis URL must start with one of: {', '.join(s + '://' for s in SCHEMES)}"
        )
    if scheme in SINGLE_SCHEMES:
        _check_single(url, scheme)
        return RedisTarget(Deployment.SINGLE)
    return _parse_multi(scheme, rest)


def _check_single(url: str, scheme: str) -> None:
    """redis-py parses these itself; refuse here what it would take and fail on later."""
    try:
        port = urlsplit(url).port
    except ValueError:
        raise ValueError(f"bad port in the {scheme}:// URL: a number from 1 to 65535") from None
    if port == 0:
        raise ValueError(f"bad port in the {scheme}:// URL: a number from 1 to 65535")


def _parse_multi(scheme: str, rest: str) -> RedisTarget:
    form = _FORMS[scheme]
    userinfo, at, location = rest.rpartition("@")
    username, password = _credentials(userinfo, form) if at else (None, None)
    if any(character in location for character in "?#"):
        raise ValueError(f"query strings and fragments are not supported; expected {form}")
    hosts_part, _, path = location.partition("/")
    sentinel = scheme in SENTINEL_SCHEMES
    default_port = SENTINEL_PORT if sentinel else CLUSTER_PORT
    hosts = tuple(_host_port(item, default_port, form) for item in hosts_part.split(","))
    if sentinel:
        service_name, db = _sentinel_path(path, form)
        return RedisTarget(Deployment.SENTINEL, hosts, username, password, service_name, db)
    if path not in ("", "0"):
        raise ValueError(f"a Redis Cluster has only database 0; expected {form}")
    ssl = scheme.startswith("rediss")
    return RedisTarget(Deployment.CLUSTER, hosts, username, password, ssl=ssl)


def _credentials(userinfo: str, form: str) -> tuple[str | None, str | None]:
    if not userinfo:
        return None, None
    user, colon, password = userinfo.partition(":")
    if not colon:
        raise ValueError(
            f"credentials must be written user:password@ or :password@; expected {form}"
        )
    return (unquote(user) or None), unquote(password)


def _host_port(item: str, default_port: int, form: str) -> tuple[str, int]:
    if not item:
        raise ValueError(f"empty host in the host list; expected {form}")
    if item.startswith("["):
        host, closed, after = item[1:].partition("]")
        if not closed or (after and not after.startswith(":")):
            raise ValueError(f"bad IPv6 address {item!r}: write [address]:port; expected {form}")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"bad IPv6 address {item!r}; expected {form}") from None
        return host, _port(after[1:], default_port, item, form) if after else default_port
    host, colon, port = item.partition(":")
    if ":" in port:
        raise ValueError(f"bad host {item!r}: an IPv6 address goes in brackets; expected {form}")
    if not _HOSTNAME.fullmatch(host):
        raise ValueError(f"bad host {item!r}; expected {form}")
    return host, _port(port, default_port, item, form) if colon else default_port


def _port(text: str, default_port: int, item: str, form: str) -> int:
    if not _NUMBER.fullmatch(text) or not 1 <= int(text) <= 65535:
        raise ValueError(f"bad port in {item!r}: a number from 1 to 65535; expected {form}")
    return int(text)


def _sentinel_path(path: str, form: str) -> tuple[str, int]:
    service_name, _, db = path.partition("/")
    if not service_name:
        raise ValueError(
            f"the Sentinel service name (the master's name) is missing; expected {form}"
        )
    if not _SERVICE.fullmatch(service_name):
        raise ValueError(f"bad service name {service_name!r}; expected {form}")
    if db and not (_NUMBER.fullmatch(db) and int(db) < 2**31):
        raise ValueError(f"bad database number {db!r}; expected {form}")
    return service_name, int(db or 0)
