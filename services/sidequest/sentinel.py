"""Redis Sentinel URLs: a client that follows the master through failovers.

    redis+sentinel://[user:password@]host:port[,host:port...]/SERVICE_NAME[/DB][?options]
    rediss+sentinel://...   the same over TLS (to the sentinels and to the master)

The hosts are the sentinels; SERVICE_NAME is the name they monitor (`sentinel monitor
SERVICE_NAME ...`); the user and password are the master's (and its replicas'). Options:
- `sentinel_password`, `sentinel_username`: the sentinels' own credentials, when they
  have `requirepass` (Redis keeps them apart from the master's);
- `ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile`, `ssl_cert_reqs` with rediss+sentinel
  (as for rediss://), applied to the sentinels and the master alike.

How the client follows a failover (redis-py's `SentinelConnectionPool`):
- every new connection asks the sentinels for the master's address, and takes it only
  when a majority of the configured sentinels name the same master and see it up.
  redis-py takes the first sentinel's answer; but the sentinel leading a failover names
  the old master until the failover ends, and a cut-off master that comes back is still
  a master, writable, until the sentinels demote it (seconds later): clients that
  asked that sentinel wrote jobs there, and lost them at the demotion;
- a pool whose master changed drops its idle connections;
- a connection that lost its server reconnects through the sentinels, also when
  redis-py repeats a command on the same connection (the client's one retry): redis-py
  8.1 reconnects such a connection to its last address, so the retry of a write that
  got READONLY went to the demoted master again (FollowingConnection);
- a reply `READONLY` (we wrote to a demoted master, now a replica) closes the connection
  and raises CommandRefused, a ConnectionError, which the worker's loops and the
  client's one retry treat as any lost connection: the next connection asks the
  sentinels again, so the command goes to the new master instead of failing the job.
  It says the command did not run, so an enqueue is repeated too; after any other
  connection error it is not (connection.run_at_most_once);
- while no sentinel names a master (during the election) a connect raises
  MasterNotFoundError, a ConnectionError too: the worker backs off and tries again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import redis
from redis.connection import SSLConnection
from redis.exceptions import ReadOnlyError
from redis.sentinel import MasterNotFoundError, Sentinel, SentinelManagedConnection

from sidequest.errors import ConfigError

SCHEMES = ("redis+sentinel", "rediss+sentinel")

#: options that go to the sentinels, not to the master
_SENTINEL_OPTIONS = ("sentinel_password", "sentinel_username")
_TLS_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs")


@dataclass(frozen=True)
class SentinelUrl:
    """A parsed redis+sentinel:// URL."""

    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None
    tls: bool = False
    tls_options: dict[str, str] = field(default_factory=dict)


def is_sentinel(url: str) -> bool:
    return url.partition("://")[0].lower() in SCHEMES


def parse(url: str, source: str = "REDIS_URL") -> SentinelUrl:
    """The parts of a sentinel URL.

    Raises:
        ConfigError: naming `source`, for a URL without sentinels, service name, a port
            that is no number, a DB that is no whole number, or an unknown option.
    """
    scheme, _, rest = url.partition("://")
    rest, _, query = rest.partition("?")
    userinfo, at, hostpart = rest.rpartition("@")
    if not at:
        userinfo, hostpart = "", rest
    hosts, _, path = hostpart.partition("/")
    sentinels: list[tuple[str, int]] = []
    for entry in hosts.split(","):
        host, colon, port = entry.strip().rpartition(":")
        if not colon:
            host, port = entry.strip(), "26379"
        host = host.strip("[]")
        if not host or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(
                f"{source}: {entry.strip()!r} is not a sentinel host:port ({_redacted(url)!r})"
            )
        sentinels.append((host, int(port)))
    segments = [unquote(part) for part in path.split("/") if part]
    if not segments:
        raise ConfigError(
            f"{source} names no service: write {scheme}://host:port/SERVICE_NAME "
            f"({_redacted(url)!r})"
        )
    if len(segments) > 2 or (len(segments) == 2 and not segments[1].isdigit()):
        raise ConfigError(
            f"{source}: the path must be /SERVICE_NAME or /SERVICE_NAME/DB ({_redacted(url)!r})"
        )
    username, _, password = userinfo.partition(":")
    options = dict(parse_qsl(query, keep_blank_values=True))
    unknown = sorted(set(options) - {*_SENTINEL_OPTIONS, *_TLS_OPTIONS})
    if unknown:
        raise ConfigError(
            f"{source}: unknown option {unknown[0]!r} in a sentinel URL (known: "
            f"{', '.join((*_SENTINEL_OPTIONS, *_TLS_OPTIONS))}) ({_redacted(url)!r})"
        )
    tls = scheme.lower() == "rediss+sentinel"
    tls_options = {name: options[name] for name in _TLS_OPTIONS if name in options}
    if tls_options and not tls:
        raise ConfigError(f"{source}: TLS options need rediss+sentinel:// ({_redacted(url)!r})")
    return SentinelUrl(
        sentinels=tuple(sentinels),
        service=segments[0],
        db=int(segments[1]) if len(segments) == 2 else 0,
        username=unquote(username) or None,
        password=unquote(password) if password else None,
        sentinel_username=options.get("sentinel_username") or None,
        sentinel_password=options.get("sentinel_password") or None,
        tls=tls,
        tls_options=tls_options,
    )


