"""Parsing REDIS_URL: every form, and hostile input refused with a message that names the
expected form and never repeats the password."""

import pytest

from contracts.redis_url import Deployment, RedisTarget, parse_redis_url

SECRET = "s3cr#t/p@ss:w?rd%"


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "redis://:pw@localhost/3",
        "rediss://user:pw@cache.example.com:6380/0",
        "unix:///run/redis.sock?db=2",
        "REDIS://127.0.0.1",
        "redis://[::1]:6379/0",
    ],
)
def test_one_server_urls_are_left_to_redis_py(url: str) -> None:
    assert parse_redis_url(url) == RedisTarget(Deployment.SINGLE)


def test_cluster_url_lists_every_seed_with_default_ports() -> None:
    target = parse_redis_url("redis+cluster://10.0.0.1:7000,node-2.example.com,[::1]:7002")
    assert target.deployment is Deployment.CLUSTER
    assert target.hosts == (("10.0.0.1", 7000), ("node-2.example.com", 6379), ("::1", 7002))
    assert (target.username, target.password, target.db, target.ssl) == (None, None, 0, False)


def test_cluster_over_tls_and_database_zero() -> None:
    target = parse_redis_url("rediss+cluster://a:1/0")
    assert target.ssl and target.hosts == (("a", 1),)


def test_sentinel_url_names_the_service_and_database() -> None:
    target = parse_redis_url("redis+sentinel://s1:26380,s2/mymaster/4")
    assert target.deployment is Deployment.SENTINEL
    assert target.hosts == (("s1", 26380), ("s2", 26379))
    assert (target.service_name, target.db) == ("mymaster", 4)


@pytest.mark.parametrize(
    ("userinfo", "username", "password"),
    [
        (":pw", None, "pw"),
        ("alice:pw", "alice", "pw"),
        (f":{SECRET}", None, SECRET),  # raw: everything up to the last @ is the credentials
        (":s3cr%23t%2Fp%40ss", None, "s3cr#t/p@ss"),  # percent-encoded
        ("al%3Aice:", "al:ice", ""),
    ],
)
def test_credentials_may_hold_any_character(
    userinfo: str, username: str | None, password: str
) -> None:
    for url in (f"redis+cluster://{userinfo}@h:1", f"redis+sentinel://{userinfo}@h:1/svc"):
        target = parse_redis_url(url)
        assert (target.username, target.password) == (username, password)
        assert SECRET not in repr(target)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "must start with one of"),
        ("127.0.0.1:6379", "must start with one of"),
        ("http://127.0.0.1:6379", "must start with one of"),
        ("redis+clusters://h:1", "must start with one of"),
        ("redis+cluster://", "empty host"),
        ("redis+cluster://h:1,,h:2", "empty host"),
        ("redis+cluster://h:1,", "empty host"),
        ("redis+sentinel:///svc", "empty host"),
        ("redis+cluster://h:0", "bad port"),
        ("redis+cluster://h:70000", "bad port"),
        ("redis+cluster://h:65536", "bad port"),
        ("redis+cluster://h:-1", "bad port"),
        ("redis+cluster://h:", "bad port"),
        ("redis+cluster://h:6379x", "bad port"),
        ("redis+cluster://h: 6379", "bad port"),
        ("redis+cluster://h:99999999999999999999", "bad port"),
        ("redis+cluster://h:٦٣٧٩", "bad port"),  # non-ASCII digits
        ("redis+cluster://::1:6379", "IPv6 address goes in brackets"),
        ("redis+cluster://[::1:6379", "bad IPv6 address"),
        ("redis+cluster://[::1]6379", "bad IPv6 address"),
        ("redis+cluster://[nothex]:6379", "bad IPv6 address"),
        ("redis+cluster://[::1]:0", "bad port"),
        ("redis+cluster://ho st:1", "bad host"),
        ("redis+cluster://hôst:1", "bad host"),
        ("redis+cluster://-h:1", "bad host"),
        ("redis+cluster://h:1/1", "only database 0"),
        ("redis+cluster://h:1?ssl=true", "query strings"),
        ("redis+cluster://h:1#frag", "query strings"),
        ("redis+sentinel://h:1", "service name"),
        ("redis+sentinel://h:1/", "service name"),
        ("redis+sentinel://h:1//0", "service name"),
        ("redis+sentinel://h:1/my master", "bad service name"),
        ("redis+sentinel://h:1/svc/x", "bad database"),
        ("redis+sentinel://h:1/svc/-1", "bad database"),
        ("redis+sentinel://h:1/svc/99999999999", "bad database"),
        ("redis+sentinel://h:1/svc/0/extra", "bad database"),
        ("redis://h:0/0", "bad port"),
        ("redis://h:70000/0", "bad port"),
        ("rediss://h:port/0", "bad port"),
    ],
)
def test_malformed_urls_say_what_was_expected(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as raised:
        parse_redis_url(url)
    message = str(raised.value)
    assert "://" in message  # names the scheme or form expected


@pytest.mark.parametrize(
    "url",
    [
        f"redis+cluster://:{SECRET}@h:0",
        f"redis+cluster://:{SECRET}@",
        # no colon: neither user:password nor :password
        f"redis+cluster://{SECRET.replace(':', '')}@h:1",
        f"redis+sentinel://:{SECRET}@h:1",
        f"redis+sentinel://:{SECRET}@h:1/svc/x",
        f"redis://:{SECRET}@h:70000/0",
        f"redis://:{SECRET}@h:0/0",
        f"redis+clusterr://:{SECRET}@h:1",
    ],
)
def test_errors_never_repeat_the_password(url: str) -> None:
    with pytest.raises(ValueError, match="://") as raised:
        parse_redis_url(url)
    for part in ("s3cr", "p@ss", "w?rd"):
        assert part not in str(raised.value)
