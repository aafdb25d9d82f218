"""Stream servers whose connection cap is enforced where connections are accepted (issue 15).

asyncio's own servers accept up to a listen backlog (100) of connections per wake-up and hand
each to its callback several loop iterations later (a task makes the transport, the transport
schedules connection_made, that schedules the client's task); a callback that refuses a
connection over the cap closes it only then. Under a burst of garbage connections the daemon
therefore held several hundred sockets at once (measured: 229 beyond its 32 control clients,
with 1,000 connections), each one a file descriptor against its limit.

Here the listening socket is read directly (`loop.add_reader`): a connection over the cap is
closed in the same callback that accepted it (the client reads the end of the stream), so
the sockets a server holds never exceed `max_clients` (+ its listening sockets). Accepting
fails with EMFILE/ENFILE (no descriptor left): accepting pauses for a second, as asyncio does,
instead of spinning on a readable socket.
"""
from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Awaitable, Callable

from keepalived_py.obs import slog

log = slog.get_logger("keepalived_py.obs.gate")

Client = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
ACCEPT_BATCH = 128          # connections taken per wake-up (the loop's other work goes on)
BACKLOG = 100


class CappedServer:
    """Serves `client(reader, writer)` on the listening `socks`, at most `max_clients` at
    once; the others are closed unread and counted in `refused`. `.sockets`, `.close()` and
    `await .wait_closed()` as asyncio.AbstractServer."""

    def __init__(self, socks: list[socket.socket], client: Client, max_clients: int,
                 limit: int = 65536, on_refused: Callable[[], None] | None = None) -> None:
        self.sockets = socks
        self.client = client
        self.max_clients = max_clients
        self.limit = limit
        self.on_refused = on_refused
        self.active = 0
        self.refused = 0
        self._loop = asyncio.get_running_loop()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        for s in socks:
            s.setblocking(False)
            self._loop.add_reader(s.fileno(), self._accept, s)

    def _accept(self, lsock: socket.socket) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _addr = lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.warning("obs.server.accept_paused", error=e.strerror)
                    self._loop.remove_reader(lsock.fileno())
                    self._loop.call_later(1.0, self._resume, lsock)
                return                      # (ECONNABORTED and the like: the next wake-up)
            if self.active >= self.max_clients:
                self.refused += 1
                if self.on_refused is not None:
                    self.on_refused()
                conn.close()
                continue
            conn.setblocking(False)
            self.active += 1
            task = self._loop.create_task(self._serve(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _resume(self, lsock: socket.socket) -> None:
        if not self._closed and lsock.fileno() >= 0:
            self._loop.add_reader(lsock.fileno(), self._accept, lsock)

    async def _serve(self, conn: socket.socket) -> None:
        try:
            try:
                if conn.family == socket.AF_UNIX:
                    reader, writer = await asyncio.open_unix_connection(sock=conn,
                                                                        limit=self.limit)
                else:
                    reader, writer = await asyncio.open_connection(sock=conn, limit=self.limit)
            except OSError as e:            # (the transport was not made: the socket is ours)
                log.debug("obs.server.client_failed", error=str(e))
                conn.close()
                return
            await self.client(reader, writer)
        finally:
            self.active -= 1

    def close(self) -> None:
        """Stop listening (connections being served finish on their own, as asyncio's)."""
        if self._closed:
            return
        self._closed = True
        for s in self.sockets:
            if s.fileno() >= 0:
                self._loop.remove_reader(s.fileno())
                s.close()

    async def wait_closed(self) -> None:
        return None


def listen_unix(path: str, backlog: int = BACKLOG) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(path)
        s.listen(backlog)
    except OSError:
        s.close()
        raise
    return s


def listen_tcp(host: str, port: int, backlog: int = BACKLOG) -> list[socket.socket]:
    """One listening socket per address `host` resolves to (IPv6 ones IPv6-only), as
    asyncio.start_server binds them."""
    socks: list[socket.socket] = []
    try:
        for family, kind, proto, _c, addr in socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE):
            s = socket.socket(family, kind, proto)
            socks.append(s)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind(addr)
            s.listen(backlog)
    except OSError:
        for s in socks:
            s.close()
        raise
    return socks
