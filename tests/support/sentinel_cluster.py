"""A Redis Sentinel deployment on loopback: a master, replicas and sentinels.

    cluster = SentinelCluster(tmp_path, proxied=True).start()
    cluster.url                     # redis+sentinel://127.0.0.1:p1,.../sidequest/0
    cluster.kill_master()           # SIGKILL; cluster.wait_for_failover() -> new master
    cluster.proxy.stall()           # with proxied=True: cut the master off the network

Every server is a real redis-server / redis-sentinel (Debian's packages) on a port of
its own. With `proxied`, everyone (clients, replicas, sentinels) reaches the master
through a TcpProxy, as they would cross a network, so a test can partition the master
without killing it; the sentinels then know the master by the proxy's address, and
when the partition heals they turn the old master into a replica through it.

Sentinels are tuned for tests: down after 1 s, failover timeout 4 s, so a failover
completes in about 2-4 s instead of the default 30 s and more.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from tests.support.polling import wait_for
from tests.support.ports import free_ports
from tests.support.redis_server import RedisServer
from tests.support.tcp_proxy import TcpProxy

SERVICE = "sidequest"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 4000
_NO_SYNC_DELAY = ["--repl-diskless-sync-delay", "0"]


class Sentinel:
    """One redis-sentinel process with its own (rewritable) config file."""

    def __init__(self, directory: Path, port: int, master: tuple[str, int]):
        binary = shutil.which("redis-sentinel")
        if binary is None:
            raise RuntimeError(
                "redis-sentinel is not installed: run `make test` (it installs the Debian "
                "package redis-sentinel) or `apt-get install redis-sentinel`"
            )
        self.binary = binary
        self.directory = directory
        self.port = port
        self.master = master
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / "sentinel.conf"
        host, port = self.master
        config.write_text(
            f"port {self.port}\n"
            "bind 127.0.0.1\n"
            f"dir {self.directory}\n"
            f"logfile {self.directory / 'sentinel.log'}\n"
            f"sentinel monitor {SERVICE} {host} {port} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {SERVICE} 2\n"
        )
        self.process = subprocess.Popen(
            [self.binary, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2, socket_timeout=1)
        try:
            wait_for(lambda: _pings(client), timeout=10, message=f"sentinel on {self.port}")
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def master_address(self) -> tuple[str, int] | None:
        client = redis.Redis(port=self.port, socket_timeout=1, decode_responses=True)
        try:
            reply = client.sentinel_get_master_addr_by_name(SERVICE)
        except redis.RedisError:
            return None
        finally:
            client.close()
        return (str(reply[0]), int(reply[1])) if reply else None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


class SentinelCluster:
    """A master, `replicas` replicas and `sentinels` sentinels (quorum 2)."""

    def __init__(
        self, directory: Path, *, replicas: int = 2, sentinels: int = 3, proxied: bool = False
    ):
        self.directory = directory
        # A replica's full sync waits 5 s by default, for more replicas to share it.
        self.master = RedisServer(directory / "master", appendonly=True, extra=_NO_SYNC_DELAY)
        self.proxy: TcpProxy | None = TcpProxy(self.master.port, nodelay=True) if proxied else None
        self.servers = [self.master]
        for index in range(replicas):
            self.servers.append(RedisServer(directory / f"replica{index}", appendonly=True))
        self.sentinels = [
            Sentinel(directory / f"sentinel{index}", port, self.master_address)
            for index, port in enumerate(free_ports(sentinels))
        ]

    @property
    def master_address(self) -> tuple[str, int]:
        """How everyone reaches the first master: directly, or through the proxy."""
        port = self.proxy.port if self.proxy is not None else self.master.port
        return ("127.0.0.1", port)

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{sentinel.port}" for sentinel in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def start(self) -> SentinelCluster:
        if self.proxy is not None:
            self.proxy.start()
        self.master.start()
        host, port = self.master_address
        for replica in self.servers[1:]:
            replica.extra = [*_NO_SYNC_DELAY, "--replicaof", host, str(port)]
            replica.start()
        wait_for(
            lambda: self.connected_replicas(self.master) == len(self.servers) - 1,
            timeout=10,
            message="every replica in sync with the master",
        )
        for sentinel in self.sentinels:
            sentinel.start()
        # Each sentinel must know the others (hello messages every 2 s) before a failover
        # can win a majority.
        wait_for(self._sentinels_know_each_other, timeout=15, message="sentinels to meet")
        return self

    def _sentinels_know_each_other(self) -> bool:
        for sentinel in self.sentinels:
            client = redis.Redis(port=sentinel.port, socket_timeout=1, decode_responses=True)
            try:
                fields = client.sentinel_master(SERVICE)
            except redis.RedisError:
                return False
            finally:
                client.close()
            if int(fields["num-other-sentinels"]) < len(self.sentinels) - 1:
                return False
            if int(fields["num-slaves"]) < len(self.servers) - 1:
                return False
        return True

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        for server in self.servers:
            if server.process is not None:
                server.stop(kill=True)
        if self.proxy is not None:
            self.proxy.stop()

    # -- what the sentinels and servers say ------------------------------------------

    @staticmethod
    def connected_replicas(server: RedisServer) -> int:
        """Replicas in sync (state online) with `server`."""
        client = redis.Redis(port=server.port, socket_timeout=1, decode_responses=True)
        try:
            info = client.info("replication")
            return sum(
                1
                for name, value in info.items()
                if name.startswith("slave")
                and isinstance(value, dict)
                and value.get("state") == "online"
            )
        except redis.RedisError:
            return 0
        finally:
            client.close()

    @staticmethod
    def role(server: RedisServer) -> str:
        client = redis.Redis(port=server.port, socket_timeout=1, decode_responses=True)
        try:
            return str(client.info("replication")["role"])
        except redis.RedisError:
            return "down"
        finally:
            client.close()

    def current_master(self) -> tuple[str, int] | None:
        """The address a majority of the sentinels name as master."""
        addresses = [sentinel.master_address() for sentinel in self.sentinels]
        for address in addresses:
            if address is not None and addresses.count(address) * 2 > len(addresses):
                return address
        return None

    def server_at(self, address: tuple[str, int]) -> RedisServer:
        if self.proxy is not None and address[1] == self.proxy.port:
            return self.master
        return next(server for server in self.servers if server.port == address[1])

    def wait_for_failover(self, timeout: float = 20.0) -> RedisServer:
        """The new master, once a majority of sentinels name one other than the first
        and it answers as a master."""
        first = self.master_address

        def promoted() -> RedisServer | None:
            address = self.current_master()
            if address is None or address == first:
                return None
            server = self.server_at(address)
            return server if self.role(server) == "master" else None

        server = wait_for(promoted, timeout=timeout, interval=0.05, message="a failover")
        assert server is not None
        return server

    def kill_master(self) -> float:
        """SIGKILL the first master; returns when (time.time())."""
        at = time.time()
        self.master.stop(kill=True)
        return at
