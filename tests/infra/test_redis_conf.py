"""infra/redis/redis.conf: a real redis-server starts from it with the settings we rely on."""

from __future__ import annotations

import subprocess
from pathlib import Path

import redis

from tests.infra.conftest import REPO
from tests.support.polling import wait_for
from tests.support.ports import free_port

CONF = REPO / "infra/redis/redis.conf"


def test_redis_server_accepts_the_config(redis_server_binary: Path, tmp_path: Path) -> None:
    port = free_port()
    # Arguments after the file override it: loopback, a free port, a temporary dir.
    process = subprocess.Popen(
        [
            str(redis_server_binary),
            str(CONF),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(tmp_path),
            "--logfile",
            str(tmp_path / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, decode_responses=True, socket_connect_timeout=0.5)
    try:

        def ready() -> bool:
            assert process.poll() is None, (tmp_path / "redis.log").read_text()
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_for(ready, timeout=10, message="redis-server from infra/redis/redis.conf")
        settings: dict[str, str] = {}
        for name in ("appendonly", "appendfsync", "maxmemory-policy", "maxmemory"):
            settings.update({str(k): str(v) for k, v in client.config_get(name).items()})
        assert settings["appendonly"] == "yes"
        assert settings["appendfsync"] == "everysec"
        assert settings["maxmemory-policy"] == "noeviction"
        assert int(settings["maxmemory"]) > 0, "noeviction only bites with a memory limit"
        client.set("probe", "1")
        wait_for(lambda: any(tmp_path.rglob("*.aof")), timeout=5, message="an AOF file")
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)