class CommandRefused(redis.ConnectionError):
    """The server refused the command without running it (READONLY from a master the
    sentinels demoted): the connection is dropped, and repeating the command elsewhere
    cannot run it twice."""


class FollowingConnection(SentinelManagedConnection):
    """A master connection that asks the sentinels again whenever it reconnects."""

    _address_fresh = False

    def connect_to(self, address: tuple[str, int]) -> None:
        # Called with the address the sentinels just gave: no need to ask them twice.
        self._address_fresh = True
        super().connect_to(address)  # type: ignore[no-untyped-call]

    def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if not self._sock and not self._address_fresh and self.connection_pool.is_master:
            self.host, self.port = self.connection_pool.get_master_address()
        self._address_fresh = False
        super().connect_check_health(
            check_health=check_health, retry_socket_connect=retry_socket_connect
        )

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        # SentinelManagedConnection turns READONLY into a plain ConnectionError, which
        # looks like a lost reply; ours says the command did not run, so that even an
        # enqueue (connection.run_at_most_once) is repeated on the new master.
        try:
            return super(SentinelManagedConnection, self).read_response(*args, **kwargs)
        except ReadOnlyError:
            if not self.connection_pool.is_master:
                raise
            self.disconnect()  # type: ignore[no-untyped-call]
            raise CommandRefused("The previous master is now a slave") from None


class FollowingSSLConnection(FollowingConnection, SSLConnection):
    pass


class MajoritySentinel(Sentinel):
    """Names the master a majority of the sentinels agree on (see the module's text)."""

    def discover_master(self, service_name: str) -> tuple[str, int]:
        votes: Counter[tuple[str, int]] = Counter()
        problems: list[str] = []
        for sentinel in self.sentinels:
            try:
                masters = sentinel.sentinel_masters()
            except (redis.ConnectionError, redis.TimeoutError) as error:
                problems.append(f"{sentinel}: {error!r}")
                continue
            state = masters.get(service_name) if isinstance(masters, dict) else None
            if state and self.check_master_state(state, service_name):  # type: ignore[no-untyped-call]
                votes[(str(state["ip"]), int(state["port"]))] += 1
        if votes:
            address, count = votes.most_common(1)[0]
            if count * 2 > len(self.sentinels):
                return address
        raise MasterNotFoundError(
            f"no master of {service_name!r} named by a majority of the "
            f"{len(self.sentinels)} sentinels (votes: {dict(votes) or 'none'})"
            + (f"; {'; '.join(problems)}" if problems else "")
        )


def master_client(
    url: str,
    *,
    source: str = "REDIS_URL",
    socket_timeout: float | None,
    connection: dict[str, Any],
) -> redis.Redis:
    """A client of the service's current master, re-resolved on every new connection.

    Args:
        connection: the keyword arguments connect() gives every Redis connection
            (timeouts, keepalive, retry, max_connections).
    """
    parts = parse(url, source)
    tls: dict[str, Any] = {}
    if parts.tls:
        tls = {"ssl": True, **parts.tls_options}
    sentinel_kwargs: dict[str, Any] = {
        "socket_timeout": min(socket_timeout or 1.0, 1.0),
        "socket_connect_timeout": 1.0,
        "username": parts.sentinel_username,
        "password": parts.sentinel_password,
        **tls,
    }
    manager = MajoritySentinel(list(parts.sentinels), sentinel_kwargs=sentinel_kwargs)  # type: ignore[no-untyped-call]
    client: redis.Redis = manager.master_for(  # type: ignore[no-untyped-call]
        parts.service,
        socket_timeout=socket_timeout,
        db=parts.db,
        username=parts.username,
        password=parts.password,
        connection_class=FollowingSSLConnection if parts.tls else FollowingConnection,
        **tls,
        **connection,
    )
    return client


def _redacted(url: str) -> str:
    from sidequest.connection import redact  # noqa: PLC0415 - connection imports this module

    return redact(url)
