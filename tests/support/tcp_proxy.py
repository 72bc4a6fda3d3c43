"""A TCP proxy between a client (a worker process) and a server (Redis) that a test can cut.

    proxy = TcpProxy(redis_port).start()
    worker = WorkerProcess(f"redis://127.0.0.1:{proxy.port}/0", ...)
    proxy.stall()   # a partition: nothing flows either way, connections stay open
    proxy.heal()    # the partition ends: what was held is delivered, late
    proxy.reset()   # every connection is reset and what was held is dropped
    proxy.delay = 0.05                      # add latency to every chunk, each way
    proxy.when_sent(b"PING", callback)      # call once when a client sends this

Two kinds of cut, because real networks fail both ways:
- `stall` is a partition that TCP survives: bytes sent during it are held (TCP would
  retransmit them) and arrive after `heal`, possibly after the client gave up on them.
  A command can therefore run on the server long after its sender timed out.
- `reset` is a middlebox or host dropping the connections: both ends see a reset, the
  bytes in flight are lost, and new connections are refused until `heal`.

One thread accepts; each connection has a pump thread per direction. Pumps keep
reading during a stall (so `held()` shows what the client tried to send) and deliver
in order after it.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from types import TracebackType

FORWARD, STALL, RESET = "forward", "stall", "reset"


class _Link:
    """One proxied connection: the client socket, the upstream socket, held bytes."""

    def __init__(self, client: socket.socket, upstream: socket.socket):
        self.client = client
        self.upstream = upstream
        self.lock = threading.Lock()
        self.held = {"up": bytearray(), "down": bytearray()}
        self.eof = {"up": False, "down": False}
        self.closed = False

    def target(self, direction: str) -> socket.socket:
        return self.upstream if direction == "up" else self.client

    def flush(self, direction: str) -> None:
        """Deliver held bytes (caller holds the lock); close on a delivered EOF."""
        data = self.held[direction]
        if data and not self.closed:
            try:
                self.target(direction).sendall(bytes(data))
            except OSError:
                self.close(abort=True)
        data.clear()
        if self.eof[direction]:
            self.close(abort=False)

    def close(self, *, abort: bool) -> None:
        if self.closed:
            return
        self.closed = True
        for sock in (self.client, self.upstream):
            _close(sock, abort=abort)
        for direction in self.held:
            self.held[direction].clear()


def _close(sock: socket.socket, *, abort: bool) -> None:
    # shutdown wakes our own pump blocked in recv() on this socket (close alone does not);
    # SHUT_RD sends nothing, so an abort still goes out as a reset.
    try:
        if abort:
            # SO_LINGER 0: close sends RST instead of FIN, as a dropped connection does.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD if abort else socket.SHUT_RDWR)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sock.close()


class TcpProxy:
    """Listens on 127.0.0.1:`port` and forwards every connection to `upstream_port`."""

    def __init__(
        self, upstream_port: int, upstream_host: str = "127.0.0.1", *, nodelay: bool = False
    ):
        self.upstream = (upstream_host, upstream_port)
        #: TCP_NODELAY on both sides, as Redis and redis-py set it: without it, a request
        #: and reply relayed in small writes meet Nagle and delayed ACKs (~40 ms each)
        self.nodelay = nodelay
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._state = FORWARD
        self._lock = threading.Lock()
        self._links: list[_Link] = []
        self._stopped = False
        #: seconds every chunk waits before it is forwarded (latency, each direction)
        self.delay = 0.0
        self._triggers: list[tuple[bytes, Callable[[], None]]] = []
        self._reply_triggers: list[tuple[bytes, Callable[[], None]]] = []
        self._acceptor = threading.Thread(target=self._accept, name="tcp-proxy-accept", daemon=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def state(self) -> str:
        return self._state

    def start(self) -> TcpProxy:
        self._acceptor.start()
        return self

    def stop(self) -> None:
        self._stopped = True
        self._listener.close()
        self.reset()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the faults ---------------------------------------------------------------------

    def stall(self) -> None:
        """Stop every byte in both directions; connections stay open."""
        with self._lock:
            self._state = STALL

    def reset(self) -> None:
        """Reset every connection, drop held bytes, refuse new connections until heal()."""
        self._abort_links(RESET)

    def drop_connections(self) -> None:
        """Reset every connection and drop its held bytes, and go on forwarding: a new
        connection gets through at once, as to a new master after a failover. (reset()
        then heal() would refuse one that arrives between the two calls.)"""
        self._abort_links(FORWARD)

    def _abort_links(self, state: str) -> None:
        """Enter `state` and reset every connection, dropping the bytes it holds."""
        with self._lock:
            self._state = state
            links, self._links = self._links, []
        for link in links:
            with link.lock:
                link.close(abort=True)

    def heal(self) -> None:
        """Forward again; bytes held during a stall are delivered now, in order."""
        with self._lock:
            self._state = FORWARD
            links = list(self._links)
        for link in links:
            with link.lock:
                for direction in ("up", "down"):
                    link.flush(direction)

    def when_sent(self, pattern: bytes, callback: Callable[[], None]) -> None:
        """Call `callback` (in a pump thread) the next time a client sends `pattern`.

        It runs as the bytes reach the proxy, before they are forwarded: a test can act
        at the exact moment a worker issues a given command.
        """
        with self._lock:
            self._triggers.append((pattern, callback))

    def when_received(self, pattern: bytes, callback: Callable[[], None]) -> None:
        """Call `callback` (in a pump thread) the next time the server sends `pattern`.

        It runs before the reply is forwarded: a test can act after Redis did something
        and before the client hears of it.
        """
        with self._lock:
            self._reply_triggers.append((pattern, callback))

    def _fire(self, data: bytes, direction: str = "up") -> None:
        with self._lock:
            triggers = self._triggers if direction == "up" else self._reply_triggers
            fired = [trigger for trigger in triggers if trigger[0] in data]
            remaining = [trigger for trigger in triggers if trigger not in fired]
            if direction == "up":
                self._triggers = remaining
            else:
                self._reply_triggers = remaining
        for _, callback in fired:
            callback()

    def held(self) -> bytes:
        """Everything clients sent that a stall is holding back."""
        with self._lock:
            links = list(self._links)
        return b"".join(bytes(link.held["up"]) for link in links)

    def connections(self) -> int:
        with self._lock:
            self._links = [link for link in self._links if not link.closed]
            return len(self._links)

    # -- threads ------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._state == RESET:
                _close(client, abort=True)
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                # The server is down: the client sees its connection closed, as it would.
                client.close()
                continue
            if self.nodelay:
                for sock in (client, upstream):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link = _Link(client, upstream)
            with self._lock:
                self._links.append(link)
            for direction, source in (("up", client), ("down", upstream)):
                threading.Thread(
                    target=self._pump,
                    args=(link, source, direction),
                    name=f"tcp-proxy-{direction}",
                    daemon=True,
                ).start()

    def _pump(self, link: _Link, source: socket.socket, direction: str) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if data and direction == "up" and self._triggers:
                self._fire(data)
            if data and direction == "down" and self._reply_triggers:
                self._fire(data, "down")
            if data and self.delay:
                time.sleep(self.delay)
            with link.lock:
                if link.closed:
                    return
                if data:
                    link.held[direction] += data
                else:
                    link.eof[direction] = True
                if self._state == FORWARD:
                    link.flush(direction)
                if not data:
                    return
