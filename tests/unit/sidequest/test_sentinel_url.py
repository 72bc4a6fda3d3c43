"""redis+sentinel:// URLs: parsing, checking, redaction, and the client they build."""

from __future__ import annotations

import pytest
from redis.sentinel import SentinelConnectionPool

from sidequest import sentinel
from sidequest.config import build_settings
from sidequest.connection import check_url, connect, redact
from sidequest.errors import ConfigError


def test_a_full_url_gives_sentinels_service_db_and_both_credentials() -> None:
    parts = sentinel.parse(
        "redis+sentinel://app:s%40cret@10.0.0.1:26379,10.0.0.2:26380,[::1]:26381"
        "/jobs/3?sentinel_password=other&sentinel_username=watch"
    )
    assert parts.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26380), ("::1", 26381))
    assert (parts.service, parts.db) == ("jobs", 3)
    assert (parts.username, parts.password) == ("app", "s@cret")
    assert (parts.sentinel_username, parts.sentinel_password) == ("watch", "other")
    assert not parts.tls


def test_defaults_port_26379_db_0_and_no_credentials() -> None:
    parts = sentinel.parse("redis+sentinel://s1,s2/mymaster")
    assert parts.sentinels == (("s1", 26379), ("s2", 26379))
    assert (parts.service, parts.db, parts.username, parts.password) == ("mymaster", 0, None, None)


def test_rediss_sentinel_is_tls_with_the_certificate_options() -> None:
    parts = sentinel.parse(
        "rediss+sentinel://s1:26379/m?ssl_ca_certs=/ca.pem&ssl_cert_reqs=required"
    )
    assert parts.tls
    assert parts.tls_options == {"ssl_ca_certs": "/ca.pem", "ssl_cert_reqs": "required"}


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("redis+sentinel://s1:26379", "SOURCE names no service"),
        ("redis+sentinel://s1:26379/", "SOURCE names no service"),
        ("redis+sentinel://s1:port/m", "SOURCE: 's1:port' is not a sentinel host:port"),
        ("redis+sentinel://s1:70000/m", "SOURCE: 's1:70000' is not a sentinel host:port"),
        ("redis+sentinel://s1,,s2/m", "SOURCE: '' is not a sentinel host:port"),
        ("redis+sentinel://s1/m/x", "SOURCE: the path must be"),
        ("redis+sentinel://s1/m/0/1", "SOURCE: the path must be"),
        ("redis+sentinel://s1/m?db=2", "SOURCE: unknown option 'db'"),
        ("redis+sentinel://s1/m?ssl_ca_certs=/ca", "SOURCE: TLS options need rediss+sentinel"),
    ],
)
def test_check_url_refuses_a_broken_sentinel_url_naming_its_source(
    url: str, complaint: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        check_url(url, "SOURCE")
    assert str(raised.value).startswith(complaint)


def test_errors_and_logs_never_show_either_password() -> None:
    url = "redis+sentinel://app:secret@s1:1,s2:2/m/0?sentinel_password=other"
    assert redact(url) == "redis+sentinel://app:***@s1:1,s2:2/m/0?sentinel_password=***"
    with pytest.raises(ConfigError) as raised:
        check_url(url.replace("/m/0", "/m/x"), "SOURCE")
    assert "secret" not in str(raised.value) and "other" not in str(raised.value)


def test_the_worker_settings_take_a_sentinel_url() -> None:
    settings = build_settings(environ={"REDIS_URL": "redis+sentinel://s1:26379/m"})
    assert settings.redis_url == "redis+sentinel://s1:26379/m"


def test_connect_builds_a_master_client_without_touching_the_network() -> None:
    client = connect("rediss+sentinel://u:p@127.0.0.1:1/svc/2?ssl_cert_reqs=none")
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool) and pool.is_master
    assert pool.service_name == "svc"
    assert pool.connection_class is sentinel.FollowingSSLConnection
    assert pool.connection_kwargs["db"] == 2
    assert pool.connection_kwargs["password"] == "p"
    assert isinstance(pool.sentinel_manager, sentinel.MajoritySentinel)
